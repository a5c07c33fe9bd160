from celery import shared_task

from reports import digests


@shared_task
def send_admin_digests() -> int:
    """Hourly: the admins' weekly idle-pairings digest and daily attention digest that are due
    (docs/notifications.md, "Digests"). Safe to run twice: the keys are claimed."""
    return digests.send_admin_digests()
