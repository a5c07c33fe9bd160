"""Changing a relationship's allocation, and what an ended relationship keeps (DESIGN §4)."""

from datetime import timedelta

import pytest

from grants.models import GrantEntry
from grants.reconcile import find_differences
from grants.services import InsufficientHours
from matchpal.errors import ConflictError
from relationships import services
from relationships.models import Relationship, RelationshipStatusChange
from relationships.services import RelationshipError
from sessions_app import services as session_services
from tests.relationships.lifecycle.support import HOLD, RELEASE, history, url
from tests.support import (
    NOW,
    Tenant,
    at,
    balance,
    entries,
    holds,
    member,
    paired,
    past_grant,
    propose,
    set_policy,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("clock")]


def test_raising_the_allocation_holds_more(tenant_a: Tenant) -> None:
    grant = past_grant(tenant_a.student, 600)
    rel = propose(tenant_a, quantity=300)
    services.relationship_change_allocation(
        membership=member(tenant_a.admin), relationship=rel, quantity=420, reason="More exams"
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
            membership=member(tenant_a.admin), relationship=rel, quantity=700
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
        membership=member(tenant_a.provider_user),
        relationship=rel,
        starts_at=at(10, 15),
        duration=90,
    )
    assert balance(grant) == (600, 90, 210)

    services.relationship_change_allocation(
        membership=member(tenant_a.admin), relationship=rel, quantity=120
    )
    assert balance(grant) == (600, 90, 30)
    assert holds(rel) == [(grant.pk, 30, 90)]
    assert entries(relationship=rel, kind=RELEASE) == [(RELEASE, 0, 0, -180)]
    assert GrantEntry.objects.filter(kind=RELEASE).get().reason == "Allocation lowered"

    with pytest.raises(RelationshipError) as refused:
        services.relationship_change_allocation(
            membership=member(tenant_a.admin), relationship=rel, quantity=89
        )
    assert refused.value.message == (
        "1 h 30 min are already consumed; the allocation cannot go below that."
    )
    assert balance(grant) == (600, 90, 30)

    # Exactly what is consumed is allowed: nothing stays held.
    services.relationship_change_allocation(
        membership=member(tenant_a.admin), relationship=rel, quantity=90
    )
    assert balance(grant) == (600, 90, 0)
    # The same allocation again changes nothing.
    services.relationship_change_allocation(
        membership=member(tenant_a.admin), relationship=rel, quantity=90
    )
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
        membership=member(tenant_a.provider_user),
        relationship=rel,
        starts_at=at(10, 15),
        duration=90,
    )
    admin = tenant_a.admin
    services.relationship_change_allocation(
        membership=member(admin), relationship=rel, quantity=420, reason="  More exams "
    )
    services.relationship_change_allocation(
        membership=member(admin), relationship=rel, quantity=120
    )
    # No change, no entry.
    services.relationship_change_allocation(
        membership=member(admin), relationship=rel, quantity=120
    )
    with pytest.raises(RelationshipError):
        services.relationship_change_allocation(
            membership=member(admin), relationship=rel, quantity=60
        )
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
    for k, (how, reason, because) in enumerate(
        (
            ("cancel", "Moved away", "The relationship was cancelled: Moved away"),
            ("complete", "", "The relationship was completed"),
            ("complete", "Exam passed", "The relationship was completed: Exam passed"),
        )
    ):
        rel = paired(tenant_a, quantity=300)
        done = sessions.session_log(
            membership=member(tenant_a.admin), relationship=rel, starts_at=at(10, 9), duration=60
        )
        due = sessions.session_log(
            membership=member(tenant_a.admin),
            relationship=rel,
            # Each round's at its own hour: it stays live, and one provider's live sessions
            # never overlap.
            starts_at=at(11, 9 + k),
            duration=60,
            scheduled=True,
        )
        soon = sessions.session_log(
            membership=member(tenant_a.admin),
            relationship=rel,
            starts_at=NOW + timedelta(hours=2),  # inside the late window: still not charged
            duration=60,
            scheduled=True,
        )
        later = sessions.session_log(
            membership=member(tenant_a.admin),
            relationship=rel,
            starts_at=at(18, 9),
            duration=90,
            scheduled=True,
        )
        end = {"cancel": services.relationship_cancel, "complete": services.relationship_complete}
        end[how](membership=member(tenant_a.admin), relationship=rel, reason=reason)

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
    services.relationship_decline(membership=member(tenant_a.provider_user), relationship=rel)
    with pytest.raises(ConflictError) as refused:
        services.relationship_change_allocation(
            membership=member(tenant_a.admin), relationship=rel, quantity=60
        )
    assert refused.value.message == "Only a proposed or paired relationship holds hours."
    assert balance(grant) == (600, 0, 0)
