"""The ledger service tests: a student of tenant A, their relationships and grants; after every
test the balances still equal the ledger's sums."""

import pytest
from django.utils import timezone

from tests.factories import RelationshipFactory, make_grant
from tests.grants.ledger_support import assert_reconciled
from tests.grants.services.support import DAY


@pytest.fixture(autouse=True)
def _ledger_reconciles_after_each_test(db):  # type: ignore[no-untyped-def]
    """Whatever a test wrote (or was refused), the balances still equal the ledger's sums."""
    yield
    assert_reconciled()


@pytest.fixture
def org(tenant_a):  # type: ignore[no-untyped-def]
    return tenant_a.organization


@pytest.fixture
def student(tenant_a):  # type: ignore[no-untyped-def]
    return tenant_a.student


@pytest.fixture
def admin(tenant_a):  # type: ignore[no-untyped-def]
    return tenant_a.admin


@pytest.fixture
def rel(tenant_a):  # type: ignore[no-untyped-def]
    return RelationshipFactory(
        organization=tenant_a.organization, student=tenant_a.student, provider=tenant_a.provider
    )


@pytest.fixture
def rel2(tenant_a):  # type: ignore[no-untyped-def]
    """A second tutoring relationship of the same student, with another provider."""
    return RelationshipFactory(organization=tenant_a.organization, student=tenant_a.student)


@pytest.fixture
def three_grants(student):  # type: ignore[no-untyped-def]
    """Tutoring grants expiring in 10 days (60 min), in 30 days (100 min) and never (500 min),
    created in the opposite order of their expiry."""
    now = timezone.now()
    never = make_grant(student=student, minutes=500, reference="Never")
    later = make_grant(student=student, minutes=100, expires_at=now + 30 * DAY, reference="Later")
    sooner = make_grant(student=student, minutes=60, expires_at=now + 10 * DAY, reference="Sooner")
    return sooner, later, never
