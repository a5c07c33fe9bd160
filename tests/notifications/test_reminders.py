"""Session reminders with the clock moved: the center's (24 h by default) and one an hour before,
once each, re-checked as they leave (never for a session cancelled, moved or logged since)."""

from datetime import timedelta

import pytest

from notifications.models import DeliveryStatus, EmailDelivery
from sessions_app import services as session_services
from sessions_app.notices import REMINDER_CANCELLED, REMINDER_LOGGED, REMINDER_MOVED
from sessions_app.reminders import send_session_reminders
from tests.notifications.support import inbox, told
from tests.support import NOW, Tenant, log, member, paired, past_grant, set_policy

pytestmark = pytest.mark.usefixtures("clock")

STARTS = NOW + timedelta(hours=30)  # Thursday Jun 12, 18:00 in New York


@pytest.fixture
def session(tenant_a: Tenant):  # type: ignore[no-untyped-def]
    past_grant(tenant_a.student, 1200)
    relationship = paired(tenant_a, quantity=600)
    return log(tenant_a, relationship, STARTS, 60, scheduled=True)


def reminders(outbox) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    return [(a, s) for a, s in told(outbox) if "Reminder" in s]


def run_job(capture) -> int:  # type: ignore[no-untyped-def]
    with capture(execute=True):
        return send_session_reminders()


def test_the_24_hour_and_the_1_hour_reminder_each_leave_once(
    tenant_a: Tenant, session, mailoutbox, time_machine, django_capture_on_commit_callbacks
) -> None:
    assert run_job(django_capture_on_commit_callbacks) == 0  # 30 hours ahead: not yet

    time_machine.move_to(STARTS - timedelta(hours=23, minutes=55))
    assert run_job(django_capture_on_commit_callbacks) == 1
    assert run_job(django_capture_on_commit_callbacks) == 0  # a second run tells nobody

    student, provider = tenant_a.student, tenant_a.provider
    assert reminders(mailoutbox) == sorted(
        [
            (provider.email, f"[Matchpal] Reminder: session tomorrow at 18:00 with {student.name}"),
            (student.email, f"[Matchpal] Reminder: session tomorrow at 18:00 with {provider.name}"),
            (
                student.guardian_email,
                f"[Matchpal] Reminder: session tomorrow at 18:00 with {provider.name}",
            ),
        ]
    )
    body = next(m for m in mailoutbox if provider.email in m.to and "Reminder" in m.subject).body
    assert "When: Thursday Jun 12, 2025 18:00 (America/New_York)" in body
    assert f"/o/{tenant_a.organization.slug}/sessions/{session.public_id}/" in body

    mailoutbox.clear()
    time_machine.move_to(STARTS - timedelta(minutes=50))
    assert run_job(django_capture_on_commit_callbacks) == 1
    assert [s for a, s in reminders(mailoutbox) if a == student.email] == [
        f"[Matchpal] Reminder: session today at 18:00 with {provider.name}"
    ]
    time_machine.move_to(STARTS + timedelta(minutes=5))
    assert run_job(django_capture_on_commit_callbacks) == 0
    kinds = [k for k, _ in inbox(tenant_a.student_user, tenant_a.organization)]
    assert kinds[:2] == ["session_reminder", "session_reminder"]


def test_the_centers_hours_decide_the_first_reminder(
    tenant_a: Tenant, session, mailoutbox, django_capture_on_commit_callbacks
) -> None:
    set_policy(tenant_a.organization, session_reminder_hours=48)

    assert run_job(django_capture_on_commit_callbacks) == 1
    assert (
        EmailDelivery.objects.filter(
            kind="session_reminder", dispatch__occasion__startswith="48h@"
        ).count()
        == 3
    )


@pytest.mark.parametrize("change", ["cancelled", "moved", "logged"])
def test_a_reminder_planned_before_a_change_is_not_sent(
    change: str,
    tenant_a: Tenant,
    session,
    mailoutbox,
    time_machine,
    django_capture_on_commit_callbacks,
) -> None:
    time_machine.move_to(STARTS - timedelta(hours=2))
    # The job plans the reminder; its emails wait for the worker (the captured callbacks).
    with django_capture_on_commit_callbacks(execute=False) as sends:
        assert send_session_reminders() == 1
    admin = member(tenant_a.admin)
    with django_capture_on_commit_callbacks(execute=False):
        if change == "cancelled":
            session_services.session_cancel(membership=admin, session=session, reason="Ill")
        elif change == "moved":
            session_services.session_reschedule(
                membership=admin, session=session, starts_at=STARTS + timedelta(days=1)
            )
        else:
            time_machine.move_to(STARTS + timedelta(hours=1))
            session_services.session_complete(membership=admin, session=session, notes="Done")
    mailoutbox.clear()

    for send in sends:
        send()

    assert reminders(mailoutbox) == []
    reason = {
        "cancelled": REMINDER_CANCELLED,
        "moved": REMINDER_MOVED,
        "logged": REMINDER_LOGGED,
    }[change]
    assert set(
        EmailDelivery.objects.filter(kind="session_reminder").values_list("status", "error")
    ) == {(DeliveryStatus.SKIPPED, reason)}


def test_a_moved_session_gets_the_reminder_of_its_new_time(
    tenant_a: Tenant, session, mailoutbox, time_machine, django_capture_on_commit_callbacks
) -> None:
    time_machine.move_to(STARTS - timedelta(hours=20))
    run_job(django_capture_on_commit_callbacks)
    new_start = STARTS + timedelta(hours=3)
    session_services.session_reschedule(
        membership=member(tenant_a.admin), session=session, starts_at=new_start
    )
    mailoutbox.clear()

    time_machine.move_to(new_start - timedelta(minutes=30))
    assert run_job(django_capture_on_commit_callbacks) == 1

    assert [s for a, s in reminders(mailoutbox) if a == tenant_a.provider.email] == [
        f"[Matchpal] Reminder: session today at 21:00 with {tenant_a.student.name}"
    ]


def test_a_cancelled_session_is_not_reminded(
    tenant_a: Tenant, session, mailoutbox, time_machine, django_capture_on_commit_callbacks
) -> None:
    session_services.session_cancel(
        membership=member(tenant_a.admin), session=session, reason="Ill"
    )
    time_machine.move_to(STARTS - timedelta(hours=2))

    assert run_job(django_capture_on_commit_callbacks) == 0
    assert reminders(mailoutbox) == []


def test_an_unlogged_session_nudges_its_provider_after_it_ends_and_before_the_deadline(
    tenant_a: Tenant, session, mailoutbox, time_machine, django_capture_on_commit_callbacks
) -> None:
    time_machine.move_to(STARTS + timedelta(minutes=30))  # under way: nothing yet
    run_job(django_capture_on_commit_callbacks)
    assert [s for _, s in told(mailoutbox) if "Log" in s or "log" in s] == []

    time_machine.move_to(STARTS + timedelta(minutes=70))
    assert run_job(django_capture_on_commit_callbacks) == 1
    assert run_job(django_capture_on_commit_callbacks) == 0
    time_machine.move_to(STARTS + timedelta(hours=61))  # 72-hour window: 11 hours left
    assert run_job(django_capture_on_commit_callbacks) == 1
    time_machine.move_to(STARTS + timedelta(hours=73))  # closed: only an admin logs it now
    assert run_job(django_capture_on_commit_callbacks) == 0

    student = tenant_a.student.name
    assert [(a, s) for a, s in told(mailoutbox) if "og the session" in s] == [
        (
            tenant_a.provider.email,
            f"[Matchpal] Last day to log the session of Jun 12 with {student}",
        ),
        (tenant_a.provider.email, f"[Matchpal] Log the session of Jun 12 with {student}"),
    ]
    body = next(m for m in mailoutbox if m.subject.startswith("[Matchpal] Log")).body
    assert "Log it by Sunday Jun 15, 18:00; after that only an admin can." in body
    assert f"/sessions/{session.public_id}/complete/" in body


def test_a_logged_session_is_not_nudged(
    tenant_a: Tenant, session, mailoutbox, time_machine, django_capture_on_commit_callbacks
) -> None:
    time_machine.move_to(STARTS + timedelta(minutes=70))
    session_services.session_complete(
        membership=member(tenant_a.provider_user), session=session, notes="Done"
    )

    assert run_job(django_capture_on_commit_callbacks) == 0
