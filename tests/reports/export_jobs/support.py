"""A small known history for the export tests, and ways to run and read an export."""

import csv
import io
from dataclasses import dataclass
from typing import Any

from django.test import Client

from reports.export_jobs.models import RETENTION, ExportJob
from reports.export_jobs.services import export_start, exports_storage
from sessions_app.models import Session
from students.models import Student
from tests.factories import StudentFactory
from tests.support import Tenant, at, log, member, other_provider, paired, past_grant


@dataclass
class History:
    """The personas' pairing with two sessions (June 9 and 10, 2025, New York), and another
    provider's pairing with another student with one (June 10)."""

    own: list[Session]
    other: Session
    other_student: Student


def make_history(tenant: Tenant) -> History:
    past_grant(tenant.student, 600)
    relationship = paired(tenant)
    first = log(tenant, relationship, at(9, 9), 60, notes='=HYPERLINK("http://x")')
    second = log(tenant, relationship, at(10, 15, 30), 45, mode="Online")
    other_user, provider = other_provider(tenant)
    other_student = StudentFactory(organization=tenant.organization, name="Zoe Other")
    past_grant(other_student, 300)
    other_relationship = paired(tenant, quantity=300, student=other_student, provider=provider)
    other = log(
        tenant,
        other_relationship,
        at(10, 11),
        30,
        membership=member(other_user, tenant.organization),
    )
    return History([first, second], other, other_student)


def run_export(
    capture: Any, user: Any, tenant: Tenant, source: str, fmt: str, **params: str
) -> ExportJob:
    """Start an export as `user` and let the (eager) worker write it on commit."""
    with capture(execute=True):
        job = export_start(
            membership=member(user, tenant.organization),
            source=source,
            params=params,
            export_format=fmt,
        )
    job.refresh_from_db()
    return job


def csv_rows(job: ExportJob) -> list[list[str]]:
    with exports_storage().open(job.file, "rb") as handle:
        return list(csv.reader(io.StringIO(handle.read().decode("utf-8"))))


def xlsx_rows(data: bytes) -> dict[str, list[tuple[Any, ...]]]:
    from openpyxl import load_workbook

    workbook = load_workbook(io.BytesIO(data), read_only=True)
    return {
        sheet.title: [tuple(row) for row in sheet.iter_rows(values_only=True)]
        for sheet in workbook.worksheets
    }


def download(client: Client, job: ExportJob) -> Any:
    return client.get(f"/o/{job.organization.slug}/exports/{job.public_id}/download/")


def finished_job(
    tenant: Tenant, user: Any, *, title: str = "Isolation export", content: bytes = b"a,b\r\n"
) -> ExportJob:
    """A ready CSV export of `user` (get or create, by title), its file in the storage."""
    from django.core.files.base import ContentFile
    from django.utils import timezone

    membership = member(user, tenant.organization)
    job = ExportJob.objects.filter(
        organization=tenant.organization, membership=membership, title=title
    ).first()
    if job is not None:
        return job
    job = ExportJob(
        organization=tenant.organization,
        membership=membership,
        source="sessions",
        title=title,
        format="csv",
    )
    name = exports_storage().save(
        f"{tenant.organization.slug}/{job.public_id}.csv", ContentFile(content)
    )
    now = timezone.now()
    job.status, job.file, job.file_size = "done", name, len(content)
    job.rows_done = job.rows_total = content.count(b"\n") - 1
    job.finished_at, job.expires_at = now, now + RETENTION
    job.save()
    return job
