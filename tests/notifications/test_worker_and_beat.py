"""End to end on the real parts: Celery beat (in a thread) sends the reminder job to the Redis
broker as the schedule declares it, a real worker runs it against this test's database, the
send task it queues runs on the same worker, and the email lands in a folder the file backend
writes (docs/notifications.md)."""

import email
import email.policy
import time
from datetime import timedelta
from pathlib import Path

import pytest
from celery.beat import EmbeddedService
from django.db import close_old_connections
from django.utils import timezone

from matchpal.celery import app as celery_app
from notifications.models import DeliveryStatus, EmailDelivery
from tests.integrations.test_worker import real_worker
from tests.support import Tenant, log, make_tenant, paired, past_grant

pytestmark = [pytest.mark.django_db(transaction=True)]


def wait_for(condition, timeout: float = 60.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        close_old_connections()
        if condition():
            return True
        time.sleep(0.2)
    return False


def test_beat_and_a_real_worker_take_a_scheduled_session_to_its_reminder_in_the_mailbox(
    settings, tmp_path: Path
) -> None:
    assert celery_app.conf.broker_url.startswith("redis://"), celery_app.conf.broker_url
    tenant: Tenant = make_tenant("Alpha Tutoring", "alpha")
    past_grant(tenant.student, 1200)
    relationship = paired(tenant, quantity=600)
    starts = timezone.now() + timedelta(hours=20)
    session = log(tenant, relationship, starts.replace(second=0, microsecond=0), 60, scheduled=True)
    mailbox = tmp_path / "mail"
    settings.MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.filebased.EmailBackend",
            "OPTIONS": {"file_path": str(mailbox)},
        }
    }
    declared = celery_app.conf.beat_schedule["session-reminders"]
    saved = celery_app.conf.beat_schedule
    # The declared job, every second instead of every five minutes.
    celery_app.conf.beat_schedule = {"session-reminders": {**declared, "schedule": 1.0}}
    beat = EmbeddedService(
        celery_app, thread=True, schedule_filename=str(tmp_path / "beat-schedule")
    )
    try:
        with real_worker() as received:
            beat.start()
            assert wait_for(
                lambda: (
                    EmailDelivery.objects.filter(
                        kind="session_reminder", status=DeliveryStatus.SENT
                    ).count()
                    == 3
                )
            ), list(EmailDelivery.objects.values("to", "status", "error"))
            beat.stop()
    finally:
        celery_app.conf.beat_schedule = saved

    assert "sessions_app.tasks.send_session_reminders" in received
    assert "notifications.tasks.send_email" in received
    emails = [
        # The default policy unfolds headers. A subject too long for its line (a long name) is
        # written on the next one, "Subject:" then a folded line, as Python's email package
        # folds it for SMTP; unfolded, it keeps the fold's leading space, hence the strip below.
        email.message_from_string(chunk.strip(), policy=email.policy.default)
        for path in sorted(mailbox.iterdir())
        for chunk in path.read_text().split("-" * 79)
        if chunk.strip()
    ]
    assert sorted(m["To"] for m in emails) == sorted(
        [tenant.student.email, tenant.student.guardian_email, tenant.provider.email]
    )
    for message in emails:
        assert message["Subject"].strip().startswith("[Matchpal] Reminder: session ")
        text = next(p for p in message.walk() if p.get_content_type() == "text/plain")
        assert f"/o/alpha/sessions/{session.public_id}/" in text.get_payload(decode=True).decode()
    # Beat ran the job many times: each reminder was sent once.
    assert EmailDelivery.objects.filter(kind="session_reminder").count() == 3
