from celery import shared_task

from grants import services


@shared_task
def expire_due_grants() -> int:
    """Daily: expire grants past their date and release their holds. Safe to run twice."""
    return services.expire_due_grants()
