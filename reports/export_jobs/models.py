"""An export job: one report written to a CSV or Excel file by a Celery worker, kept a day."""

import uuid
from datetime import timedelta

from django.db import models
from django.db.models import Q

from matchpal.models import Membership, Organization

# How long a finished export's file is kept (docs/exports.md, "Export jobs").
RETENTION = timedelta(days=1)


class ExportFormat(models.TextChoices):
    CSV = "csv", "CSV"
    XLSX = "xlsx", "Excel"


class ExportStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Ready"
    FAILED = "failed", "Failed"
    EXPIRED = "expired", "Expired"


CONTENT_TYPES = {
    ExportFormat.CSV: "text/csv; charset=utf-8",
    ExportFormat.XLSX: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


class ExportJob(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="export_jobs"
    )
    # Who asked. A removed member's jobs stay (for the admins) until they expire, so the expiry
    # job still finds and deletes their files.
    membership = models.ForeignKey(
        Membership, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    source = models.CharField(max_length=60)
    title = models.CharField(max_length=200, blank=True)
    params = models.JSONField(default=dict, blank=True)
    format = models.CharField(max_length=4, choices=ExportFormat)
    status = models.CharField(max_length=8, choices=ExportStatus, default=ExportStatus.QUEUED)
    rows_done = models.PositiveIntegerField(default=0)
    rows_total = models.PositiveIntegerField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True)
    # A name in the "exports" storage (settings.STORAGES), never served as a public URL.
    file = models.CharField(max_length=300, blank=True)
    file_size = models.PositiveBigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    # The worker's heartbeat: moved on with every progress update.
    updated_at = models.DateTimeField(auto_now=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # "My exports": one member's jobs, newest first.
            models.Index(
                fields=["organization", "membership", "-created_at", "-id"],
                name="export_job_member_created",
            ),
            # The expiry job's walk: the finished jobs by expiry, across organizations.
            models.Index(
                fields=["expires_at"], condition=Q(expires_at__isnull=False), name="export_expiry"
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=ExportStatus.values), name="export_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(format__in=ExportFormat.values), name="export_format_valid"
            ),
            # A ready job has its file; a queued or running one has none yet.
            models.CheckConstraint(
                condition=~Q(status=ExportStatus.DONE) | ~Q(file=""),
                name="export_done_has_file",
            ),
            models.CheckConstraint(
                condition=~Q(status__in=[ExportStatus.QUEUED, ExportStatus.RUNNING]) | Q(file=""),
                name="export_unfinished_has_no_file",
            ),
            models.UniqueConstraint(fields=["organization", "id"], name="export_job_org_id"),
        ]

    def __str__(self) -> str:
        return f"{self.title or self.source} ({self.get_format_display()}, {self.status})"

    @property
    def is_active(self) -> bool:
        """Still being written: its page polls for progress."""
        return self.status in (ExportStatus.QUEUED, ExportStatus.RUNNING)

    @property
    def is_ready(self) -> bool:
        return self.status == ExportStatus.DONE and bool(self.file)

    @property
    def percent(self) -> int | None:
        if self.status == ExportStatus.DONE:
            return 100
        if not self.rows_total:
            return None
        return min(100, self.rows_done * 100 // self.rows_total)

    @property
    def content_type(self) -> str:
        return CONTENT_TYPES[ExportFormat(self.format)]

    @property
    def download_name(self) -> str:
        """The file name a browser saves: the organization, the report and the day it was made."""
        day = (self.finished_at or self.created_at).date().isoformat()
        return f"{self.organization.slug}-{self.source}-{day}.{self.format}"
