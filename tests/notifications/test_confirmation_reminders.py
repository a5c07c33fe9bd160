"""The student's reminder of a session still to confirm (docs/notifications.md), with the clock
moved: once, two days after the session where the center requires confirmation, never once the
session is confirmed or disputed (checked again as it leaves)."""

from datetime import timedelta

import pytest

from notifications.models import DeliveryStatus, EmailDelivery
from notifications.tasks import send_email
from sessions_app import services as session_services
from sessions_app.notices import CONFIRMATION_DONE
from sessions_app.reminders import send_confirmation_reminders
from tests.notifications.support import email_to, html_of, inbox
from tests.support import NOW, Tenant, at, log, member, paired, past_grant, set_policy

pytestmark = pytest.mark.usefixtures("clock")


@pytest.fixture
def session(tenant_a: Tenant):  # type: ignore[no-untyped-def]
    set_policy(tenant_a.organization, require_student_confirmation=True)
    past_grant(tenant_a.student, 1200)
    relationship = paired(tenant_a, quantity=600)
    return log(tenant_a, relationship, at(10, 15))  # June 10, 15:00; logged June 11


def run_job(capture) -> int:  # type: ignore[no-untyped-def]
    with capture(execute=True):
        return send_confirmation_reminders()


def recalls(outbox) -> list[str]:  # type: ignore[no-untyped-def]
    return sorted(a for m in outbox if "Please confirm" in m.subject for a in m.to)


def test_a_session_still_to_confirm_is_recalled_once_two_days_after(
    tenant_a: Tenant, session, mailoutbox, time_machine, django_capture_on_commit_callbacks
) -> None:
    org = tenant_a.organization
    assert run_job(django_capture_on_commit_callbacks) == 0  # the day after: not yet

    time_machine.move_to(NOW + timedelta(days=2))
    assert run_job(django_capture_on_commit_callbacks) == 1
    assert run_job(django_capture_on_commit_callbacks) == 0
    time_machine.move_to(NOW + timedelta(days=5))
    assert run_job(django_capture_on_commit_callbacks) == 0  # once only

    student = tenant_a.student
    assert recalls(mailoutbox) == sorted([student.email, student.guardian_email])
    email = email_to(mailoutbox, student.email)
    assert email.subject == (
        f"[Matchpal] Please confirm the session of Jun 10 with {tenant_a.provider.name}"
    )
    link = f"http://localhost:8000/o/{org.slug}/sessions/{session.public_id}/"
    assert f"Confirm the session: {link}" in email.body
    assert f'href="{link}"' in html_of(email)
    assert inbox(tenant_a.student_user, org)[0][0] == "confirmation_pending"


def test_a_confirmed_or_disputed_session_is_not_recalled(
    tenant_a: Tenant, session, mailoutbox, time_machine, django_capture_on_commit_callbacks
) -> None:
    org = tenant_a.organization
    second = log(tenant_a, session.relationship, at(9, 10))
    session_services.session_confirm(membership=member(tenant_a.student_user, org), session=session)
    session_services.session_dispute(
        membership=member(tenant_a.student_user, org), session=second, reason="Too short"
    )
    time_machine.move_to(NOW + timedelta(days=2))

    assert run_job(django_capture_on_commit_callbacks) == 0
    assert recalls(mailoutbox) == []


def test_a_recall_planned_before_the_confirmation_is_not_sent(
    tenant_a: Tenant, session, mailoutbox, time_machine
) -> None:
    org = tenant_a.organization
    time_machine.move_to(NOW + timedelta(days=2))
    assert send_confirmation_reminders() == 1  # planned; the emails wait for the commit
    session_services.session_confirm(membership=member(tenant_a.student_user, org), session=session)

    for delivery in EmailDelivery.objects.filter(kind="confirmation_pending"):
        send_email.apply(args=[delivery.pk])

    assert recalls(mailoutbox) == []
    assert set(
        EmailDelivery.objects.filter(kind="confirmation_pending").values_list("status", "error")
    ) == {(DeliveryStatus.SKIPPED, CONFIRMATION_DONE)}


def test_a_center_without_confirmation_recalls_nothing(
    tenant_a: Tenant, session, mailoutbox, time_machine, django_capture_on_commit_callbacks
) -> None:
    set_policy(tenant_a.organization, require_student_confirmation=False)
    time_machine.move_to(NOW + timedelta(days=2))
    assert run_job(django_capture_on_commit_callbacks) == 0


def test_the_beat_schedule_runs_the_recall_job_hourly() -> None:
    from celery.schedules import crontab

    from matchpal.celery import app
    from sessions_app.tasks import send_confirmation_reminders as task

    [entry] = [e for e in app.conf.beat_schedule.values() if e["task"] == task.name]
    assert entry["schedule"] == crontab(minute=50)
    assert task.name in app.tasks
