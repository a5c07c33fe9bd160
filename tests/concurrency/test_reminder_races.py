"""Two runs of the reminder job at once (two beat processes, a job overlapping itself) send one
reminder: the send's key (kind, session, occasion) is claimed under a unique constraint before
anything is sent (docs/notifications.md)."""

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from notifications.models import Dispatch, EmailDelivery
from notifications.services import Audience, Message, notify, person
from sessions_app.reminders import send_session_reminders
from tests.support import Tenant, log, paired, past_grant
from tests.threads import run_together

pytestmark = [pytest.mark.concurrency, pytest.mark.django_db(transaction=True)]


def test_two_reminder_jobs_at_once_send_one_email_each(tenant_a: Tenant, mailoutbox) -> None:
    past_grant(tenant_a.student, 1200)
    relationship = paired(tenant_a, quantity=600)
    starts = (timezone.now() + timedelta(hours=5)).replace(second=0, microsecond=0)
    log(tenant_a, relationship, starts, 60, scheduled=True)
    mailoutbox.clear()

    outcomes = run_together(send_session_reminders, send_session_reminders)

    assert sorted(outcomes) == [("ok", 0), ("ok", 1)]
    assert Dispatch.objects.filter(kind="session_reminder").count() == 1
    reminders = [m for m in mailoutbox if "Reminder" in m.subject]
    assert sorted(address for m in reminders for address in m.to) == sorted(
        [tenant_a.student.email, tenant_a.student.guardian_email, tenant_a.provider.email]
    )
    assert EmailDelivery.objects.filter(kind="session_reminder").count() == 3


def test_the_key_alone_refuses_a_second_claim_in_flight(tenant_a: Tenant) -> None:
    """Without the session lock (a reminder kind of another app, an event told twice): two
    transactions claiming the same key at once, one wins."""

    def claim() -> bool:
        with transaction.atomic():
            return notify(
                organization=tenant_a.organization,
                kind="hours_short",
                about="relationship:raced",
                occasion="1h@2026-01-01T10:00Z",
                audiences=[Audience([person(tenant_a.provider)], Message("Hi", "Hello"))],
            )

    outcomes = run_together(claim, claim, claim)

    assert sorted(outcomes) == [("ok", False), ("ok", False), ("ok", True)]
    assert EmailDelivery.objects.filter(dispatch__object_key="relationship:raced").count() == 1
