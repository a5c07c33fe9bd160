"""Charged late cancellations and no-shows (docs/sessions.md, "Charges"): charged only as far as
the hours cover them, never refused for lack of hours; cancelling a completed or no-show
session always gives its hours back. Balances to the minute, the ledger entries written, and
what the admins are told."""

from datetime import timedelta

import pytest
from django.urls import reverse

from grants.models import EntryKind
from grants.reconcile import find_differences
from matchpal.models import Notification
from relationships import services as rel_services
from sessions_app import services
from sessions_app.models import Session
from sessions_app.services import NO_SHOW_NOT_STARTED, SessionRuleError
from tests.support import (
    NOW,
    Tenant,
    at,
    balance,
    entries,
    fresh,
    holds,
    log_as_admin,
    mails,
    member,
    paired,
    past_grant,
    set_policy,
)

# The notices these tests are about (others, of other kinds, are tests/notifications').
TOLD = Notification.objects.filter(kind="hours_short")

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("clock")]

CONSUME, RESTORE = EntryKind.CONSUME, EntryKind.RESTORE


def charged(session: Session) -> tuple[str, int, int]:
    session = fresh(session)
    return session.status, session.charged_minutes, session.charge_shortfall


def notice(tenant: Tenant, what: str, when: str, got: str, wanted: str) -> str:
    return (
        f"The {what} of {tenant.student.name}'s session of {when} with {tenant.provider.name} "
        f"was charged {got} instead of {wanted}: the hours did not cover the rest."
    )


def told(tenant: Tenant, session: Session) -> list[tuple[int, str, str]]:
    link = reverse("sessions_app:detail", args=[tenant.organization.slug, session.public_id])
    return [
        (user, text, url == link) for user, text, url in TOLD.values_list("user", "text", "link")
    ]


# --- Never refused for lack of hours ---------------------------------------------------------


def test_a_late_cancellation_short_of_hours_charges_what_the_hold_covers(
    tenant_a: Tenant, django_capture_on_commit_callbacks, mailoutbox
) -> None:
    set_policy(tenant_a.organization, late_cancellation_charge="full")
    grant = past_grant(tenant_a.student, 900)
    rel = paired(tenant_a, quantity=30)
    session = log_as_admin(tenant_a, rel, NOW + timedelta(hours=3), 90, scheduled=True)

    with django_capture_on_commit_callbacks(execute=True):
        services.session_cancel(
            membership=member(tenant_a.provider_user), session=session, reason="Sick"
        )

    assert charged(session) == ("cancelled", 30, 60)
    assert fresh(session).cancellation_reason == "Sick"
    # The refuse policy does not draw: the 30 min hold is all there is to charge.
    assert entries(session=session) == [(CONSUME, 0, 30, -30)]
    assert balance(grant) == (900, 30, 0)
    assert holds(rel) == [(grant.pk, 0, 30)]
    text = notice(tenant_a, "late cancellation", "Jun 11", "30 min", "1 h 30 min")
    assert told(tenant_a, session) == [(tenant_a.admin.pk, text, True)]
    assert mails(mailoutbox, "hours_short") == [
        (f"[Matchpal] {text[:120]}", text, [tenant_a.admin.email])
    ]
    assert find_differences() == []


def test_with_the_draw_policy_the_balance_pays_what_the_hold_cannot(tenant_a: Tenant) -> None:
    set_policy(tenant_a.organization, late_cancellation_charge="full", insufficient_hours="draw")
    grant = past_grant(tenant_a.student, 100)
    rel = paired(tenant_a, quantity=30)
    session = log_as_admin(tenant_a, rel, NOW + timedelta(hours=2), 120, scheduled=True)

    services.session_cancel(membership=member(tenant_a.admin), session=session, reason="Exam moved")

    # 30 min from the hold, the 70 min left of the balance; 20 min not charged.
    assert charged(session) == ("cancelled", 100, 20)
    assert entries(session=session) == [(CONSUME, 0, 30, -30), (CONSUME, 0, 70, 0)]
    assert balance(grant) == (100, 100, 0)
    text = notice(tenant_a, "late cancellation", "Jun 11", "1 h 40 min", "2 h")
    assert told(tenant_a, session) == [(tenant_a.admin.pk, text, True)]
    assert find_differences() == []


def test_a_late_cancellation_with_nothing_left_is_cancelled_uncharged(tenant_a: Tenant) -> None:
    set_policy(tenant_a.organization, late_cancellation_charge="full")
    grant = past_grant(tenant_a.student, 900)
    rel = paired(tenant_a, quantity=60)
    log_as_admin(tenant_a, rel, at(10, 15), 60)  # uses the whole hold
    session = log_as_admin(tenant_a, rel, NOW + timedelta(hours=1), 45, scheduled=True)

    services.session_cancel(membership=member(tenant_a.admin), session=session, reason="Sick")

    assert charged(session) == ("cancelled", 0, 45)
    assert entries(session=session) == []
    assert balance(grant) == (900, 60, 0)
    text = notice(tenant_a, "late cancellation", "Jun 11", "0 min", "45 min")
    assert told(tenant_a, session) == [(tenant_a.admin.pk, text, True)]
    assert find_differences() == []


def test_a_student_no_show_short_of_sessions_then_corrected(tenant_a: Tenant) -> None:
    set_policy(tenant_a.organization, no_show_charge="full")
    grant = past_grant(tenant_a.student, 5, unit="sessions")
    rel = paired(tenant_a, quantity=1, unit="sessions")
    log_as_admin(tenant_a, rel, at(10, 9))
    absent = log_as_admin(tenant_a, rel, at(11, 9), scheduled=True)
    assert balance(grant) == (5, 1, 0)

    services.session_no_show(
        membership=member(tenant_a.provider_user), session=absent, party="student"
    )

    assert charged(absent) == ("no_show", 0, 1)
    assert fresh(absent).no_show_party == "student"
    assert entries(session=absent) == []
    text = notice(tenant_a, "no-show", "Jun 11", "0 sessions", "1 session")
    assert told(tenant_a, absent) == [(tenant_a.admin.pk, text, True)]

    # Marked by mistake: cancelled, nothing to give back, and nothing is short any more.
    services.session_cancel(
        membership=member(tenant_a.admin), session=absent, reason="Wrongly marked"
    )
    assert charged(absent) == ("cancelled", 0, 0)
    assert balance(grant) == (5, 1, 0)
    assert find_differences() == []


def test_a_student_no_show_covered_in_full_tells_nobody(tenant_a: Tenant) -> None:
    set_policy(tenant_a.organization, no_show_charge="full")
    grant = past_grant(tenant_a.student, 900)
    rel = paired(tenant_a, quantity=600)
    absent = log_as_admin(tenant_a, rel, at(11, 9), 60, scheduled=True)
    services.session_no_show(membership=member(tenant_a.admin), session=absent, party="student")
    assert charged(absent) == ("no_show", 60, 0)
    assert balance(grant) == (900, 60, 540)
    assert not TOLD.exists()


def test_the_detail_page_shows_staff_what_was_not_charged(
    tenant_a: Tenant, admin_client_a, student_client_a
) -> None:
    set_policy(tenant_a.organization, late_cancellation_charge="full")
    past_grant(tenant_a.student, 900)
    rel = paired(tenant_a, quantity=30)
    session = log_as_admin(tenant_a, rel, NOW + timedelta(hours=3), 90, scheduled=True)
    services.session_cancel(membership=member(tenant_a.admin), session=session, reason="Sick")
    url = f"/o/{tenant_a.organization.slug}/sessions/{session.public_id}/"
    line = (
        '<dt class="col-sm-3">Not charged</dt><dd class="col-sm-9">1 h '
        '<span class="text-secondary small">(not enough hours to charge in full)</span></dd>'
    )
    assert line in admin_client_a.get(url).content.decode()
    html = student_client_a.get(url).content.decode()
    assert "Not charged" not in html
    assert '<dt class="col-sm-3">Hours used</dt><dd class="col-sm-9">30 min</dd>' in html


# --- Cancelling corrects a record; only a scheduled session pays a late charge ----------------


def test_cancelling_a_completed_or_no_show_session_always_restores(tenant_a: Tenant) -> None:
    set_policy(tenant_a.organization, late_cancellation_charge="full", no_show_charge="full")
    grant = past_grant(tenant_a.student, 900)
    rel = paired(tenant_a, quantity=600)
    done = log_as_admin(tenant_a, rel, at(11, 9), 90)  # started 3 h ago: inside the 24 h window
    absent = log_as_admin(tenant_a, rel, at(11, 10), 60, scheduled=True)
    services.session_no_show(membership=member(tenant_a.admin), session=absent, party="student")
    assert balance(grant) == (900, 150, 450)

    services.session_cancel(membership=member(tenant_a.admin), session=done, reason="Logged twice")
    services.session_cancel(
        membership=member(tenant_a.admin), session=absent, reason="She was there"
    )

    assert charged(done) == ("cancelled", 0, 0)
    assert charged(absent) == ("cancelled", 0, 0)
    assert entries(session=done) == [(CONSUME, 0, 90, -90), (RESTORE, 0, -90, 90)]
    assert entries(session=absent) == [(CONSUME, 0, 60, -60), (RESTORE, 0, -60, 60)]
    assert balance(grant) == (900, 0, 600)
    assert holds(rel) == [(grant.pk, 600, 0)]
    assert not TOLD.exists()
    assert find_differences() == []


def test_a_scheduled_session_of_an_ended_relationship_is_cancelled_uncharged(
    tenant_a: Tenant,
) -> None:
    """Its hours were released with the relationship: cancelling what is left is bookkeeping,
    not a late cancellation."""
    set_policy(tenant_a.organization, late_cancellation_charge="full")
    grant = past_grant(tenant_a.student, 900)
    rel = paired(tenant_a, quantity=600)
    due = log_as_admin(tenant_a, rel, at(11, 9), 60, scheduled=True)  # 3 h ago, never logged
    rel_services.relationship_complete(membership=member(tenant_a.admin), relationship=rel)
    assert fresh(due).status == "scheduled"

    services.session_cancel(membership=member(tenant_a.admin), session=due, reason="Did not happen")

    assert charged(due) == ("cancelled", 0, 0)
    assert balance(grant) == (900, 0, 0)
    assert not TOLD.exists()
    assert find_differences() == []


# --- No-show only once the session has started ---------------------------------------------


def test_a_session_still_to_come_cannot_be_a_no_show(tenant_a: Tenant, admin_client_a) -> None:
    set_policy(tenant_a.organization, no_show_charge="full")
    grant = past_grant(tenant_a.student, 900)
    rel = paired(tenant_a, quantity=600)
    # An hour and a minute ahead: clear of the session started at NOW below (one provider's
    # live sessions never overlap).
    ahead = log_as_admin(tenant_a, rel, NOW + timedelta(minutes=61), 60, scheduled=True)
    for party in ("student", "provider"):
        with pytest.raises(SessionRuleError) as refused:
            services.session_no_show(membership=member(tenant_a.admin), session=ahead, party=party)
        assert refused.value.message == NO_SHOW_NOT_STARTED
    assert charged(ahead) == ("scheduled", 0, 0)
    assert balance(grant) == (900, 0, 600)

    base = f"/o/{tenant_a.organization.slug}/sessions/{ahead.public_id}/"
    assert "/no-show/" not in admin_client_a.get(base).content.decode()
    response = admin_client_a.post(base + "no-show/", {"party": "student"})
    assert response.context["form"].non_field_errors() == [NO_SHOW_NOT_STARTED]

    # From its start on, it can.
    started = log_as_admin(tenant_a, rel, NOW, 60, scheduled=True)
    assert (
        f"/sessions/{started.public_id}/no-show/"
        in admin_client_a.get(
            f"/o/{tenant_a.organization.slug}/sessions/{started.public_id}/"
        ).content.decode()
    )
    services.session_no_show(membership=member(tenant_a.admin), session=started, party="student")
    assert charged(started) == ("no_show", 60, 0)
    assert balance(grant) == (900, 60, 540)
    assert find_differences() == []


@pytest.mark.parametrize("end", ["complete", "cancel"])
def test_a_student_no_show_of_an_ended_relationship_is_not_charged(
    tenant_a: Tenant, end: str
) -> None:
    """As with a late cancellation: the relationship's hours went back to the student when it
    ended, so a session already due and marked a no-show afterwards charges nothing."""
    set_policy(tenant_a.organization, no_show_charge="full")
    grant = past_grant(tenant_a.student, 900)
    rel = paired(tenant_a, quantity=600)
    due = log_as_admin(tenant_a, rel, at(11, 9), 60, scheduled=True)  # 3 h ago, never logged
    if end == "complete":
        rel_services.relationship_complete(membership=member(tenant_a.admin), relationship=rel)
    else:
        rel_services.relationship_cancel(
            membership=member(tenant_a.admin), relationship=rel, reason="Moved"
        )
    assert fresh(due).status == "scheduled"
    assert balance(grant) == (900, 0, 0)
    before = entries(grant=grant)
    told_before = TOLD.count()

    services.session_no_show(membership=member(tenant_a.admin), session=due, party="student")

    assert charged(due) == ("no_show", 0, 0)
    assert fresh(due).no_show_party == "student"
    assert entries(session=due) == []
    assert entries(grant=grant) == before
    assert balance(grant) == (900, 0, 0)
    assert holds(rel) == [(grant.pk, 0, 0)]
    assert TOLD.count() == told_before  # nothing short: nobody is told
    assert find_differences() == []
