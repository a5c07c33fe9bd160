from celery import shared_task

from relationships import services


@shared_task
def decline_stale_proposals() -> int:
    """Hourly: decline proposals past the organization's response window."""
    return services.decline_stale_proposals()
