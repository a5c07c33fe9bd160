"""The session lifecycle (DESIGN §4, docs/sessions.md): hours to the minute, the ledger
entries written, what each person is told and what each person sees."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse

from grants.models import EntryKind, GrantEntry
from grants.reconcile import find_differences
from grants.services import InsufficientHours
from matchpal.errors import ConflictError
from matchpal.models import Notification
from relationships import services as rel_services
from relationships.models import Relationship
from sessions_app import selectors, services
from sessions_app.models import Session
from sessions_app.services import SessionRuleError
from tests.support import (
    NOW,
    Tenant,
    at,
    balance,
    entries,
    fresh,
    holds,
    log,
    mails,
    member,
    membership,
    paired,
    past_grant,
    second_admin,
    set_policy,
)

# The notices these tests are about (others, of other kinds, are tests/notifications').
TOLD = Notification.objects.filter(kind="dispute_opened")

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("clock")]

CONSUME, RESTORE, RELEASE = EntryKind.CONSUME, EntryKind.RESTORE, EntryKind.RELEASE


@pytest.fixture
def rel(tenant_a: Tenant, grant) -> Relationship:  # type: ignore[no-untyped-def]
    """Paired 30 days ago, holding 10 h of the student's 15 h, at 40.00/h pay and 50.00/h."""
    return paired(
        tenant_a, quantity=600, provider_pay_rate=Decimal("40.00"), client_rate=Decimal("50.00")
    )


# --- Log and schedule ------------------------------------------------------------------------


def test_logging_a_past_session_consumes_exactly_its_duration(tenant_a: Tenant, rel, grant) -> None:
    session = log(
        tenant_a,
        rel,
        at(10, 15, 30),
        75,
        mode="Online",
        notes="Quadratics",
        internal_note="Seemed tired",
    )
    session = fresh(session)
    assert session.status == "completed"
    assert (session.duration_minutes, session.charged_minutes) == (75, 75)
    assert (session.logged_by, session.logged_at) == (tenant_a.provider_user, NOW)
    assert (session.kind, session.mode, session.notes, session.internal_note) == (
        "tutoring",
        "Online",
        "Quadratics",
        "Seemed tired",
    )
    assert session.organization == tenant_a.organization
    assert balance(grant) == (900, 75, 525)
    assert holds(rel) == [(grant.pk, 525, 75)]
    assert entries(session=session) == [(CONSUME, 0, 75, -75)]
    entry = GrantEntry.objects.get(session=session)
    assert (entry.relationship_id, entry.actor, entry.allocation.relationship_id) == (
        rel.pk,
        tenant_a.provider_user,
        rel.pk,
    )
    assert find_differences() == []


def test_consumption_takes_the_soonest_expiring_hold_first(tenant_a: Tenant) -> None:
    later = past_grant(tenant_a.student, 600)
    sooner = past_grant(tenant_a.student, 60, expires_at=NOW + timedelta(days=3))
    rel = paired(tenant_a, quantity=300)
    session = log(tenant_a, rel, at(10, 15), 90)
    assert balance(sooner) == (60, 60, 0)
    assert balance(later) == (600, 30, 210)
    assert entries(session=session) == [(CONSUME, 0, 60, -60), (CONSUME, 0, 30, -30)]
    # Shortened: the last consumed comes back first, to the hold.
    services.session_edit(membership=member(tenant_a.provider_user), session=session, duration=45)
    assert balance(sooner) == (60, 45, 15)
    assert balance(later) == (600, 0, 240)
    assert entries(session=session)[2:] == [(RESTORE, 0, -30, 30), (RESTORE, 0, -15, 15)]
    assert fresh(session).charged_minutes == 45
    assert find_differences() == []


def test_schedule_ahead_then_complete(tenant_a: Tenant, rel, grant, clock) -> None:
    session = log(tenant_a, rel, at(12, 16), 60, scheduled=True, mode="At the center")
    session = fresh(session)
    assert session.status == "scheduled"
    assert (session.charged_minutes, session.logged_by, session.logged_at) == (0, None, None)
    assert balance(grant) == (900, 0, 600)
    assert entries(session=session) == []

    clock.move_to(at(12, 18))
    services.session_complete(
        membership=member(tenant_a.provider_user),
        session=session,
        duration=75,
        notes="Essay structure",
    )
    session = fresh(session)
    assert session.status == "completed"
    assert (session.duration_minutes, session.charged_minutes, session.notes) == (
        75,
        75,
        "Essay structure",
    )
    assert (session.logged_by, session.logged_at) == (tenant_a.provider_user, at(12, 18))
    assert balance(grant) == (900, 75, 525)
    assert entries(session=session) == [(CONSUME, 0, 75, -75)]

    with pytest.raises(ConflictError) as refused:
        services.session_complete(membership=member(tenant_a.provider_user), session=session)
    assert refused.value.message == "This session is completed, not scheduled."
    assert balance(grant) == (900, 75, 525)
    assert find_differences() == []


def test_completing_keeps_the_scheduled_duration_when_none_is_given(
    tenant_a: Tenant, rel, grant
) -> None:
    session = log(tenant_a, rel, at(11, 8), 45, scheduled=True, notes="Plan")
    services.session_complete(membership=member(tenant_a.admin), session=session)
    session = fresh(session)
    assert (session.duration_minutes, session.charged_minutes, session.notes) == (45, 45, "Plan")
    assert balance(grant) == (900, 45, 555)


# --- Edit ------------------------------------------------------------------------------------


def test_editing_longer_consumes_and_shorter_restores_the_difference(
    tenant_a: Tenant, rel, grant
) -> None:
    session = log(tenant_a, rel, at(10, 15), 60)
    services.session_edit(membership=member(tenant_a.provider_user), session=session, duration=90)
    assert fresh(session).charged_minutes == 90
    assert balance(grant) == (900, 90, 510)

    services.session_edit(
        membership=member(tenant_a.provider_user),
        session=session,
        duration=45,
        notes="Corrected",
        internal_note="Left early",
        mode="Online",
    )
    session = fresh(session)
    assert (session.duration_minutes, session.charged_minutes) == (45, 45)
    assert (session.notes, session.internal_note, session.mode) == (
        "Corrected",
        "Left early",
        "Online",
    )
    assert balance(grant) == (900, 45, 555)
    assert holds(rel) == [(grant.pk, 555, 45)]
    assert entries(session=session) == [
        (CONSUME, 0, 60, -60),
        (CONSUME, 0, 30, -30),
        (RESTORE, 0, -45, 45),
    ]
    assert GrantEntry.objects.filter(kind=RESTORE).get().reason == "Session shortened"

    # The same duration, or notes only: no hours move.
    services.session_edit(
        membership=member(tenant_a.admin), session=session, duration=45, notes="Final"
    )
    services.session_edit(membership=member(tenant_a.admin), session=session, notes="Final!")
    assert len(entries(session=session)) == 3
    assert fresh(session).notes == "Final!"
    assert find_differences() == []


def test_shortening_after_the_relationship_ended_returns_hours_to_the_balance(
    tenant_a: Tenant, rel, grant
) -> None:
    session = log(tenant_a, rel, at(10, 15), 90)
    rel_services.relationship_complete(membership=member(tenant_a.admin), relationship=rel)
    assert balance(grant) == (900, 90, 0)
    services.session_edit(membership=member(tenant_a.admin), session=session, duration=60)
    assert balance(grant) == (900, 60, 0)  # 30 min free to book again, not held
    assert entries(session=session)[-1] == (RESTORE, 0, -30, 0)
    assert find_differences() == []


def test_editing_a_scheduled_session_moves_no_hours(tenant_a: Tenant, rel, grant) -> None:
    session = log(tenant_a, rel, at(13, 10), 60, scheduled=True)
    services.session_edit(membership=member(tenant_a.provider_user), session=session, duration=90)
    session = fresh(session)
    assert (session.status, session.duration_minutes, session.charged_minutes) == (
        "scheduled",
        90,
        0,
    )
    assert balance(grant) == (900, 0, 600)


def test_cancelled_and_no_show_sessions_cannot_be_edited(tenant_a: Tenant, rel) -> None:
    cancelled = log(tenant_a, rel, at(10, 9))
    services.session_cancel(membership=member(tenant_a.admin), session=cancelled, reason="Sick")
    absent = log(tenant_a, rel, at(10, 11))
    services.session_no_show(membership=member(tenant_a.admin), session=absent, party="provider")
    for session, message in (
        (cancelled, "A cancelled session cannot be edited."),
        (absent, "A no-show session cannot be edited."),
    ):
        with pytest.raises(ConflictError) as refused:
            services.session_edit(membership=member(tenant_a.admin), session=session, duration=30)
        assert refused.value.message == message


# --- Cancel ----------------------------------------------------------------------------------


def test_cancel_restores_and_needs_a_reason(tenant_a: Tenant, rel, grant) -> None:
    session = log(tenant_a, rel, at(10, 15), 90)
    for reason in ("", "  "):
        with pytest.raises(SessionRuleError) as refused:
            services.session_cancel(
                membership=member(tenant_a.provider_user), session=session, reason=reason
            )
        assert refused.value.message == "Give a reason for the cancellation."
    assert balance(grant) == (900, 90, 510)

    services.session_cancel(
        membership=member(tenant_a.provider_user), session=session, reason="Logged the wrong day "
    )
    session = fresh(session)
    assert (session.status, session.cancellation_reason, session.charged_minutes) == (
        "cancelled",
        "Logged the wrong day",
        0,
    )
    assert balance(grant) == (900, 0, 600)
    assert entries(session=session) == [(CONSUME, 0, 90, -90), (RESTORE, 0, -90, 90)]
    assert GrantEntry.objects.get(kind=RESTORE).reason == "Cancelled: Logged the wrong day"

    with pytest.raises(ConflictError) as refused:
        services.session_cancel(
            membership=member(tenant_a.provider_user), session=session, reason="Again"
        )
    assert refused.value.message == "This session is already cancelled."
    assert balance(grant) == (900, 0, 600)
    assert find_differences() == []


def test_cancelling_a_scheduled_session_moves_no_hours(tenant_a: Tenant, rel, grant) -> None:
    session = log(tenant_a, rel, at(14, 10), scheduled=True)
    services.session_cancel(
        membership=member(tenant_a.provider_user), session=session, reason="Holiday"
    )
    assert fresh(session).status == "cancelled"
    assert balance(grant) == (900, 0, 600)
    assert entries(session=session) == []


def test_late_cancellation_charged_in_full(tenant_a: Tenant, rel, grant) -> None:
    set_policy(
        tenant_a.organization, late_cancellation_charge="full", late_cancellation_window_hours=24
    )
    # Scheduled 23 h ahead: inside the window, charged in full.
    inside = log(tenant_a, rel, NOW + timedelta(hours=23), 90, scheduled=True)
    services.session_cancel(membership=member(tenant_a.admin), session=inside, reason="Forgot")
    inside = fresh(inside)
    assert (inside.status, inside.charged_minutes) == ("cancelled", 90)
    assert entries(session=inside) == [(CONSUME, 0, 90, -90)]
    assert balance(grant) == (900, 90, 510)

    # Completed, so inside the window too, but cancelling it corrects a wrong log: every
    # consumed minute comes back, to the hold.
    done = log(tenant_a, rel, at(10, 15), 60)
    assert balance(grant) == (900, 150, 450)
    services.session_cancel(
        membership=member(tenant_a.admin), session=done, reason="Logged by mistake"
    )
    done = fresh(done)
    assert (done.status, done.charged_minutes, done.charge_shortfall) == ("cancelled", 0, 0)
    assert entries(session=done) == [(CONSUME, 0, 60, -60), (RESTORE, 0, -60, 60)]
    assert balance(grant) == (900, 90, 510)

    # Scheduled 25 h ahead: outside the window, nothing charged.
    outside = log(tenant_a, rel, NOW + timedelta(hours=25), 60, scheduled=True)
    services.session_cancel(membership=member(tenant_a.admin), session=outside, reason="Trip")
    assert fresh(outside).charged_minutes == 0
    assert entries(session=outside) == []
    assert balance(grant) == (900, 90, 510)
    assert holds(rel) == [(grant.pk, 510, 90)]
    assert find_differences() == []


def test_late_cancellation_window_of_the_center(tenant_a: Tenant, rel, grant) -> None:
    set_policy(
        tenant_a.organization, late_cancellation_charge="full", late_cancellation_window_hours=48
    )
    session = log(tenant_a, rel, NOW + timedelta(hours=47), 60, scheduled=True)
    services.session_cancel(membership=member(tenant_a.admin), session=session, reason="Sick")
    assert fresh(session).charged_minutes == 60
    assert balance(grant) == (900, 60, 540)


def test_without_a_late_charge_every_cancellation_restores(tenant_a: Tenant, rel, grant) -> None:
    # The default policy: no charge, whenever the cancellation comes.
    inside = log(tenant_a, rel, NOW + timedelta(hours=2), 60, scheduled=True)
    services.session_cancel(membership=member(tenant_a.admin), session=inside, reason="Forgot")
    done = log(tenant_a, rel, at(10, 15), 60)
    services.session_cancel(
        membership=member(tenant_a.admin), session=done, reason="Did not happen"
    )
    assert (fresh(inside).charged_minutes, fresh(done).charged_minutes) == (0, 0)
    assert balance(grant) == (900, 0, 600)
    assert find_differences() == []


# --- No-show ---------------------------------------------------------------------------------


def test_student_no_show_charged_in_full(tenant_a: Tenant, rel, grant) -> None:
    set_policy(tenant_a.organization, no_show_charge="full")
    scheduled = log(tenant_a, rel, at(11, 9), 60, scheduled=True)
    services.session_no_show(
        membership=member(tenant_a.provider_user),
        session=scheduled,
        party="student",
        explanation="  Waited 30 min ",
    )
    scheduled = fresh(scheduled)
    assert (scheduled.status, scheduled.no_show_party, scheduled.no_show_explanation) == (
        "no_show",
        "student",
        "Waited 30 min",
    )
    assert scheduled.charged_minutes == 60
    assert balance(grant) == (900, 60, 540)

    # A session logged as completed, then marked as a student no-show: keeps its charge.
    logged = log(tenant_a, rel, at(10, 9), 45)
    services.session_no_show(
        membership=member(tenant_a.provider_user), session=logged, party="student"
    )
    assert fresh(logged).charged_minutes == 45
    assert entries(session=logged) == [(CONSUME, 0, 45, -45)]
    assert balance(grant) == (900, 105, 495)

    with pytest.raises(ConflictError) as refused:
        services.session_no_show(
            membership=member(tenant_a.provider_user), session=logged, party="student"
        )
    assert refused.value.message == "This session is already no-show."
    assert find_differences() == []


def test_student_no_show_without_a_charge_restores(tenant_a: Tenant, rel, grant) -> None:
    logged = log(tenant_a, rel, at(10, 9), 45)
    scheduled = log(tenant_a, rel, at(11, 9), 60, scheduled=True)
    for session in (logged, scheduled):
        services.session_no_show(
            membership=member(tenant_a.provider_user), session=session, party="student"
        )
    assert (fresh(logged).charged_minutes, fresh(scheduled).charged_minutes) == (0, 0)
    assert entries(session=logged) == [(CONSUME, 0, 45, -45), (RESTORE, 0, -45, 45)]
    assert entries(session=scheduled) == []
    assert balance(grant) == (900, 0, 600)
    assert find_differences() == []


def test_provider_no_show_is_never_charged(tenant_a: Tenant, rel, grant) -> None:
    set_policy(tenant_a.organization, no_show_charge="full")
    logged = log(tenant_a, rel, at(10, 9), 45)
    scheduled = log(tenant_a, rel, at(11, 9), 60, scheduled=True)
    for session in (logged, scheduled):
        services.session_no_show(
            membership=member(tenant_a.admin),
            session=session,
            party="provider",
            explanation="Tutor ill",
        )
    assert (fresh(logged).charged_minutes, fresh(scheduled).charged_minutes) == (0, 0)
    assert fresh(logged).no_show_party == "provider"
    assert balance(grant) == (900, 0, 600)
    assert GrantEntry.objects.get(kind=RESTORE).reason == "No-show"
    assert find_differences() == []


def test_no_show_needs_to_say_who(tenant_a: Tenant, rel, grant) -> None:
    session = log(tenant_a, rel, at(10, 9), 45)
    with pytest.raises(SessionRuleError) as refused:
        services.session_no_show(membership=member(tenant_a.admin), session=session, party="")
    assert refused.value.message == "Say who did not come: the student or the provider."
    assert fresh(session).status == "completed"
    assert balance(grant) == (900, 45, 555)


def test_a_no_show_session_cancelled_gives_its_charge_back(tenant_a: Tenant, rel, grant) -> None:
    set_policy(tenant_a.organization, no_show_charge="full")
    session = log(tenant_a, rel, at(11, 9), 60, scheduled=True)
    services.session_no_show(membership=member(tenant_a.admin), session=session, party="student")
    assert balance(grant) == (900, 60, 540)
    services.session_cancel(
        membership=member(tenant_a.admin), session=session, reason="Wrongly marked"
    )
    assert balance(grant) == (900, 0, 600)
    assert find_differences() == []


# --- Revisions and session units -------------------------------------------------------------


def test_a_revision_consumes_the_policys_value(tenant_a: Tenant, rel, grant) -> None:
    default = log(tenant_a, rel, at(9, 10), 30, kind="revision")
    assert fresh(default).charged_minutes == 60
    set_policy(tenant_a.organization, revision_minutes=45)
    fixed = log(tenant_a, rel, at(10, 10), 90, kind="revision")
    assert fresh(fixed).charged_minutes == 45
    reviewed = log(tenant_a, rel, at(10, 14), 30, kind="revision", review_minutes=20)
    assert fresh(reviewed).charged_minutes == 20
    assert balance(grant) == (900, 125, 475)
    # Its duration may change without changing the charge.
    services.session_edit(membership=member(tenant_a.provider_user), session=fixed, duration=120)
    assert fresh(fixed).charged_minutes == 45
    assert balance(grant) == (900, 125, 475)
    # Cancelling gives back what it consumed.
    services.session_cancel(
        membership=member(tenant_a.provider_user), session=fixed, reason="Duplicate"
    )
    assert balance(grant) == (900, 80, 520)
    assert find_differences() == []


def test_a_scheduled_revision_completed_with_its_review_time(tenant_a: Tenant, rel, grant) -> None:
    session = log(tenant_a, rel, at(11, 9), 30, kind="revision", scheduled=True)
    services.session_complete(
        membership=member(tenant_a.provider_user), session=session, review_minutes=35
    )
    assert fresh(session).charged_minutes == 35
    assert balance(grant) == (900, 35, 565)


def test_a_charged_no_show_or_late_cancellation_of_a_revision_costs_a_revision(
    tenant_a: Tenant, rel, grant
) -> None:
    """Charged "in full" means what the session would have consumed: for a revision, the
    policy's value, not its planned duration."""
    set_policy(
        tenant_a.organization,
        no_show_charge="full",
        late_cancellation_charge="full",
        revision_minutes=45,
    )
    absent = log(tenant_a, rel, at(11, 9), 30, kind="revision", scheduled=True)
    services.session_no_show(
        membership=member(tenant_a.provider_user), session=absent, party="student"
    )
    assert fresh(absent).charged_minutes == 45
    late = log(tenant_a, rel, NOW + timedelta(hours=3), 90, kind="revision", scheduled=True)
    services.session_cancel(
        membership=member(tenant_a.provider_user), session=late, reason="Forgot"
    )
    assert fresh(late).charged_minutes == 45
    assert balance(grant) == (900, 90, 510)
    assert find_differences() == []


def test_sessions_unit_consumes_one_per_session(tenant_a: Tenant) -> None:
    grant = past_grant(tenant_a.student, 10, unit="sessions")
    rel = paired(tenant_a, quantity=4, unit="sessions")
    assert balance(grant) == (10, 0, 4)
    first = log(tenant_a, rel, at(9, 10), 90)
    second = log(tenant_a, rel, at(10, 10), 30, kind="revision")
    assert (fresh(first).charged_minutes, fresh(second).charged_minutes) == (1, 1)
    assert balance(grant) == (10, 2, 2)
    assert entries(session=first) == [(CONSUME, 0, 1, -1)]
    # A longer session is still one session.
    services.session_edit(membership=member(tenant_a.provider_user), session=first, duration=120)
    assert balance(grant) == (10, 2, 2)
    services.session_cancel(
        membership=member(tenant_a.provider_user), session=second, reason="Duplicate"
    )
    assert balance(grant) == (10, 1, 3)
    assert holds(rel) == [(grant.pk, 3, 1)]
    rel_services.relationship_complete(membership=member(tenant_a.admin), relationship=rel)
    assert balance(grant) == (10, 1, 0)
    assert entries(relationship=rel, kind=RELEASE) == [(RELEASE, 0, 0, -3)]
    assert find_differences() == []


def test_minute_grants_do_not_pay_for_a_sessions_relationship(tenant_a: Tenant) -> None:
    past_grant(tenant_a.student, 600)
    sessions = past_grant(tenant_a.student, 2, unit="sessions")
    rel = paired(tenant_a, quantity=2, unit="sessions")
    assert balance(sessions) == (2, 0, 2)
    log(tenant_a, rel, at(9, 10))
    log(tenant_a, rel, at(10, 10))
    with pytest.raises(InsufficientHours) as refused:
        log(tenant_a, rel, at(11, 9))
    assert refused.value.message == (
        "Only 0 sessions are reserved for this relationship; the session needs 1 session."
    )
    assert find_differences() == []


# --- Student confirmation --------------------------------------------------------------------


def test_confirmation_required_before_the_session_counts(tenant_a: Tenant, rel) -> None:
    org = set_policy(tenant_a.organization, require_student_confirmation=True)
    provider_membership = membership(tenant_a.provider_user, org)
    session = log(tenant_a, rel, at(10, 15), 90)
    monday = at(9, 0)
    assert fresh(session).counts_for_earnings is False
    assert (
        selectors.earnings(organization=org, membership=provider_membership, since=monday).minutes
        == 0
    )

    with pytest.raises(SessionRuleError) as refused:
        services.session_confirm(membership=member(tenant_a.provider_user), session=session)
    assert refused.value.message == "Only the student can confirm their session."

    services.session_confirm(membership=member(tenant_a.student_user), session=session)
    session = fresh(session)
    assert session.student_confirmed_at == NOW
    assert session.counts_for_earnings is True
    assert (
        selectors.earnings(organization=org, membership=provider_membership, since=monday).minutes
        == 90
    )
    # Earlier than `since` does not count.
    assert (
        selectors.earnings(
            organization=org, membership=provider_membership, since=at(11, 0)
        ).minutes
        == 0
    )


def test_without_confirmation_a_completed_session_counts_at_once(tenant_a: Tenant, rel) -> None:
    org = tenant_a.organization
    session = log(tenant_a, rel, at(10, 15), 90)
    scheduled = log(tenant_a, rel, at(11, 9), 60, scheduled=True)
    assert fresh(session).counts_for_earnings is True
    assert fresh(scheduled).counts_for_earnings is False
    assert (
        selectors.earnings(
            organization=org, membership=membership(tenant_a.provider_user, org), since=at(9, 0)
        ).minutes
        == 90
    )


def test_only_a_completed_session_can_be_confirmed(tenant_a: Tenant, rel) -> None:
    scheduled = log(tenant_a, rel, at(11, 9), 60, scheduled=True)
    with pytest.raises(ConflictError) as refused:
        services.session_confirm(membership=member(tenant_a.student_user), session=scheduled)
    assert refused.value.message == "Only a completed session can be confirmed."


def test_a_dispute_notifies_the_admins(
    tenant_a: Tenant, rel, django_capture_on_commit_callbacks, mailoutbox
) -> None:
    org = set_policy(tenant_a.organization, require_student_confirmation=True)
    admins = [tenant_a.admin, second_admin(tenant_a)]
    session = log(tenant_a, rel, at(10, 15), 90)
    services.session_confirm(membership=member(tenant_a.student_user), session=session)

    with pytest.raises(SessionRuleError) as refused:
        services.session_dispute(
            membership=member(tenant_a.student_user), session=session, reason=" "
        )
    assert refused.value.message == "Say what is wrong with this session."
    with pytest.raises(SessionRuleError) as refused:
        services.session_dispute(
            membership=member(tenant_a.provider_user), session=session, reason="No"
        )
    assert refused.value.message == "Only the student can dispute their session."
    assert not TOLD.exists()

    with django_capture_on_commit_callbacks(execute=True):
        services.session_dispute(
            membership=member(tenant_a.student_user),
            session=session,
            reason=" It lasted 45 minutes ",
        )
    session = fresh(session)
    assert (session.disputed_at, session.dispute_reason, session.student_confirmed_at) == (
        NOW,
        "It lasted 45 minutes",
        None,
    )
    assert session.counts_for_earnings is False
    text = (
        f"{tenant_a.student.name} disputes the session of Jun 10 with "
        f"{tenant_a.provider.name}: It lasted 45 minutes"
    )
    link = reverse("sessions_app:detail", args=[org.slug, session.public_id])
    assert sorted(TOLD.values_list("user", "text", "link")) == sorted(
        (admin.pk, text, link) for admin in admins
    )
    assert mails(mailoutbox, "dispute_opened") == [
        (
            f"[Matchpal] Disputed session: {tenant_a.student.name}, Jun 10",
            text,
            sorted(admin.email for admin in admins),
        )
    ]


# --- Reports ---------------------------------------------------------------------------------


def test_send_report_to_the_student_and_guardian(
    tenant_a: Tenant, rel, django_capture_on_commit_callbacks, mailoutbox
) -> None:
    student, provider = tenant_a.student, tenant_a.provider
    session = log(tenant_a, rel, at(10, 15, 30), 90, notes="Worked on essay structure.")
    with django_capture_on_commit_callbacks(execute=True):
        services.session_send_report(membership=member(tenant_a.provider_user), session=session)
    sent = fresh(session)
    assert (sent.report_sent_at, sent.report_sent_by) == (NOW, tenant_a.provider_user)
    assert sent.report_sent_to == ", ".join(sorted([student.email, student.guardian_email]))
    assert mails(mailoutbox, "session_report") == [
        (
            f"[Matchpal] Session report: Jun 10 with {provider.name}",
            f"{provider.name}'s report of the session of Tuesday Jun 10, 15:30.",
            sorted([student.email, student.guardian_email]),
        )
    ]


def test_a_report_needs_notes_and_a_completed_session(
    tenant_a: Tenant, rel, django_capture_on_commit_callbacks, mailoutbox
) -> None:
    silent = log(tenant_a, rel, at(10, 15), notes="   ")
    scheduled = log(tenant_a, rel, at(12, 15), scheduled=True, notes="Plan")
    with django_capture_on_commit_callbacks(execute=True):
        with pytest.raises(SessionRuleError) as refused:
            services.session_send_report(membership=member(tenant_a.admin), session=silent)
        assert refused.value.message == "Write the session's notes before sending the report."
        with pytest.raises(ConflictError) as conflict:
            services.session_send_report(membership=member(tenant_a.admin), session=scheduled)
        assert conflict.value.message == "Only a completed session has a report to send."
    assert (fresh(silent).report_sent_at, fresh(scheduled).report_sent_at) == (None, None)
    assert mailoutbox == []


def test_a_report_needs_an_address_to_go_to(
    tenant_a: Tenant, rel, django_capture_on_commit_callbacks, mailoutbox
) -> None:
    session = log(tenant_a, rel, at(10, 15), notes="Fractions")
    type(tenant_a.student).objects.filter(pk=tenant_a.student.pk).update(
        email="", guardian_email=""
    )
    with (
        django_capture_on_commit_callbacks(execute=True),
        pytest.raises(SessionRuleError) as refused,
    ):
        services.session_send_report(membership=member(tenant_a.admin), session=session)
    assert refused.value.message == services.REPORT_NO_RECIPIENT
    assert fresh(session).report_sent_at is None
    assert mailoutbox == []


def test_send_report_from_the_detail_page(
    tenant_a: Tenant, rel, provider_client_a, django_capture_on_commit_callbacks, mailoutbox
) -> None:
    session = log(tenant_a, rel, at(10, 15), notes="Fractions")
    url = f"/o/{tenant_a.organization.slug}/sessions/{session.public_id}/send-report/"
    assert provider_client_a.get(url).status_code == 405
    with django_capture_on_commit_callbacks(execute=True):
        response = provider_client_a.post(url, follow=True)
    assert [str(m) for m in response.context["messages"]] == [
        "The report was sent to the student and guardian."
    ]
    assert len(mails(mailoutbox, "session_report")) == 1
    assert fresh(session).report_sent_at == NOW


# --- What each person sees -------------------------------------------------------------------


def test_internal_note_visible_to_admins_and_the_sessions_provider_only(
    tenant_a: Tenant, rel, admin_client_a, provider_client_a, student_client_a
) -> None:
    session = log(
        tenant_a,
        rel,
        at(10, 15),
        notes="Public recap",
        internal_note="Parents separating; go gently",
    )
    url = f"/o/{tenant_a.organization.slug}/sessions/{session.public_id}/"
    for client, sees in (
        (admin_client_a, True),
        (provider_client_a, True),
        (student_client_a, False),
    ):
        response = client.get(url)
        assert response.status_code == 200
        html = response.content.decode()
        assert "Public recap" in html
        assert ("Parents separating; go gently" in html) is sees
        assert ("Internal note" in html) is sees
        assert response.context["can_see_internal_note"] is sees


def test_earnings_and_client_amount_from_the_relationships_rates(
    tenant_a: Tenant, rel, admin_client_a, student_client_a
) -> None:
    session = log(tenant_a, rel, at(10, 15), 90)
    session = Session.objects.select_related("relationship").get(pk=session.pk)
    assert session.hours == Decimal("1.5")
    assert session.money().provider_earnings == Decimal("60.00")
    assert session.money().client_amount == Decimal("75.00")
    odd = log(tenant_a, rel, at(10, 9), 25)
    odd = Session.objects.select_related("relationship").get(pk=odd.pk)
    money = odd.money()
    assert (money.provider_earnings, money.client_amount) == (Decimal("16.67"), Decimal("20.83"))

    url = f"/o/{tenant_a.organization.slug}/sessions/{session.public_id}/"
    html = admin_client_a.get(url).content.decode()
    assert '<dt class="col-sm-3">Provider earnings</dt><dd class="col-sm-9">60.00</dd>' in html
    assert '<dt class="col-sm-3">Client amount</dt><dd class="col-sm-9">75.00</dd>' in html
    html = student_client_a.get(url).content.decode()
    assert "Provider earnings" not in html
    assert "75.00" not in html


def test_the_detail_page_says_when_earnings_await_confirmation(
    tenant_a: Tenant, rel, provider_client_a, student_client_a
) -> None:
    set_policy(tenant_a.organization, require_student_confirmation=True)
    session = log(tenant_a, rel, at(10, 15), 90)
    url = f"/o/{tenant_a.organization.slug}/sessions/{session.public_id}/"
    html = provider_client_a.get(url).content.decode()
    assert "(does not count yet: awaiting the student's confirmation)" in html
    response = student_client_a.post(url + "confirm/", follow=True)
    assert [str(m) for m in response.context["messages"]] == ["Thank you for confirming."]
    html = provider_client_a.get(url).content.decode()
    assert "does not count yet" not in html


def test_a_student_disputes_from_the_page(
    tenant_a: Tenant, rel, student_client_a, provider_client_a
) -> None:
    session = log(tenant_a, rel, at(10, 15), 90)
    url = f"/o/{tenant_a.organization.slug}/sessions/{session.public_id}/dispute/"
    assert provider_client_a.get(url).status_code == 403
    form = student_client_a.get(url)
    assert form.status_code == 200
    response = student_client_a.post(url, {"reason": ""})
    assert response.context["form"].errors["reason"] == ["This field is required."]
    response = student_client_a.post(url, {"reason": "Shorter than logged"})
    assert response.status_code == 302
    assert fresh(session).dispute_reason == "Shorter than logged"
    assert TOLD.get().user == tenant_a.admin


def test_staff_actions_from_the_pages(
    tenant_a: Tenant, rel, grant, provider_client_a, student_client_a
) -> None:
    session = log(tenant_a, rel, at(10, 15), 60)
    base = f"/o/{tenant_a.organization.slug}/sessions/{session.public_id}/"
    assert student_client_a.post(base + "edit/", {"duration": "30"}).status_code == 403
    assert student_client_a.post(base + "cancel/", {"reason": "x"}).status_code == 403

    edit = provider_client_a.get(base + "edit/")
    assert edit.context["form"]["duration"].value() == 60
    response = provider_client_a.post(base + "edit/", {"duration": "90", "notes": "More"})
    assert response.status_code == 302
    assert balance(grant) == (900, 90, 510)
    response = provider_client_a.post(base + "edit/", {"duration": "7"})
    assert response.context["form"].errors["duration"] == [
        "Select a valid choice. 7 is not one of the available choices."
    ]

    response = provider_client_a.post(
        base + "no-show/", {"party": "student", "explanation": "Not there"}
    )
    assert response.status_code == 302
    assert balance(grant) == (900, 0, 600)
    response = provider_client_a.post(base + "cancel/", {"reason": "Really"})
    assert response.status_code == 302
    assert fresh(session).status == "cancelled"
    response = provider_client_a.post(base + "cancel/", {"reason": "Again"})
    assert response.status_code == 200
    assert response.context["form"].non_field_errors() == ["This session is already cancelled."]
    assert find_differences() == []


def test_completing_from_the_page(tenant_a: Tenant, rel, grant, provider_client_a) -> None:
    session = log(
        tenant_a,
        rel,
        at(11, 9),
        60,
        scheduled=True,
        mode="At the center",
        internal_note="Bring the mock exam",
    )
    url = f"/o/{tenant_a.organization.slug}/sessions/{session.public_id}/complete/"
    form = provider_client_a.get(url).context["form"]
    # The form shows what the session already has, so nothing is lost by saving it.
    assert (form["duration"].value(), form["mode"].value(), form["internal_note"].value()) == (
        60,
        "At the center",
        "Bring the mock exam",
    )
    response = provider_client_a.post(
        url,
        {
            "duration": "45",
            "notes": "Done",
            "mode": "Online",
            "internal_note": "Bring the mock exam; parents asked for a call",
        },
    )
    assert response.status_code == 302
    session = fresh(session)
    assert (session.status, session.charged_minutes) == ("completed", 45)
    # Every field of the form is kept.
    assert (session.notes, session.mode, session.internal_note) == (
        "Done",
        "Online",
        "Bring the mock exam; parents asked for a call",
    )
    assert balance(grant) == (900, 45, 555)
    assert find_differences() == []
