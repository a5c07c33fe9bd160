"""The delivery log: every email recorded; an SMTP failure retried with backoff by Celery and
ending failed with its error; a row delivered twice sends once."""

import smtplib

import pytest
from django.core.mail.backends.base import BaseEmailBackend

from matchpal.celery import app as celery_app
from notifications import services
from notifications.models import DeliveryStatus, EmailDelivery
from notifications.tasks import MAX_RETRIES, backoff, send_email
from tests.factories import make_grant
from tests.support import Tenant


class RefusingBackend(BaseEmailBackend):
    """An SMTP server that refuses every message."""

    def send_messages(self, email_messages):  # type: ignore[no-untyped-def]
        raise smtplib.SMTPRecipientsRefused({"x@example.net": (550, b"Mailbox unavailable")})


REFUSING = {"default": {"BACKEND": "tests.notifications.test_delivery.RefusingBackend"}}


@pytest.fixture
def retries_inline():  # type: ignore[no-untyped-def]
    """Eager, apply() runs each retry at once only when a Retry is not raised to the caller."""
    saved = celery_app.conf.task_eager_propagates
    celery_app.conf.task_eager_propagates = False
    yield
    celery_app.conf.task_eager_propagates = saved


def test_backoff_doubles_from_a_minute() -> None:
    assert [backoff(n) for n in range(MAX_RETRIES)] == [60, 120, 240, 480, 960]


def test_a_refused_email_is_retried_then_ends_failed_with_the_error(
    tenant_a: Tenant, settings, django_capture_on_commit_callbacks, mailoutbox, retries_inline
) -> None:
    settings.MAILERS = REFUSING
    with django_capture_on_commit_callbacks(execute=False):
        make_grant(student=tenant_a.student, minutes=600)
    emails = EmailDelivery.objects.filter(kind="hours_granted")

    for pk in emails.values_list("pk", flat=True):
        # Eager, Celery's apply() runs each retry at once; a worker waits backoff(n) first.
        send_email.apply(args=[pk], throw=False)
    assert {(e.status, e.attempts) for e in emails} == {(DeliveryStatus.FAILED, MAX_RETRIES + 1)}
    assert {e.error for e in emails} == {
        "SMTPRecipientsRefused: {'x@example.net': (550, b'Mailbox unavailable')}"
    }
    assert all(e.sent_at is None for e in emails)


def test_a_retry_that_succeeds_ends_sent(
    tenant_a: Tenant, settings, django_capture_on_commit_callbacks, mailoutbox
) -> None:
    settings.MAILERS = REFUSING
    with django_capture_on_commit_callbacks(execute=False) as sends:
        make_grant(student=tenant_a.student, minutes=600)
    email = EmailDelivery.objects.get(to=tenant_a.student.email)
    with pytest.raises(smtplib.SMTPException):
        services.deliver(delivery_id=email.pk)
    services.delivery_failed(delivery_id=email.pk, error="SMTPServerDisconnected", final=False)
    settings.MAILERS = {"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}
    del sends  # the first attempt is the one above

    send_email.delay(email.pk)

    email.refresh_from_db()
    assert (email.status, email.attempts, email.error) == (DeliveryStatus.SENT, 2, "")
    assert [m.to for m in mailoutbox] == [[tenant_a.student.email]]


def test_a_send_task_delivered_twice_sends_once(
    tenant_a: Tenant, django_capture_on_commit_callbacks, mailoutbox
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        make_grant(student=tenant_a.student, minutes=600)
    email = EmailDelivery.objects.get(to=tenant_a.student.email)
    mailoutbox.clear()

    assert send_email.delay(email.pk).get() == ""

    assert mailoutbox == []
