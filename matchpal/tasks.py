from celery import shared_task

from matchpal import services


@shared_task
def purge_expired_invitations() -> int:
    return services.purge_expired_invitations()
