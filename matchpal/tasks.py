from celery import shared_task

from matchpal import health, services


@shared_task
def purge_expired_invitations() -> int:
    return services.purge_expired_invitations()


@shared_task(ignore_result=True)
def beat_heartbeat() -> None:
    """Sent by beat every minute; `/readyz` reads the stamp (matchpal/health.py)."""
    health.stamp_heartbeat()
