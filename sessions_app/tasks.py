from celery import shared_task

from matchpal.broker import KeptProducerTask
from sessions_app import missed, notices, reminders


@shared_task
def send_session_reminders() -> int:
    """Every 5 minutes: the reminders before sessions. Safe to run twice or to overlap."""
    return reminders.send_session_reminders()


@shared_task
def send_confirmation_reminders() -> int:
    """Hourly: students reminded of a session still to confirm. Safe to run twice."""
    return reminders.send_confirmation_reminders()


@shared_task
def mark_missed_sessions() -> int:
    """Every 15 minutes: scheduled sessions not logged within the grace window become missed."""
    return missed.mark_missed()


@shared_task(acks_late=True, base=KeptProducerTask)
def tell_logged(session_id: int, actor_id: int) -> None:
    """Queued when a log commits: the student's "session logged" notice (in the app and by
    email) and the low-hours notices it may call for. Safe to run twice: each notice is keyed."""
    notices.tell_logged(session_id=session_id, actor_id=actor_id)
