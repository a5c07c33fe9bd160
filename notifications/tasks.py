"""Thin Celery adapters: sending one logged email, with retries and backoff."""

import smtplib

from celery import Task, shared_task

from notifications import services

MAX_RETRIES = 5


def backoff(retries: int) -> int:
    """Seconds before the next attempt: 1, 2, 4, 8, 16 minutes."""
    return int(60 * 2**retries)


@shared_task(bind=True, max_retries=MAX_RETRIES, acks_late=True)
def send_email(self: Task, delivery_id: int) -> str:
    try:
        return services.deliver(delivery_id=delivery_id)
    except (smtplib.SMTPException, OSError) as error:
        final = self.request.retries >= MAX_RETRIES
        services.delivery_failed(
            delivery_id=delivery_id, error=f"{type(error).__name__}: {error}", final=final
        )
        if final:
            return "failed"
        raise self.retry(exc=error, countdown=backoff(self.request.retries)) from error
