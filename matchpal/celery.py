import os
from datetime import timedelta

from celery import Celery
from celery.schedules import crontab
from celery.signals import beat_init

from matchpal import logs as logs  # connects the request id's and the task log line's signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "matchpal.settings")

app = Celery("matchpal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Periodic jobs live here, in code (django-celery-beat does not declare Django 6.1 support).
# Every job is safe to run twice.
app.conf.beat_schedule = {
    "beat-heartbeat": {
        "task": "matchpal.tasks.beat_heartbeat",
        "schedule": timedelta(minutes=1),
        # A heartbeat left in a backlog and run late would stamp a false "now".
        "options": {"expires": 60},
    },
    "purge-expired-invitations": {
        "task": "matchpal.tasks.purge_expired_invitations",
        "schedule": crontab(hour=3, minute=15),
    },
    "decline-stale-proposals": {
        "task": "relationships.tasks.decline_stale_proposals",
        "schedule": crontab(minute=20),
    },
    "woocommerce-requeue-stuck-deliveries": {
        "task": "integrations.woocommerce.tasks.requeue_stuck_deliveries",
        "schedule": crontab(minute="*/5"),
    },
    "woocommerce-catch-up": {
        "task": "integrations.woocommerce.tasks.sync_stores",
        "schedule": crontab(minute="*/15"),
    },
    "expire-due-grants": {
        "task": "grants.tasks.expire_due_grants",
        "schedule": crontab(hour=0, minute=5),
    },
    "mark-missed-sessions": {
        "task": "sessions_app.tasks.mark_missed_sessions",
        "schedule": crontab(minute="*/15"),
    },
    "session-reminders": {
        "task": "sessions_app.tasks.send_session_reminders",
        "schedule": crontab(minute="*/5"),
    },
    "confirmation-reminders": {
        "task": "sessions_app.tasks.send_confirmation_reminders",
        "schedule": crontab(minute=50),
    },
    "grant-expiry-warnings": {
        "task": "grants.tasks.warn_expiring_grants",
        "schedule": crontab(hour=14, minute=10),
    },
    "admin-digests": {
        "task": "reports.tasks.send_admin_digests",
        "schedule": crontab(minute=45),
    },
    "purge-expired-exports": {
        "task": "reports.export_jobs.tasks.purge_expired_exports",
        "schedule": crontab(minute=40),
    },
}


@beat_init.connect
def _stamp_heartbeat_at_start(**_kwargs: object) -> None:
    """A new beat is ready at once, not a minute later (matchpal/health.py)."""
    from matchpal import health  # Django is set up only once beat starts

    health.stamp_heartbeat()
