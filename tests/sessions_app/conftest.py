"""The sessions' world: the student of tenant A holds 15 h, 10 h of which a relationship paired
30 days ago holds."""

import pytest

from relationships.models import Relationship
from tests.support import Tenant, paired, past_grant


@pytest.fixture
def grant(tenant_a: Tenant):  # type: ignore[no-untyped-def]
    return past_grant(tenant_a.student, 900)


@pytest.fixture
def rel(tenant_a: Tenant, grant) -> Relationship:  # type: ignore[no-untyped-def]
    """Paired 30 days ago, holding 10 h of the student's 15 h."""
    return paired(tenant_a, quantity=600)
