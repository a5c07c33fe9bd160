from celery import shared_task

from sessions_app import missed


@shared_task
def mark_missed_sessions() -> int:
    """Every 15 minutes: scheduled sessions not logged within the grace window become missed."""
    return missed.mark_missed()
