"""Proposing a relationship (DESIGN §4): holds, refusals, conflicts, idempotency."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from grants.models import Allocation, GrantEntry
from grants.reconcile import find_differences
from grants.services import AlreadyApplied, InsufficientHours
from matchpal.errors import ConflictError
from providers.models import ProviderStatus
from relationships import services
from relationships.models import Relationship, RelationshipStatusChange
from relationships.selectors import allocated
from relationships.services import RelationshipError
from students.models import StudentStatus
from tests.relationships.lifecycle.support import HOLD, history
from tests.support import (
    NOW,
    Tenant,
    balance,
    entries,
    holds,
    mails,
    member,
    other_provider,
    pair,
    past_grant,
    propose,
    service_type,
    set_policy,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("clock")]


def test_the_clock_is_pinned_before_rows_are_written(tenant_a: Tenant) -> None:
    assert timezone.now() == NOW
    assert tenant_a.organization.created_at == NOW


def test_propose_holds_at_once_soonest_expiry_first(
    tenant_a: Tenant, django_capture_on_commit_callbacks, mailoutbox
) -> None:
    org, student, provider = tenant_a.organization, tenant_a.student, tenant_a.provider
    later = past_grant(student, 600)
    sooner = past_grant(student, 300, expires_at=NOW + timedelta(days=10))
    advising_only = past_grant(student, 900, service_types=("Advising",))

    with django_capture_on_commit_callbacks(execute=True):
        rel = propose(tenant_a, quantity=420, client_rate=Decimal("55.00"))

    rel.refresh_from_db()
    assert rel.status == "proposed"
    assert rel.unit == "minutes"
    assert rel.proposed_by == tenant_a.admin
    assert rel.respond_by == NOW + timedelta(days=7)
    assert rel.provider_pay_rate == Decimal("35.00")  # the provider's default rate
    assert rel.client_rate == Decimal("55.00")
    assert rel.paired_at is None
    assert balance(sooner) == (300, 0, 300)
    assert balance(later) == (600, 0, 120)
    assert balance(advising_only) == (900, 0, 0)
    assert holds(rel) == sorted([(sooner.pk, 300, 0), (later.pk, 120, 0)])
    assert entries(relationship=rel) == [(HOLD, 0, 0, 300), (HOLD, 0, 0, 120)]
    assert set(GrantEntry.objects.filter(relationship=rel).values_list("actor", "reason")) == {
        (tenant_a.admin.pk, "Proposal")
    }
    assert history(rel) == [("", "proposed", tenant_a.admin, "Proposed")]
    assert allocated(rel) == {"held": 420, "consumed": 0, "allocated": 420}
    assert mails(mailoutbox) == [
        (
            "[Matchpal] New tutoring proposal: " + student.name,
            f"{org.name} proposes that you work with {student.name} (Tutoring, 7 h). Please "
            f"accept or decline by Jun 18.",
            [provider.email],
        ),
        (
            # Proposed, not yet paired: the student is not told they are matched.
            f"[Matchpal] {provider.name} is proposed for your tutoring",
            f"{org.name} has proposed {provider.name} for {student.name}'s tutoring; 7 h are "
            f"reserved for it. This is a proposal, not yet a pairing: you will hear from us when "
            f"{provider.name} accepts.",
            sorted([student.email, student.guardian_email]),
        ),
    ]
    assert find_differences() == []


def test_propose_takes_the_pay_rate_given_and_the_response_window_of_the_center(
    tenant_a: Tenant,
) -> None:
    past_grant(tenant_a.student, 600)
    set_policy(tenant_a.organization, proposal_response_days=3)
    rel = propose(tenant_a, quantity=60, provider_pay_rate=Decimal("42.50"))
    assert rel.provider_pay_rate == Decimal("42.50")
    assert rel.respond_by == NOW + timedelta(days=3)
    assert find_differences() == []


def test_propose_refused_with_the_shortfall_and_nothing_created(
    tenant_a: Tenant, django_capture_on_commit_callbacks, mailoutbox
) -> None:
    grant = past_grant(tenant_a.student, 300)
    past_grant(tenant_a.student, 600, service_types=("Advising",))  # another service: no help

    with (
        django_capture_on_commit_callbacks(execute=True),
        pytest.raises(InsufficientHours) as refused,
    ):
        propose(tenant_a, quantity=420)

    assert refused.value.message == (
        "Only 5 h are free to book for this service; reserving 7 h needs 2 h more."
    )
    assert refused.value.shortfall == 120
    assert not Relationship.objects.exists()
    assert not RelationshipStatusChange.objects.exists()
    assert not Allocation.objects.exists()
    assert balance(grant) == (300, 0, 0)
    assert entries(kind=HOLD) == []
    assert mailoutbox == []
    assert find_differences() == []


def test_propose_counts_only_what_other_relationships_do_not_hold(tenant_a: Tenant) -> None:
    grant = past_grant(tenant_a.student, 600)
    _, second = other_provider(tenant_a)
    propose(tenant_a, quantity=500)
    with pytest.raises(InsufficientHours) as refused:
        propose(tenant_a, quantity=120, provider=second)
    assert refused.value.message == (
        "Only 1 h 40 min are free to book for this service; reserving 2 h needs 20 min more."
    )
    assert balance(grant) == (600, 0, 500)
    assert find_differences() == []


@pytest.mark.parametrize("case", ["student", "provider"])
def test_propose_refuses_an_inactive_record(tenant_a: Tenant, case: str) -> None:
    grant = past_grant(tenant_a.student, 600)
    if case == "student":
        tenant_a.student.status = StudentStatus.INACTIVE
        tenant_a.student.save()
        name = tenant_a.student.name
    else:
        tenant_a.provider.status = ProviderStatus.INACTIVE
        tenant_a.provider.save()
        name = tenant_a.provider.name
    with pytest.raises(RelationshipError) as refused:
        propose(tenant_a, quantity=60)
    assert refused.value.message == f"{name} is inactive."
    assert not Relationship.objects.exists()
    assert balance(grant) == (600, 0, 0)


def test_propose_refuses_a_service_the_provider_does_not_offer(tenant_a: Tenant) -> None:
    grant = past_grant(tenant_a.student, 600, service_types=("Tutoring", "Advising"))
    with pytest.raises(RelationshipError) as refused:
        propose(tenant_a, quantity=60, service_type="Advising")
    assert refused.value.message == f"{tenant_a.provider.name} does not offer Advising."
    assert not Relationship.objects.exists()
    assert balance(grant) == (600, 0, 0)


@pytest.mark.parametrize("foreign", ["student", "provider", "service_type"])
def test_propose_refuses_a_record_of_another_organization(
    tenant_a: Tenant, tenant_b: Tenant, foreign: str
) -> None:
    org = tenant_a.organization
    past_grant(tenant_a.student, 600)
    past_grant(tenant_b.student, 600)
    chosen = {
        "student": tenant_a.student,
        "provider": tenant_a.provider,
        "service_type": service_type(org),
    }
    chosen[foreign] = {
        "student": tenant_b.student,
        "provider": tenant_b.provider,
        "service_type": service_type(tenant_b.organization),
    }[foreign]
    with pytest.raises(RelationshipError) as refused:
        services.relationship_propose(
            membership=member(tenant_a.admin), organization=org, quantity=60, **chosen
        )
    assert refused.value.message == "A record of another organization was chosen."
    assert not Relationship.objects.exists()
    assert not Allocation.objects.exists()


@pytest.mark.sqlite
def test_a_second_live_pairing_is_a_conflict(tenant_a: Tenant) -> None:
    grant = past_grant(tenant_a.student, 600)
    first = propose(tenant_a, quantity=120)
    message = (
        f"{tenant_a.student.name} and {tenant_a.provider.name} already have a live "
        "tutoring relationship."
    )
    with pytest.raises(ConflictError) as refused:
        propose(tenant_a, quantity=60)
    assert refused.value.message == message

    pair(tenant_a, first)
    with pytest.raises(ConflictError) as refused:
        propose(tenant_a, quantity=60)
    assert refused.value.message == message
    assert Relationship.objects.count() == 1
    assert balance(grant) == (600, 0, 120)

    # Once the first one ended, the same pairing can be proposed again.
    services.relationship_cancel(
        membership=member(tenant_a.admin), relationship=first, reason="Restart"
    )
    again = propose(tenant_a, quantity=60)
    assert again.status == "proposed"
    assert balance(grant) == (600, 0, 60)
    assert find_differences() == []


def test_the_same_proposal_key_applies_once(tenant_a: Tenant) -> None:
    grant = past_grant(tenant_a.student, 600)
    first = propose(tenant_a, quantity=120, idempotency_key="form:propose:abc")
    with pytest.raises(AlreadyApplied):
        propose(tenant_a, quantity=120, idempotency_key="form:propose:abc")
    # Even once the first pairing ended, the same key does not apply again.
    services.relationship_cancel(
        membership=member(tenant_a.admin), relationship=first, reason="Oops"
    )
    with pytest.raises(AlreadyApplied):
        propose(tenant_a, quantity=120, idempotency_key="form:propose:abc")
    assert list(Relationship.objects.values_list("pk", flat=True)) == [first.pk]
    assert balance(grant) == (600, 0, 0)
    assert find_differences() == []
