from celery import shared_task

from sessions_app import reminders


@shared_task
def send_session_reminders() -> int:
    """Every 5 minutes: the reminders before sessions. Safe to run twice or to overlap."""
    return reminders.send_session_reminders()
