"""Starting an export job, running it (the worker's side) and deleting expired files.

A job is written by a Celery worker (tasks.run_export): it claims the queued job, reads the
source's rows through a server-side cursor, writes them to a temporary file and hands the
file to the "exports" storage (settings.STORAGES), reporting progress every few thousand rows
in its own short transaction. A failure is recorded on the job and shown on its page."""

import logging
import tempfile
from datetime import datetime, timedelta

from django.core.files import File
from django.core.files.storage import Storage, storages
from django.db import transaction
from django.utils import timezone

from matchpal.broker import enqueue
from matchpal.errors import DomainError, PermissionDeniedError
from matchpal.models import Membership
from reports.export_jobs.models import RETENTION, ExportFormat, ExportJob, ExportStatus
from reports.export_jobs.registry import ExportParamsError, source_get
from reports.export_jobs.writers import write_csv, write_xlsx

logger = logging.getLogger(__name__)

# A running job whose worker has not reported for this long is taken as lost (the worker was
# stopped mid-way); a queued one not started for this long was never delivered to a worker.
STALLED_AFTER = timedelta(minutes=30)
NEVER_STARTED_AFTER = timedelta(hours=6)
# Expired jobs stay listed (as expired, without their file) this long, then are deleted.
KEPT_LISTED = timedelta(days=7)
MAX_PARAMS = 30
MAX_PARAM_LENGTH = 200


def exports_storage() -> Storage:
    return storages["exports"]


def clean_params(params: dict[str, str]) -> dict[str, str]:
    """The report's filters as strings, bounded (they are stored on the job)."""
    if len(params) > MAX_PARAMS:
        raise ExportParamsError("Too many filters.")
    cleaned = {}
    for key, value in params.items():
        if len(key) > MAX_PARAM_LENGTH or len(value) > MAX_PARAM_LENGTH:
            raise ExportParamsError("A filter is too long.")
        if value != "":
            cleaned[str(key)] = str(value)
    return cleaned


def export_start(
    *, membership: Membership, source: str, params: dict[str, str], export_format: str
) -> ExportJob:
    """Record a queued export of `source` with the report's filters and enqueue its writing
    once the job is committed. The source is asked for its data here (without reading any
    row), so a filter it refuses is refused now, with its message."""
    organization = membership.organization
    export_source = source_get(source)
    if not export_source.allows(membership):
        raise PermissionDeniedError("Your role may not export this report.")
    if export_format not in ExportFormat.values:
        raise ExportParamsError("Choose CSV or Excel.", field="format")
    params = clean_params(params)
    data = export_source.build(organization, membership, params)
    job = ExportJob.objects.create(
        organization=organization,
        membership=membership,
        source=export_source.name,
        title=data.title[:200],
        params=params,
        format=export_format,
    )
    transaction.on_commit(lambda: _queue(job.pk))
    return job


def _queue(job_pk: int) -> None:
    from reports.export_jobs.tasks import run_export

    if not enqueue(run_export, job_pk):
        # Failed at once rather than "queued" until the never-started sweep: the page says so.
        ExportJob.objects.filter(pk=job_pk, status=ExportStatus.QUEUED).update(
            status=ExportStatus.FAILED,
            error="The export could not be started. Start it again in a few minutes.",
            finished_at=timezone.now(),
            expires_at=timezone.now() + RETENTION,
        )


# --- The worker's side ----------------------------------------------------------------------


def _progress(job_pk: int, rows_done: int) -> None:
    # Autocommit: its own short transaction, visible to the page at once.
    ExportJob.objects.filter(pk=job_pk, status=ExportStatus.RUNNING).update(
        rows_done=rows_done, updated_at=timezone.now()
    )


def export_run(*, job_pk: int) -> ExportStatus | None:
    """Write the job's file. Only the worker that moves it from queued to running writes it
    (a redelivered message finds it running or finished and does nothing). Returns the final
    status, or None when another worker had it."""
    claimed = ExportJob.objects.filter(pk=job_pk, status=ExportStatus.QUEUED).update(
        status=ExportStatus.RUNNING, started_at=timezone.now(), updated_at=timezone.now()
    )
    if not claimed:
        return None
    job = ExportJob.objects.select_related("organization", "membership__user").get(pk=job_pk)
    organization = job.organization
    try:
        with timezone.override(organization.tz):
            name, rows, size = _write(job)
    except DomainError as error:
        return _fail(job, error.message)
    except Exception:
        logger.exception("Export %s (%s) failed", job.public_id, job.source)
        return _fail(
            job,
            "The export failed on our side. Start it again; if it fails again, "
            "tell the center's administrator.",
        )
    finished = timezone.now()
    done = ExportJob.objects.filter(pk=job.pk, status=ExportStatus.RUNNING).update(
        status=ExportStatus.DONE,
        file=name,
        file_size=size,
        rows_done=rows,
        rows_total=rows,
        finished_at=finished,
        expires_at=finished + RETENTION,
        updated_at=finished,
    )
    if not done:  # marked lost by the sweeper meanwhile: the file is nobody's
        exports_storage().delete(name)
        return ExportStatus.FAILED
    return ExportStatus.DONE


def _write(job: ExportJob) -> tuple[str, int, int]:
    """Write the rows to a temporary file, then save it in the exports storage."""
    membership = job.membership
    if membership is None:
        raise DomainError("The member who asked for this export has left the organization.")
    membership.organization = job.organization
    data = source_get(job.source).build(job.organization, membership, dict(job.params))
    total = data.count()
    if total is not None:
        ExportJob.objects.filter(pk=job.pk).update(rows_total=total)

    def progress(rows_done: int) -> None:
        _progress(job.pk, rows_done)

    with tempfile.TemporaryFile() as out:
        if job.format == ExportFormat.XLSX:
            rows = write_xlsx(out, data.title, data.header, data, progress)
        else:
            rows = write_csv(out, data.header, data, progress)
        size = out.tell()
        out.seek(0)
        name = exports_storage().save(
            f"{job.organization.slug}/{job.public_id}.{job.format}", File(out)
        )
    return name, rows, size


def _fail(job: ExportJob, message: str) -> ExportStatus:
    finished = timezone.now()
    ExportJob.objects.filter(pk=job.pk, status=ExportStatus.RUNNING).update(
        status=ExportStatus.FAILED,
        error=message[:500],
        finished_at=finished,
        expires_at=finished + RETENTION,
        updated_at=finished,
    )
    return ExportStatus.FAILED


# --- Expiry (Celery beat) -------------------------------------------------------------------


def exports_purge(*, now: datetime | None = None) -> int:
    """Delete the files of the jobs whose day has passed, mark lost jobs failed, and forget
    jobs expired a week ago. Safe to run twice at once: each file is claimed by a conditional
    update that only one run wins, before that run deletes it. Returns the files deleted."""
    now = now or timezone.now()
    lost = "The export stopped before it finished (the worker was interrupted). Start it again."
    ExportJob.objects.filter(
        status=ExportStatus.RUNNING, updated_at__lt=now - STALLED_AFTER
    ).update(status=ExportStatus.FAILED, error=lost, finished_at=now, expires_at=now + RETENTION)
    ExportJob.objects.filter(
        status=ExportStatus.QUEUED, created_at__lt=now - NEVER_STARTED_AFTER
    ).update(
        status=ExportStatus.FAILED,
        error="The export never started. Start it again.",
        finished_at=now,
        expires_at=now + RETENTION,
    )
    storage = exports_storage()
    deleted = 0
    due = ExportJob.objects.filter(expires_at__lte=now).exclude(status=ExportStatus.EXPIRED)
    for pk, name in due.values_list("pk", "file").iterator(chunk_size=500):
        claimed = (
            ExportJob.objects.filter(pk=pk, file=name)
            .exclude(status=ExportStatus.EXPIRED)
            .update(status=ExportStatus.EXPIRED, file="")
        )
        if claimed and name:
            storage.delete(name)
            deleted += 1
    ExportJob.objects.filter(status=ExportStatus.EXPIRED, expires_at__lt=now - KEPT_LISTED).delete()
    return deleted
