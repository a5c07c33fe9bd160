from celery import shared_task

from grants import notices, services


@shared_task
def expire_due_grants() -> int:
    """Daily: expire grants past their date and release their holds. Safe to run twice."""
    return services.expire_due_grants()


@shared_task
def warn_expiring_grants() -> int:
    """Daily: tell students of hours expiring in 14 and in 3 days. Safe to run twice."""
    return notices.warn_expiring()
