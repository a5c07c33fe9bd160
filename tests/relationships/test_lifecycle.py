"""The relationship lifecycle (DESIGN §4, docs/sessions.md): services first, then pages."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from grants.models import Allocation, EntryKind, GrantEntry
from grants.reconcile import find_differences
from grants.services import AlreadyApplied, InsufficientHours
from matchpal.errors import ConflictError
from matchpal.models import Organization
from providers.models import ProviderStatus
from relationships import services
from relationships.models import Relationship, RelationshipStatusChange
from relationships.services import RelationshipError
from sessions_app import services as session_services
from students.models import StudentStatus
from tests.conftest import Tenant, client_for
from tests.factories import ProviderFactory, StudentFactory
from tests.relationships.support import (
    NOW,
    at,
    balance,
    entries,
    holds,
    mails,
    other_provider,
    pair,
    paired,
    past_grant,
    propose,
    service,
    set_policy,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("clock")]

HOLD, RELEASE, CONSUME = EntryKind.HOLD, EntryKind.RELEASE, EntryKind.CONSUME


def history(relationship: Relationship) -> list[tuple[str, str, object, str]]:
    return [
        (c.from_status, c.to_status, c.actor, c.reason)
        for c in RelationshipStatusChange.objects.filter(relationship=relationship)
    ]


# --- Propose ---------------------------------------------------------------------------------


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
    assert services.allocated(rel) == {"held": 420, "consumed": 0, "allocated": 420}
    assert mails(mailoutbox) == [
        (
            "[Matchpal] New tutoring proposal: " + student.name,
            f"{org.name} proposes that you work with {student.name} (Tutoring, 7 h). Please "
            f"accept or decline on Matchpal by Jun 18.",
            [provider.email],
        ),
        (
            f"[Matchpal] You are matched with {provider.name}",
            f"{org.name} has proposed {provider.name} for your tutoring; 7 h are reserved for "
            f"it. You will hear from us when {provider.name} accepts.",
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
        "service_type": service(org),
    }
    chosen[foreign] = {
        "student": tenant_b.student,
        "provider": tenant_b.provider,
        "service_type": service(tenant_b.organization),
    }[foreign]
    with pytest.raises(RelationshipError) as refused:
        services.relationship_propose(actor=tenant_a.admin, organization=org, quantity=60, **chosen)
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
    services.relationship_cancel(actor=tenant_a.admin, relationship=first, reason="Restart")
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
    services.relationship_cancel(actor=tenant_a.admin, relationship=first, reason="Oops")
    with pytest.raises(AlreadyApplied):
        propose(tenant_a, quantity=120, idempotency_key="form:propose:abc")
    assert list(Relationship.objects.values_list("pk", flat=True)) == [first.pk]
    assert balance(grant) == (600, 0, 0)
    assert find_differences() == []


# --- Accept, decline, cancel, complete ------------------------------------------------------


def test_the_provider_accepts_and_both_are_told(
    tenant_a: Tenant, django_capture_on_commit_callbacks, mailoutbox
) -> None:
    grant = past_grant(tenant_a.student, 600)
    rel = propose(tenant_a, quantity=300)
    with django_capture_on_commit_callbacks(execute=True):
        services.relationship_accept(actor=tenant_a.provider_user, relationship=rel)
    rel.refresh_from_db()
    provider, student = tenant_a.provider, tenant_a.student
    assert rel.status == "paired"
    assert rel.paired_at == NOW
    assert rel.ended_at is None
    assert history(rel) == [
        ("", "proposed", tenant_a.admin, "Proposed"),
        ("proposed", "paired", tenant_a.provider_user, "Accepted"),
    ]
    assert mails(mailoutbox) == [
        (
            f"[Matchpal] {provider.name} accepted",
            f"{provider.name} accepted to work with {student.name} (Tutoring).",
            sorted([student.email, provider.email]),
        )
    ]
    assert balance(grant) == (600, 0, 300)  # accepting moves no hours
    assert find_differences() == []


def test_an_admin_may_accept_on_the_providers_behalf(tenant_a: Tenant) -> None:
    past_grant(tenant_a.student, 600)
    rel = propose(tenant_a, quantity=60)
    services.relationship_accept(actor=tenant_a.admin, relationship=rel)
    rel.refresh_from_db()
    assert rel.status == "paired"
    assert history(rel)[-1] == ("proposed", "paired", tenant_a.admin, "Accepted")


@pytest.mark.parametrize("who", ["other_provider", "student"])
def test_nobody_else_may_accept_or_decline(tenant_a: Tenant, who: str) -> None:
    grant = past_grant(tenant_a.student, 600)
    rel = propose(tenant_a, quantity=60)
    actor = other_provider(tenant_a)[0] if who == "other_provider" else tenant_a.student_user
    with pytest.raises(RelationshipError) as refused:
        services.relationship_accept(actor=actor, relationship=rel)
    assert refused.value.message == "Only the provider of this proposal can accept it."
    with pytest.raises(RelationshipError) as refused:
        services.relationship_decline(actor=actor, relationship=rel, reason="No")
    assert refused.value.message == "Only the provider of this proposal can decline it."
    rel.refresh_from_db()
    assert rel.status == "proposed"
    assert len(history(rel)) == 1
    assert balance(grant) == (600, 0, 60)


def test_an_admin_of_another_organization_may_not_accept(
    tenant_a: Tenant, tenant_b: Tenant
) -> None:
    past_grant(tenant_a.student, 600)
    rel = propose(tenant_a, quantity=60)
    with pytest.raises(RelationshipError):
        services.relationship_accept(actor=tenant_b.admin, relationship=rel)
    rel.refresh_from_db()
    assert rel.status == "proposed"


def test_decline_with_a_reason_releases_every_hold_and_tells_the_student(
    tenant_a: Tenant, django_capture_on_commit_callbacks, mailoutbox
) -> None:
    student, provider = tenant_a.student, tenant_a.provider
    sooner = past_grant(student, 120, expires_at=NOW + timedelta(days=5))
    later = past_grant(student, 600)
    rel = propose(tenant_a, quantity=300)
    assert balance(sooner) == (120, 0, 120)
    assert balance(later) == (600, 0, 180)

    with django_capture_on_commit_callbacks(execute=True):
        services.relationship_decline(
            actor=tenant_a.provider_user, relationship=rel, reason="Fully booked this term"
        )
    rel.refresh_from_db()
    assert rel.status == "declined"
    assert rel.ended_at == NOW
    assert balance(sooner) == (120, 0, 0)
    assert balance(later) == (600, 0, 0)
    assert holds(rel) == sorted([(sooner.pk, 0, 0), (later.pk, 0, 0)])
    # The latest-expiring hold goes first.
    assert entries(relationship=rel, kind=RELEASE) == [(RELEASE, 0, 0, -180), (RELEASE, 0, 0, -120)]
    assert history(rel)[-1] == (
        "proposed",
        "declined",
        tenant_a.provider_user,
        "Fully booked this term",
    )
    assert mails(mailoutbox) == [
        (
            f"[Matchpal] {provider.name} declined",
            f"{provider.name} declined to work with {student.name}: Fully booked this term. "
            "The reserved hours are free to book again.",
            [student.email],
        )
    ]
    assert find_differences() == []


def test_decline_without_a_reason(
    tenant_a: Tenant, django_capture_on_commit_callbacks, mailoutbox
) -> None:
    grant = past_grant(tenant_a.student, 600)
    rel = propose(tenant_a, quantity=300)
    with django_capture_on_commit_callbacks(execute=True):
        services.relationship_decline(actor=tenant_a.provider_user, relationship=rel)
    assert balance(grant) == (600, 0, 0)
    assert history(rel)[-1] == ("proposed", "declined", tenant_a.provider_user, "Declined")
    assert [m.body for m in mailoutbox] == [
        f"{tenant_a.provider.name} declined to work with {tenant_a.student.name}. "
        "The reserved hours are free to book again."
    ]
    assert find_differences() == []


def test_cancel_needs_a_reason(tenant_a: Tenant) -> None:
    grant = past_grant(tenant_a.student, 600)
    rel = propose(tenant_a, quantity=300)
    for reason in ("", "   "):
        with pytest.raises(RelationshipError) as refused:
            services.relationship_cancel(actor=tenant_a.admin, relationship=rel, reason=reason)
        assert refused.value.message == "Give a reason for the cancellation."
    rel.refresh_from_db()
    assert rel.status == "proposed"
    assert balance(grant) == (600, 0, 300)
    assert len(history(rel)) == 1


def test_cancel_a_paired_relationship_releases_what_it_did_not_use(
    tenant_a: Tenant, django_capture_on_commit_callbacks, mailoutbox
) -> None:
    student, provider = tenant_a.student, tenant_a.provider
    grant = past_grant(student, 600)
    rel = paired(tenant_a, quantity=300)
    session_services.session_log(
        actor=tenant_a.provider_user, relationship=rel, starts_at=at(10, 15), duration=90
    )
    assert balance(grant) == (600, 90, 210)

    with django_capture_on_commit_callbacks(execute=True):
        services.relationship_cancel(actor=tenant_a.admin, relationship=rel, reason="Moved away")
    rel.refresh_from_db()
    assert rel.status == "cancelled"
    assert rel.ended_at == NOW
    assert balance(grant) == (600, 90, 0)
    assert holds(rel) == [(grant.pk, 0, 90)]
    assert entries(relationship=rel) == [
        (HOLD, 0, 0, 300),
        (CONSUME, 0, 90, -90),
        (RELEASE, 0, 0, -210),
    ]
    assert history(rel)[-1] == ("paired", "cancelled", tenant_a.admin, "Moved away")
    assert mails(mailoutbox) == [
        (
            "[Matchpal] Relationship cancelled",
            f"The tutoring relationship of {student.name} with {provider.name} was cancelled: "
            "Moved away",
            sorted([student.email, provider.email]),
        )
    ]
    assert find_differences() == []


def test_cancel_a_proposal(tenant_a: Tenant) -> None:
    grant = past_grant(tenant_a.student, 600)
    rel = propose(tenant_a, quantity=300)
    services.relationship_cancel(actor=tenant_a.admin, relationship=rel, reason="  Wrong tutor  ")
    rel.refresh_from_db()
    assert rel.status == "cancelled"
    assert balance(grant) == (600, 0, 0)
    assert history(rel)[-1] == ("proposed", "cancelled", tenant_a.admin, "Wrong tutor")
    assert find_differences() == []


def test_complete_releases_what_was_not_consumed(tenant_a: Tenant) -> None:
    grant = past_grant(tenant_a.student, 600)
    rel = paired(tenant_a, quantity=300)
    session_services.session_log(
        actor=tenant_a.provider_user, relationship=rel, starts_at=at(9, 16), duration=60
    )
    session_services.session_log(
        actor=tenant_a.provider_user, relationship=rel, starts_at=at(10, 16), duration=45
    )
    services.relationship_complete(actor=tenant_a.admin, relationship=rel)
    rel.refresh_from_db()
    assert rel.status == "completed"
    assert rel.ended_at == NOW
    assert balance(grant) == (600, 105, 0)
    assert holds(rel) == [(grant.pk, 0, 105)]
    assert entries(relationship=rel, kind=RELEASE) == [(RELEASE, 0, 0, -195)]
    assert history(rel)[-1] == ("paired", "completed", tenant_a.admin, "Completed")
    assert services.allocated(rel) == {"held": 0, "consumed": 105, "allocated": 105}
    assert find_differences() == []


def test_complete_with_everything_consumed_writes_no_release(tenant_a: Tenant) -> None:
    grant = past_grant(tenant_a.student, 600)
    rel = paired(tenant_a, quantity=60)
    session_services.session_log(
        actor=tenant_a.provider_user, relationship=rel, starts_at=at(10, 16), duration=60
    )
    services.relationship_complete(actor=tenant_a.admin, relationship=rel, reason="All done")
    assert entries(relationship=rel, kind=RELEASE) == []
    assert history(rel)[-1] == ("paired", "completed", tenant_a.admin, "All done")
    assert balance(grant) == (600, 60, 0)
    assert find_differences() == []


@pytest.mark.parametrize(
    ("start", "action", "message"),
    [
        ("declined", "accept", "This relationship is declined; it cannot become paired."),
        ("cancelled", "accept", "This relationship is cancelled; it cannot become paired."),
        ("paired", "accept", "This relationship is paired; it cannot become paired."),
        ("proposed", "complete", "This relationship is proposed; it cannot become completed."),
        ("paired", "decline", "This relationship is paired; it cannot become declined."),
        ("declined", "decline", "This relationship is declined; it cannot become declined."),
        ("completed", "cancel", "This relationship is completed; it cannot become cancelled."),
        ("cancelled", "cancel", "This relationship is cancelled; it cannot become cancelled."),
        ("completed", "complete", "This relationship is completed; it cannot become completed."),
        ("declined", "complete", "This relationship is declined; it cannot become completed."),
    ],
)
def test_illegal_transitions_are_refused(
    tenant_a: Tenant, start: str, action: str, message: str
) -> None:
    grant = past_grant(tenant_a.student, 600)
    rel = propose(tenant_a, quantity=120)
    admin = tenant_a.admin
    if start in ("paired", "completed"):
        pair(tenant_a, rel)
    if start == "completed":
        services.relationship_complete(actor=admin, relationship=rel)
    if start == "declined":
        services.relationship_decline(actor=tenant_a.provider_user, relationship=rel)
    if start == "cancelled":
        services.relationship_cancel(actor=admin, relationship=rel, reason="Stop")
    before_history, before_entries = history(rel), entries()
    before_balance = balance(grant)

    act = {
        "accept": lambda: services.relationship_accept(actor=admin, relationship=rel),
        "decline": lambda: services.relationship_decline(actor=admin, relationship=rel),
        "cancel": lambda: services.relationship_cancel(
            actor=admin, relationship=rel, reason="Again"
        ),
        "complete": lambda: services.relationship_complete(actor=admin, relationship=rel),
    }[action]
    with pytest.raises(ConflictError) as refused:
        act()
    assert refused.value.message == message
    rel.refresh_from_db()
    assert rel.status == start
    assert history(rel) == before_history
    assert entries() == before_entries
    assert balance(grant) == before_balance
    assert find_differences() == []


def test_every_change_is_in_the_history(tenant_a: Tenant) -> None:
    past_grant(tenant_a.student, 600)
    rel = propose(tenant_a, quantity=120)
    services.relationship_accept(actor=tenant_a.provider_user, relationship=rel)
    services.relationship_cancel(actor=tenant_a.admin, relationship=rel, reason="Schedule")
    assert history(rel) == [
        ("", "proposed", tenant_a.admin, "Proposed"),
        ("proposed", "paired", tenant_a.provider_user, "Accepted"),
        ("paired", "cancelled", tenant_a.admin, "Schedule"),
    ]
    assert set(RelationshipStatusChange.objects.values_list("organization", "created_at")) == {
        (tenant_a.organization.pk, NOW)
    }


# --- Allocation ------------------------------------------------------------------------------


def test_raising_the_allocation_holds_more(tenant_a: Tenant) -> None:
    grant = past_grant(tenant_a.student, 600)
    rel = propose(tenant_a, quantity=300)
    services.relationship_change_allocation(
        actor=tenant_a.admin, relationship=rel, quantity=420, reason="More exams"
    )
    assert balance(grant) == (600, 0, 420)
    assert holds(rel) == [(grant.pk, 420, 0)]
    assert entries(relationship=rel) == [(HOLD, 0, 0, 300), (HOLD, 0, 0, 120)]
    assert GrantEntry.objects.filter(relationship=rel).last().reason == "More exams"
    assert find_differences() == []


def test_raising_beyond_the_balance_is_refused(tenant_a: Tenant) -> None:
    grant = past_grant(tenant_a.student, 600)
    rel = propose(tenant_a, quantity=300)
    with pytest.raises(InsufficientHours) as refused:
        services.relationship_change_allocation(
            actor=tenant_a.admin, relationship=rel, quantity=700
        )
    assert refused.value.message == (
        "Only 5 h are free to book for this service; reserving 6 h 40 min needs 1 h 40 min more."
    )
    assert balance(grant) == (600, 0, 300)
    assert find_differences() == []


def test_lowering_the_allocation_releases_and_never_below_what_is_consumed(
    tenant_a: Tenant,
) -> None:
    grant = past_grant(tenant_a.student, 600)
    rel = paired(tenant_a, quantity=300)
    session_services.session_log(
        actor=tenant_a.provider_user, relationship=rel, starts_at=at(10, 15), duration=90
    )
    assert balance(grant) == (600, 90, 210)

    services.relationship_change_allocation(actor=tenant_a.admin, relationship=rel, quantity=120)
    assert balance(grant) == (600, 90, 30)
    assert holds(rel) == [(grant.pk, 30, 90)]
    assert entries(relationship=rel, kind=RELEASE) == [(RELEASE, 0, 0, -180)]
    assert GrantEntry.objects.filter(kind=RELEASE).get().reason == "Allocation lowered"

    with pytest.raises(RelationshipError) as refused:
        services.relationship_change_allocation(actor=tenant_a.admin, relationship=rel, quantity=89)
    assert refused.value.message == (
        "1 h 30 min are already consumed; the allocation cannot go below that."
    )
    assert balance(grant) == (600, 90, 30)

    # Exactly what is consumed is allowed: nothing stays held.
    services.relationship_change_allocation(actor=tenant_a.admin, relationship=rel, quantity=90)
    assert balance(grant) == (600, 90, 0)
    # The same allocation again changes nothing.
    services.relationship_change_allocation(actor=tenant_a.admin, relationship=rel, quantity=90)
    assert len(entries(relationship=rel)) == 4
    assert find_differences() == []


def allocation_history(relationship: Relationship) -> list[tuple[object, ...]]:
    return [
        (c.from_status, c.to_status, c.actor, c.reason, c.allocation_before, c.allocation_after)
        for c in RelationshipStatusChange.objects.filter(relationship=relationship)
        if c.is_allocation_change
    ]


def test_allocation_changes_are_in_the_history(tenant_a: Tenant, admin_client_a) -> None:
    past_grant(tenant_a.student, 600)
    rel = paired(tenant_a, quantity=300)
    session_services.session_log(
        actor=tenant_a.provider_user, relationship=rel, starts_at=at(10, 15), duration=90
    )
    admin = tenant_a.admin
    services.relationship_change_allocation(
        actor=admin, relationship=rel, quantity=420, reason="  More exams "
    )
    services.relationship_change_allocation(actor=admin, relationship=rel, quantity=120)
    # No change, no entry.
    services.relationship_change_allocation(actor=admin, relationship=rel, quantity=120)
    with pytest.raises(RelationshipError):
        services.relationship_change_allocation(actor=admin, relationship=rel, quantity=60)
    assert allocation_history(rel) == [
        ("paired", "paired", admin, "More exams", 300, 420),
        ("paired", "paired", admin, "Allocation lowered", 420, 120),
    ]
    # The status history itself is unchanged by them.
    assert [h[:2] for h in history(rel)] == [
        ("", "proposed"),
        ("proposed", "paired"),
        ("paired", "paired"),
        ("paired", "paired"),
    ]
    assert set(
        RelationshipStatusChange.objects.filter(relationship=rel).values_list(
            "organization", "created_at"
        )
    ) == {(tenant_a.organization.pk, NOW)}

    html = admin_client_a.get(rel.get_absolute_url()).content.decode()
    assert f"Jun 11, 2025 12:00 — Allocation 5 h → 7 h by {admin}: More exams</li>" in html
    assert f"Jun 11, 2025 12:00 — Allocation 7 h → 2 h by {admin}: Allocation lowered</li>" in html
    assert f"Jun 11, 2025 12:00 — Paired by {admin}: Accepted</li>" in html
    assert find_differences() == []


def test_the_allocation_page_writes_the_history(tenant_a: Tenant, admin_client_a) -> None:
    past_grant(tenant_a.student, 600, unit="sessions")
    rel = paired(tenant_a, quantity=4, unit="sessions")
    admin_client_a.post(
        url(tenant_a.organization, f"{rel.public_id}/allocation/"),
        {"amount": "6", "measure": "hours", "reason": "Two more"},
    )
    assert allocation_history(rel) == [("paired", "paired", tenant_a.admin, "Two more", 4, 6)]
    html = admin_client_a.get(rel.get_absolute_url()).content.decode()
    assert f"Allocation 4 sessions → 6 sessions by {tenant_a.admin}: Two more</li>" in html


def test_an_ended_relationship_cancels_its_sessions_to_come(tenant_a: Tenant) -> None:
    set_policy(tenant_a.organization, late_cancellation_charge="full")
    grant = past_grant(tenant_a.student, 900)
    sessions = session_services
    for how, reason, because in (
        ("cancel", "Moved away", "The relationship was cancelled: Moved away"),
        ("complete", "", "The relationship was completed"),
        ("complete", "Exam passed", "The relationship was completed: Exam passed"),
    ):
        rel = paired(tenant_a, quantity=300)
        done = sessions.session_log(
            actor=tenant_a.admin, relationship=rel, starts_at=at(10, 9), duration=60
        )
        due = sessions.session_log(
            actor=tenant_a.admin, relationship=rel, starts_at=at(11, 9), duration=60, scheduled=True
        )
        soon = sessions.session_log(
            actor=tenant_a.admin,
            relationship=rel,
            starts_at=NOW + timedelta(hours=2),  # inside the late window: still not charged
            duration=60,
            scheduled=True,
        )
        later = sessions.session_log(
            actor=tenant_a.admin, relationship=rel, starts_at=at(18, 9), duration=90, scheduled=True
        )
        end = {"cancel": services.relationship_cancel, "complete": services.relationship_complete}
        end[how](actor=tenant_a.admin, relationship=rel, reason=reason)

        assert dict(rel.sessions.values_list("pk", "status")) == {
            done.pk: "completed",
            due.pk: "scheduled",  # already due: it may have taken place; an admin decides
            soon.pk: "cancelled",
            later.pk: "cancelled",
        }
        assert set(
            rel.sessions.filter(status="cancelled").values_list(
                "cancellation_reason", "charged_minutes", "charge_shortfall"
            )
        ) == {(because, 0, 0)}
        # No hours moved for them; the hold is released as before.
        assert entries(session__in=[soon, later]) == []
        assert holds(rel) == [(grant.pk, 0, 60)]
    assert balance(grant) == (900, 180, 0)
    assert find_differences() == []


def test_an_ended_relationship_holds_no_allocation(tenant_a: Tenant) -> None:
    grant = past_grant(tenant_a.student, 600)
    rel = propose(tenant_a, quantity=300)
    services.relationship_decline(actor=tenant_a.provider_user, relationship=rel)
    with pytest.raises(ConflictError) as refused:
        services.relationship_change_allocation(actor=tenant_a.admin, relationship=rel, quantity=60)
    assert refused.value.message == "Only a proposed or paired relationship holds hours."
    assert balance(grant) == (600, 0, 0)


# --- Unanswered proposals --------------------------------------------------------------------


def test_stale_proposals_are_declined_once(
    tenant_a: Tenant, clock, django_capture_on_commit_callbacks, mailoutbox
) -> None:
    org = tenant_a.organization
    grant = past_grant(tenant_a.student, 900)
    _, second = other_provider(tenant_a, "second@alpha.example")
    _, third = other_provider(tenant_a, "third@alpha.example")
    stale = propose(tenant_a, quantity=120)  # due Jun 18 12:00
    answered = pair(tenant_a, propose(tenant_a, quantity=60, provider=second))
    clock.move_to(NOW + timedelta(days=2))
    fresh = propose(tenant_a, quantity=30, provider=third)  # due Jun 20 12:00
    assert balance(grant) == (900, 0, 210)

    clock.move_to(NOW + timedelta(days=7, seconds=-1))
    assert services.decline_stale_proposals() == 0

    clock.move_to(NOW + timedelta(days=7))
    with django_capture_on_commit_callbacks(execute=True):
        assert services.decline_stale_proposals() == 1
    for rel in (stale, answered, fresh):
        rel.refresh_from_db()
    assert (stale.status, answered.status, fresh.status) == ("declined", "paired", "proposed")
    assert history(stale)[-1] == ("proposed", "declined", None, services.UNANSWERED)
    assert balance(grant) == (900, 0, 90)
    assert holds(stale) == [(grant.pk, 0, 0)]
    # Nobody declined: the student is not told the provider did, and the provider is told.
    provider, student = tenant_a.provider, tenant_a.student
    assert mails(mailoutbox) == [
        (
            f"[Matchpal] No answer from {provider.name}",
            f"{provider.name} did not answer within 7 days; "
            "the reserved hours are free to book again.",
            [student.email],
        ),
        (
            f"[Matchpal] Proposal declined: {student.name}",
            f"The proposal to work with {student.name} (tutoring) was not answered within 7 "
            f"days, so it was declined automatically. Ask {tenant_a.organization.name} if you "
            "would still like to take it on.",
            [provider.email],
        ),
    ]

    # Safe to run twice: nothing more to do, nothing written.
    before = entries()
    assert services.decline_stale_proposals() == 0
    assert entries() == before
    assert len(history(stale)) == 2
    assert org.relationships.filter(status="declined").count() == 1
    assert find_differences() == []


def test_stale_proposals_follow_each_centers_window(tenant_a: Tenant, clock) -> None:
    set_policy(tenant_a.organization, proposal_response_days=2)
    grant = past_grant(tenant_a.student, 600)
    rel = propose(tenant_a, quantity=60)
    clock.move_to(NOW + timedelta(days=2, hours=1))
    assert services.decline_stale_proposals(now=timezone.now()) == 1
    rel.refresh_from_db()
    assert rel.status == "declined"
    assert balance(grant) == (600, 0, 0)
    assert find_differences() == []


# --- Pages -----------------------------------------------------------------------------------


def url(org: Organization, rest: str = "") -> str:
    return f"/o/{org.slug}/relationships/{rest}"


def make_listing(tenant: Tenant) -> dict[str, Relationship]:
    """Five relationships of varied statuses, services, people and creation dates."""
    org = tenant.organization
    _, maria = other_provider(tenant, "maria@alpha.example", ("Tutoring", "Advising"))
    maria.name = "Maria Quinteros"
    maria.save()
    zed = StudentFactory(organization=org, name="Zed Alvarez")
    tenant.student.name = "Ann Baker"
    tenant.student.save()
    tenant.provider.name = "Paul Okafor"
    tenant.provider.save()
    for student in (tenant.student, zed):
        past_grant(student, 2000, service_types=("Tutoring", "Advising"))
    made = {
        "ann_paul": propose(tenant, quantity=60),
        "ann_maria_adv": propose(tenant, quantity=60, provider=maria, service_type="Advising"),
        "zed_paul": propose(tenant, quantity=60, student=zed),
        "zed_maria": propose(tenant, quantity=60, student=zed, provider=maria),
        "ann_maria": propose(tenant, quantity=60, provider=maria),
    }
    pair(tenant, made["ann_paul"])
    pair(tenant, made["zed_maria"])
    services.relationship_decline(actor=tenant.admin, relationship=made["zed_paul"])
    for key, days in (
        ("ann_paul", 20),
        ("ann_maria_adv", 10),
        ("zed_paul", 5),
        ("zed_maria", 2),
        ("ann_maria", 0),
    ):
        Relationship.objects.filter(pk=made[key].pk).update(created_at=NOW - timedelta(days=days))
    return made


def listed(client, org: Organization, **params: str) -> list[int]:  # type: ignore[no-untyped-def]
    response = client.get(url(org), params)
    assert response.status_code == 200
    return [r.pk for r in response.context["page"]]


def test_list_filters(tenant_a: Tenant, admin_client_a) -> None:
    org = tenant_a.organization
    made = make_listing(tenant_a)
    pk = {key: rel.pk for key, rel in made.items()}
    maria = made["zed_maria"].provider
    zed = made["zed_maria"].student

    newest_first = ["ann_maria", "zed_maria", "zed_paul", "ann_maria_adv", "ann_paul"]
    assert listed(admin_client_a, org) == [pk[k] for k in newest_first]
    assert listed(admin_client_a, org, status="paired") == [pk["zed_maria"], pk["ann_paul"]]
    assert listed(admin_client_a, org, status="declined") == [pk["zed_paul"]]
    assert listed(admin_client_a, org, service_type=str(service(org, "Advising").public_id)) == [
        pk["ann_maria_adv"]
    ]
    assert listed(admin_client_a, org, provider=str(maria.public_id)) == [
        pk["ann_maria"],
        pk["zed_maria"],
        pk["ann_maria_adv"],
    ]
    assert listed(admin_client_a, org, student=str(zed.public_id)) == [
        pk["zed_maria"],
        pk["zed_paul"],
    ]
    assert listed(
        admin_client_a, org, provider=str(maria.public_id), student=str(zed.public_id)
    ) == [pk["zed_maria"]]
    # Created dates, inclusive, in the organization's days.
    assert listed(
        admin_client_a,
        org,
        created_after=(NOW - timedelta(days=10)).date().isoformat(),
        created_before=(NOW - timedelta(days=2)).date().isoformat(),
    ) == [pk["zed_maria"], pk["zed_paul"], pk["ann_maria_adv"]]
    assert listed(admin_client_a, org, created_before="2025-05-22") == [pk["ann_paul"]]
    # The search looks in the student's and the provider's names.
    assert listed(admin_client_a, org, q="alvarez") == [pk["zed_maria"], pk["zed_paul"]]
    assert listed(admin_client_a, org, q=" QUINTEROS ") == [
        pk["ann_maria"],
        pk["zed_maria"],
        pk["ann_maria_adv"],
    ]
    assert listed(admin_client_a, org, q="okafor", status="proposed") == []
    assert listed(admin_client_a, org, q="nobody") == []


def test_list_shows_allocated_used_and_remaining(tenant_a: Tenant, admin_client_a) -> None:
    past_grant(tenant_a.student, 600)
    rel = paired(tenant_a, quantity=300)
    session_services.session_log(
        actor=tenant_a.admin, relationship=rel, starts_at=at(10, 15), duration=90
    )
    response = admin_client_a.get(url(tenant_a.organization))
    row = response.context["page"][0]
    assert (row.held, row.consumed) == (210, 90)
    html = response.content.decode()
    assert '<td class="text-end">5 h</td>' in html
    assert '<td class="text-end">1 h 30 min</td>' in html
    assert '<td class="text-end">3 h 30 min</td>' in html


def test_list_paginates(tenant_a: Tenant, admin_client_a, settings) -> None:
    settings.MATCHPAL_PAGE_SIZE = 4
    org = tenant_a.organization
    past_grant(tenant_a.student, 6000, service_types=("Tutoring", "Advising"))
    made = []
    for i in range(10):
        provider = ProviderFactory(organization=org, services=["Tutoring"])
        made.append(propose(tenant_a, quantity=60, provider=provider))
        Relationship.objects.filter(pk=made[-1].pk).update(created_at=NOW - timedelta(hours=i))
    newest_first = [r.pk for r in made]
    first = admin_client_a.get(url(org))
    assert first.context["page"].paginator.num_pages == 3
    assert [r.pk for r in first.context["page"]] == newest_first[:4]
    assert "Page 1 of 3" in first.content.decode()
    assert listed(admin_client_a, org, page="2") == newest_first[4:8]
    assert listed(admin_client_a, org, page="3") == newest_first[8:]
    assert listed(admin_client_a, org, page="99") == newest_first[8:]
    assert listed(admin_client_a, org, page="x") == newest_first[:4]
    # Filters carry over to the next page's link.
    response = admin_client_a.get(url(org), {"status": "proposed"})
    assert "?status=proposed&page=2" in response.content.decode()


def test_a_provider_lists_only_their_own(tenant_a: Tenant, provider_client_a) -> None:
    org = tenant_a.organization
    past_grant(tenant_a.student, 600)
    _, other = other_provider(tenant_a)
    own = propose(tenant_a, quantity=60)
    propose(tenant_a, quantity=60, provider=other)
    assert listed(provider_client_a, org) == [own.pk]


def test_a_student_may_not_list(tenant_a: Tenant, student_client_a) -> None:
    assert student_client_a.get(url(tenant_a.organization)).status_code == 403


def test_another_tenant_sees_nothing(tenant_a: Tenant, tenant_b: Tenant, admin_client_b) -> None:
    past_grant(tenant_a.student, 600)
    rel = propose(tenant_a, quantity=60)
    org_a = tenant_a.organization
    assert admin_client_b.get(url(org_a)).status_code == 404
    assert admin_client_b.get(url(org_a, f"{rel.public_id}/")).status_code == 404
    # Under their own organization's address the relationship does not exist either.
    assert admin_client_b.get(url(tenant_b.organization, f"{rel.public_id}/")).status_code == 404
    assert (
        admin_client_b.post(
            url(tenant_b.organization, f"{rel.public_id}/cancel/"), {"reason": "x"}
        ).status_code
        == 404
    )
    rel.refresh_from_db()
    assert rel.status == "proposed"


def propose_form(tenant: Tenant, **overrides: str) -> dict[str, object]:
    org = tenant.organization
    data: dict[str, object] = {
        "student": tenant.student.public_id,
        "provider": tenant.provider.public_id,
        "service_type": service(org).public_id,
        "amount": "5",
        "measure": "hours",
        "provider_pay_rate": "",
        "client_rate": "60.00",
    }
    data.update(overrides)
    return data


def test_the_propose_page(
    tenant_a: Tenant, admin_client_a, django_capture_on_commit_callbacks, mailoutbox
) -> None:
    org = tenant_a.organization
    grant = past_grant(tenant_a.student, 600)
    page = admin_client_a.get(url(org, "new/"), {"student": tenant_a.student.public_id})
    assert page.status_code == 200
    form = page.context["form"]
    assert form["student"].value() == str(tenant_a.student.public_id)
    token = form["token"].value()

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client_a.post(url(org, "new/"), {**propose_form(tenant_a), "token": token})
    rel = Relationship.objects.get()
    assert response.status_code == 302
    assert response["Location"] == rel.get_absolute_url()
    assert (rel.provider_pay_rate, rel.client_rate) == (Decimal("35.00"), Decimal("60.00"))
    assert balance(grant) == (600, 0, 300)
    assert len(mailoutbox) == 2
    followed = admin_client_a.get(response["Location"])
    assert f"{tenant_a.provider.name} was asked to work with {tenant_a.student.name}." in [
        str(m) for m in followed.context["messages"]
    ]
    assert find_differences() == []


def test_the_propose_page_in_minutes(tenant_a: Tenant, admin_client_a) -> None:
    org = tenant_a.organization
    grant = past_grant(tenant_a.student, 600)
    page = admin_client_a.get(url(org, "new/"))
    response = admin_client_a.post(
        url(org, "new/"),
        {
            **propose_form(tenant_a, amount="45", measure="minutes", provider_pay_rate="30"),
            "token": page.context["form"]["token"].value(),
        },
    )
    assert response.status_code == 302
    rel = Relationship.objects.get()
    assert rel.provider_pay_rate == Decimal("30.00")
    assert balance(grant) == (600, 0, 45)


def test_the_propose_page_rerenders_with_errors(tenant_a: Tenant, admin_client_a) -> None:
    org = tenant_a.organization
    grant = past_grant(tenant_a.student, 240)
    token = admin_client_a.get(url(org, "new/")).context["form"]["token"].value()

    response = admin_client_a.post(
        url(org, "new/"), {**propose_form(tenant_a, amount="0", student=""), "token": token}
    )
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert errors["student"] == ["This field is required."]
    assert errors["amount"] == ["Ensure this value is greater than or equal to 1."]

    response = admin_client_a.post(
        url(org, "new/"), {**propose_form(tenant_a), "token": "not-a-token"}
    )
    assert response.context["form"].errors["token"] == [
        "The form expired; reload the page and try again."
    ]

    # A shortfall found by the ledger: shown on the amount it concerns, the form kept.
    response = admin_client_a.post(url(org, "new/"), {**propose_form(tenant_a), "token": token})
    assert response.status_code == 200
    message = "Only 4 h are free to book for this service; reserving 5 h needs 1 h more."
    assert response.context["form"].errors["amount"] == [message]
    assert message in response.content.decode()
    assert response.context["form"]["amount"].value() == "5"

    # An inactive student is not a choice.
    other = StudentFactory(organization=tenant_a.organization)
    other.status = StudentStatus.INACTIVE
    other.save()
    response = admin_client_a.post(
        url(org, "new/"), {**propose_form(tenant_a, student=other.pk), "token": token}
    )
    assert response.context["form"].errors["student"] == [
        "Select a valid choice. That choice is not one of the available choices."
    ]
    assert not Relationship.objects.exists()
    assert balance(grant) == (240, 0, 0)


def test_a_double_submitted_proposal_applies_once(tenant_a: Tenant, admin_client_a) -> None:
    org = tenant_a.organization
    grant = past_grant(tenant_a.student, 600)
    token = admin_client_a.get(url(org, "new/")).context["form"]["token"].value()
    data = {**propose_form(tenant_a), "token": token}
    first = admin_client_a.post(url(org, "new/"), data)
    second = admin_client_a.post(url(org, "new/"), data)
    assert first.status_code == 302
    assert second.status_code == 302
    assert second["Location"] == url(org)
    assert [str(m) for m in admin_client_a.get(second["Location"]).context["messages"]] == [
        f"{tenant_a.provider.name} was asked to work with {tenant_a.student.name}.",
        "This was already applied; nothing changed.",
    ]
    assert Relationship.objects.count() == 1
    assert balance(grant) == (600, 0, 300)
    assert len(entries(kind=HOLD)) == 1
    assert find_differences() == []


def test_only_admins_propose(tenant_a: Tenant, provider_client_a, student_client_a) -> None:
    org = tenant_a.organization
    for client in (provider_client_a, student_client_a):
        assert client.get(url(org, "new/")).status_code == 403
        assert client.post(url(org, "new/"), propose_form(tenant_a)).status_code == 403
    assert not Relationship.objects.exists()


def test_the_detail_page_shows_allocated_used_and_remaining(
    tenant_a: Tenant, admin_client_a
) -> None:
    org = tenant_a.organization
    past_grant(tenant_a.student, 600)
    rel = paired(
        tenant_a, quantity=300, provider_pay_rate=Decimal("40.00"), client_rate=Decimal("50.00")
    )
    session_services.session_log(
        actor=tenant_a.provider_user, relationship=rel, starts_at=at(10, 15), duration=90
    )
    response = admin_client_a.get(url(org, f"{rel.public_id}/"))
    assert response.status_code == 200
    assert response.context["allocated"] == 300
    html = response.content.decode()
    assert '<div class="fs-5">5 h</div>' in html
    assert '<div class="fs-5">1 h 30 min</div>' in html
    assert '<div class="fs-5" data-testid="remaining">3 h 30 min</div>' in html
    assert '<td class="text-end">60.00</td><td class="text-end">75.00</td>' in html
    assert "provider 40.00 · client 50.00" in html
    assert [s.pk for s in response.context["sessions"]] == [rel.sessions.get().pk]
    assert [h.to_status for h in response.context["history"]] == ["proposed", "paired"]
    assert "Change allocation" in html


def test_the_provider_accepts_by_post(tenant_a: Tenant, provider_client_a) -> None:
    org = tenant_a.organization
    past_grant(tenant_a.student, 600)
    rel = propose(tenant_a, quantity=60)
    detail = provider_client_a.get(url(org, f"{rel.public_id}/"))
    assert detail.status_code == 200
    assert (
        f'action="/o/{org.slug}/relationships/{rel.public_id}/accept/"' in detail.content.decode()
    )
    assert provider_client_a.get(url(org, f"{rel.public_id}/accept/")).status_code == 405

    response = provider_client_a.post(url(org, f"{rel.public_id}/accept/"))
    assert response.status_code == 302
    assert response["Location"] == rel.get_absolute_url()
    assert [str(m) for m in provider_client_a.get(response["Location"]).context["messages"]] == [
        "You accepted the proposal."
    ]
    rel.refresh_from_db()
    assert rel.status == "paired"
    assert history(rel)[-1] == ("proposed", "paired", tenant_a.provider_user, "Accepted")

    # Accepting again: the error is shown on the detail page, nothing changes.
    response = provider_client_a.post(url(org, f"{rel.public_id}/accept/"), follow=True)
    assert [str(m) for m in response.context["messages"]] == [
        "This relationship is paired; it cannot become paired."
    ]
    assert len(history(rel)) == 2


def test_the_provider_declines_with_a_reason(tenant_a: Tenant, provider_client_a) -> None:
    org = tenant_a.organization
    grant = past_grant(tenant_a.student, 600)
    rel = propose(tenant_a, quantity=120)
    form = provider_client_a.get(url(org, f"{rel.public_id}/decline/"))
    assert form.status_code == 200
    assert form.context["title"] == "Decline the proposal"
    response = provider_client_a.post(
        url(org, f"{rel.public_id}/decline/"), {"reason": "No evenings free"}
    )
    assert response.status_code == 302
    rel.refresh_from_db()
    assert rel.status == "declined"
    assert history(rel)[-1] == ("proposed", "declined", tenant_a.provider_user, "No evenings free")
    assert balance(grant) == (600, 0, 0)
    assert find_differences() == []


def test_admin_pages_cancel_complete_and_allocation(tenant_a: Tenant, admin_client_a) -> None:
    org = tenant_a.organization
    grant = past_grant(tenant_a.student, 600)
    rel = paired(tenant_a, quantity=120)
    base = url(org, f"{rel.public_id}/")

    response = admin_client_a.post(
        base + "allocation/", {"amount": "3", "measure": "hours", "reason": "Exams"}
    )
    assert response.status_code == 302
    assert balance(grant) == (600, 0, 180)
    response = admin_client_a.post(base + "allocation/", {"amount": "700", "measure": "minutes"})
    assert response.status_code == 200
    assert response.context["form"].non_field_errors() == [
        "Only 7 h are free to book for this service; reserving 8 h 40 min needs 1 h 40 min more."
    ]

    response = admin_client_a.post(base + "cancel/", {"reason": ""})
    assert response.status_code == 200
    assert response.context["form"].errors["reason"] == ["This field is required."]
    response = admin_client_a.post(base + "complete/", {"reason": ""})
    assert response.status_code == 302
    rel.refresh_from_db()
    assert rel.status == "completed"
    assert balance(grant) == (600, 0, 0)
    response = admin_client_a.post(base + "cancel/", {"reason": "Too late"})
    assert response.status_code == 200
    assert response.context["form"].non_field_errors() == [
        "This relationship is completed; it cannot become cancelled."
    ]
    assert find_differences() == []


def test_the_allocation_page_of_a_relationship_counting_sessions(
    tenant_a: Tenant, admin_client_a
) -> None:
    org = tenant_a.organization
    grant = past_grant(tenant_a.student, 10, unit="sessions")
    rel = propose(tenant_a, quantity=4, unit="sessions")
    response = admin_client_a.post(
        url(org, f"{rel.public_id}/allocation/"), {"amount": "6", "measure": "hours"}
    )
    assert response.status_code == 302
    assert balance(grant) == (10, 0, 6)
    response = admin_client_a.post(
        url(org, f"{rel.public_id}/allocation/"), {"amount": "11", "measure": "hours"}
    )
    assert response.context["form"].non_field_errors() == [
        "Only 4 sessions are free to book for this service; "
        "reserving 5 sessions needs 1 session more."
    ]
    detail = admin_client_a.get(url(org, f"{rel.public_id}/")).content.decode()
    assert '<div class="fs-5" data-testid="remaining">6 sessions</div>' in detail
    assert find_differences() == []


def test_providers_may_not_use_admin_actions(tenant_a: Tenant, provider_client_a) -> None:
    org = tenant_a.organization
    grant = past_grant(tenant_a.student, 600)
    rel = paired(tenant_a, quantity=120)
    for action, data in (
        ("cancel/", {"reason": "x"}),
        ("complete/", {}),
        ("allocation/", {"amount": "1", "measure": "hours"}),
    ):
        assert (
            provider_client_a.post(url(org, f"{rel.public_id}/{action}"), data).status_code == 403
        )
    rel.refresh_from_db()
    assert rel.status == "paired"
    assert balance(grant) == (600, 0, 120)


def test_a_provider_cannot_see_or_answer_another_providers_relationship(
    tenant_a: Tenant, provider_client_a
) -> None:
    org = tenant_a.organization
    past_grant(tenant_a.student, 600)
    _, other = other_provider(tenant_a)
    theirs = propose(tenant_a, quantity=60, provider=other)
    for path in ("", "decline/"):
        assert provider_client_a.get(url(org, f"{theirs.public_id}/{path}")).status_code == 404
    assert provider_client_a.post(url(org, f"{theirs.public_id}/accept/")).status_code == 404
    assert (
        provider_client_a.post(
            url(org, f"{theirs.public_id}/decline/"), {"reason": "x"}
        ).status_code
        == 404
    )
    theirs.refresh_from_db()
    assert theirs.status == "proposed"


def test_a_student_sees_their_own_relationship_only(tenant_a: Tenant, student_client_a) -> None:
    org = tenant_a.organization
    past_grant(tenant_a.student, 600)
    own = paired(tenant_a, quantity=120)
    someone = StudentFactory(organization=org)
    past_grant(someone, 600)
    theirs = propose(tenant_a, quantity=60, student=someone)

    response = student_client_a.get(url(org, f"{own.public_id}/"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Rates per hour" not in html
    assert "Change allocation" not in html
    assert "Log session" not in html
    assert student_client_a.get(url(org, f"{theirs.public_id}/")).status_code == 404
    assert student_client_a.post(url(org, f"{own.public_id}/accept/")).status_code == 403
    assert (
        student_client_a.post(url(org, f"{own.public_id}/cancel/"), {"reason": "x"}).status_code
        == 403
    )


def test_an_unknown_relationship_is_a_404(tenant_a: Tenant, admin_client_a) -> None:
    org = tenant_a.organization
    assert admin_client_a.get(url(org, "6f1c1c1e-3c55-4c39-9f0b-2d1cf0f0a001/")).status_code == 404


def test_anonymous_visitors_are_sent_to_sign_in(tenant_a: Tenant) -> None:
    response = client_for(None).get(url(tenant_a.organization))
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
