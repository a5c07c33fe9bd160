"""Accepting, declining, cancelling and completing a relationship (DESIGN §4)."""

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal

import pytest

from grants.reconcile import find_differences
from matchpal.errors import ConflictError
from relationships import services
from relationships.models import RelationshipStatusChange
from relationships.selectors import allocated
from relationships.services import RelationshipError
from sessions_app import services as session_services
from tests.relationships.lifecycle.support import CONSUME, HOLD, RELEASE, history
from tests.support import (
    NOW,
    Tenant,
    at,
    balance,
    entries,
    holds,
    mails,
    member,
    notice_text,
    other_provider,
    pair,
    paired,
    past_grant,
    propose,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("clock")]


def test_the_provider_accepts_and_both_are_told(
    tenant_a: Tenant, django_capture_on_commit_callbacks, mailoutbox
) -> None:
    grant = past_grant(tenant_a.student, 600)
    rel = propose(tenant_a, quantity=300)
    with django_capture_on_commit_callbacks(execute=True):
        services.relationship_accept(membership=member(tenant_a.provider_user), relationship=rel)
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
            f"[Matchpal] You are paired with {provider.name}",
            f"{provider.name} accepted: {student.name} and {provider.name} are now paired for "
            "tutoring. Sessions can be scheduled.",
            sorted([student.email, student.guardian_email]),
        ),
        (
            f"[Matchpal] {provider.name} accepted {student.name}",
            f"{provider.name} accepted to work with {student.name} (tutoring).",
            [tenant_a.admin.email],
        ),
    ]
    assert balance(grant) == (600, 0, 300)  # accepting moves no hours
    assert find_differences() == []


def test_an_admin_may_accept_on_the_providers_behalf(tenant_a: Tenant) -> None:
    past_grant(tenant_a.student, 600)
    rel = propose(tenant_a, quantity=60)
    services.relationship_accept(membership=member(tenant_a.admin), relationship=rel)
    rel.refresh_from_db()
    assert rel.status == "paired"
    assert history(rel)[-1] == ("proposed", "paired", tenant_a.admin, "Accepted")


@pytest.mark.parametrize("who", ["other_provider", "student"])
def test_nobody_else_may_accept_or_decline(tenant_a: Tenant, who: str) -> None:
    grant = past_grant(tenant_a.student, 600)
    rel = propose(tenant_a, quantity=60)
    actor = other_provider(tenant_a)[0] if who == "other_provider" else tenant_a.student_user
    with pytest.raises(RelationshipError) as refused:
        services.relationship_accept(membership=member(actor), relationship=rel)
    assert refused.value.message == "Only the provider of this proposal can accept it."
    with pytest.raises(RelationshipError) as refused:
        services.relationship_decline(membership=member(actor), relationship=rel, reason="No")
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
        services.relationship_accept(membership=member(tenant_b.admin), relationship=rel)
    rel.refresh_from_db()
    assert rel.status == "proposed"


@pytest.mark.parametrize(
    ("doing", "act"),
    [
        (
            "cancel",
            lambda actor, rel: services.relationship_cancel(
                membership=member(actor), relationship=rel, reason="No"
            ),
        ),
        (
            "complete",
            lambda actor, rel: services.relationship_complete(
                membership=member(actor), relationship=rel
            ),
        ),
        (
            "change the hours of",
            lambda actor, rel: services.relationship_change_allocation(
                membership=member(actor), relationship=rel, quantity=30
            ),
        ),
        (
            "change the rates of",
            lambda actor, rel: services.relationship_change_rates(
                membership=member(actor),
                relationship=rel,
                provider_pay_rate=Decimal("1"),
                client_rate=Decimal("2"),
                reason="No",
            ),
        ),
    ],
)
def test_only_an_admin_may_end_or_change_a_relationship(
    tenant_a: Tenant, tenant_b: Tenant, doing: str, act: Callable[..., object]
) -> None:
    """The same rule as accepting (`relationships.selectors.acts_for`), without the provider:
    its own provider, another organization's admin and the student are refused alike."""
    grant = past_grant(tenant_a.student, 600)
    rel = pair(tenant_a, propose(tenant_a, quantity=60))
    for actor in (tenant_a.provider_user, tenant_a.student_user, tenant_b.admin):
        with pytest.raises(RelationshipError) as refused:
            act(actor, rel)
        assert refused.value.message == f"Only an admin can {doing} a relationship."
    rel.refresh_from_db()
    assert (rel.status, len(history(rel))) == ("paired", 2)
    assert balance(grant) == (600, 0, 60)


def test_only_an_admin_may_propose(tenant_a: Tenant) -> None:
    past_grant(tenant_a.student, 600)
    with pytest.raises(RelationshipError) as refused:
        services.relationship_propose(
            membership=member(tenant_a.provider_user),
            organization=tenant_a.organization,
            student=tenant_a.student,
            provider=tenant_a.provider,
            service_type=tenant_a.provider.service_types.first(),
            quantity=60,
        )
    assert refused.value.message == "Only an admin can propose a relationship."


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
            membership=member(tenant_a.provider_user),
            relationship=rel,
            reason="Fully booked this term",
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
            sorted([tenant_a.admin.email, student.email, student.guardian_email]),
        )
    ]
    assert find_differences() == []


def test_decline_without_a_reason(
    tenant_a: Tenant, django_capture_on_commit_callbacks, mailoutbox
) -> None:
    grant = past_grant(tenant_a.student, 600)
    rel = propose(tenant_a, quantity=300)
    with django_capture_on_commit_callbacks(execute=True):
        services.relationship_decline(membership=member(tenant_a.provider_user), relationship=rel)
    assert balance(grant) == (600, 0, 0)
    assert history(rel)[-1] == ("proposed", "declined", tenant_a.provider_user, "Declined")
    assert {notice_text(m.body) for m in mailoutbox} == {
        f"{tenant_a.provider.name} declined to work with {tenant_a.student.name}. "
        "The reserved hours are free to book again."
    }
    assert find_differences() == []


def test_cancel_needs_a_reason(tenant_a: Tenant) -> None:
    grant = past_grant(tenant_a.student, 600)
    rel = propose(tenant_a, quantity=300)
    for reason in ("", "   "):
        with pytest.raises(RelationshipError) as refused:
            services.relationship_cancel(
                membership=member(tenant_a.admin), relationship=rel, reason=reason
            )
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
        membership=member(tenant_a.provider_user),
        relationship=rel,
        starts_at=at(10, 15),
        duration=90,
    )
    assert balance(grant) == (600, 90, 210)

    with django_capture_on_commit_callbacks(execute=True):
        services.relationship_cancel(
            membership=member(tenant_a.admin), relationship=rel, reason="Moved away"
        )
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
            sorted([student.email, student.guardian_email, provider.email]),
        )
    ]
    assert find_differences() == []


def test_cancel_a_proposal(tenant_a: Tenant) -> None:
    grant = past_grant(tenant_a.student, 600)
    rel = propose(tenant_a, quantity=300)
    services.relationship_cancel(
        membership=member(tenant_a.admin), relationship=rel, reason="  Wrong tutor  "
    )
    rel.refresh_from_db()
    assert rel.status == "cancelled"
    assert balance(grant) == (600, 0, 0)
    assert history(rel)[-1] == ("proposed", "cancelled", tenant_a.admin, "Wrong tutor")
    assert find_differences() == []


def test_complete_releases_what_was_not_consumed(tenant_a: Tenant) -> None:
    grant = past_grant(tenant_a.student, 600)
    rel = paired(tenant_a, quantity=300)
    session_services.session_log(
        membership=member(tenant_a.provider_user),
        relationship=rel,
        starts_at=at(9, 16),
        duration=60,
    )
    session_services.session_log(
        membership=member(tenant_a.provider_user),
        relationship=rel,
        starts_at=at(10, 16),
        duration=45,
    )
    services.relationship_complete(membership=member(tenant_a.admin), relationship=rel)
    rel.refresh_from_db()
    assert rel.status == "completed"
    assert rel.ended_at == NOW
    assert balance(grant) == (600, 105, 0)
    assert holds(rel) == [(grant.pk, 0, 105)]
    assert entries(relationship=rel, kind=RELEASE) == [(RELEASE, 0, 0, -195)]
    assert history(rel)[-1] == ("paired", "completed", tenant_a.admin, "Completed")
    assert allocated(rel) == {"held": 0, "consumed": 105, "allocated": 105}
    assert find_differences() == []


def test_complete_with_everything_consumed_writes_no_release(tenant_a: Tenant) -> None:
    grant = past_grant(tenant_a.student, 600)
    rel = paired(tenant_a, quantity=60)
    session_services.session_log(
        membership=member(tenant_a.provider_user),
        relationship=rel,
        starts_at=at(10, 16),
        duration=60,
    )
    services.relationship_complete(
        membership=member(tenant_a.admin), relationship=rel, reason="All done"
    )
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
        services.relationship_complete(membership=member(admin), relationship=rel)
    if start == "declined":
        services.relationship_decline(membership=member(tenant_a.provider_user), relationship=rel)
    if start == "cancelled":
        services.relationship_cancel(membership=member(admin), relationship=rel, reason="Stop")
    before_history, before_entries = history(rel), entries()
    before_balance = balance(grant)

    act = {
        "accept": lambda: services.relationship_accept(membership=member(admin), relationship=rel),
        "decline": lambda: services.relationship_decline(
            membership=member(admin), relationship=rel
        ),
        "cancel": lambda: services.relationship_cancel(
            membership=member(admin), relationship=rel, reason="Again"
        ),
        "complete": lambda: services.relationship_complete(
            membership=member(admin), relationship=rel
        ),
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
    services.relationship_accept(membership=member(tenant_a.provider_user), relationship=rel)
    services.relationship_cancel(
        membership=member(tenant_a.admin), relationship=rel, reason="Schedule"
    )
    assert history(rel) == [
        ("", "proposed", tenant_a.admin, "Proposed"),
        ("proposed", "paired", tenant_a.provider_user, "Accepted"),
        ("paired", "cancelled", tenant_a.admin, "Schedule"),
    ]
    assert set(RelationshipStatusChange.objects.values_list("organization", "created_at")) == {
        (tenant_a.organization.pk, NOW)
    }
