import os

from celery import Celery
from celery.schedules import crontab

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "matchpal.settings")

app = Celery("matchpal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Periodic jobs live here, in code (django-celery-beat does not declare Django 6.1 support).
# Every job is safe to run twice.
app.conf.beat_schedule = {
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
    "purge-expired-exports": {
        "task": "reports.export_jobs.tasks.purge_expired_exports",
        "schedule": crontab(minute=40),
    },
}
