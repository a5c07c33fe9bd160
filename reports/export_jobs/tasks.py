"""Celery adapters of the export services."""

from celery import shared_task

from reports.export_jobs import services


@shared_task
def run_export(job_pk: int) -> str | None:
    status = services.export_run(job_pk=job_pk)
    return None if status is None else str(status)


@shared_task
def purge_expired_exports() -> int:
    return services.exports_purge()
