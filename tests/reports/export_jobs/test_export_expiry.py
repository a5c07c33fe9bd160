"""Expired files are deleted by the beat job; lost jobs are marked failed; two runs at once
delete each file once."""

from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from matchpal.celery import app as celery_app
from reports.export_jobs.models import ExportJob
from reports.export_jobs.services import exports_purge, exports_storage
from tests.reports.export_jobs.support import download, finished_job
from tests.support import Tenant, client_for
from tests.threads import run_together


def test_the_purge_is_a_periodic_job() -> None:
    entry = celery_app.conf.beat_schedule["purge-expired-exports"]
    assert entry["task"] == "reports.export_jobs.tasks.purge_expired_exports"
    assert entry["task"] in celery_app.tasks


@pytest.mark.sqlite
def test_a_file_is_deleted_a_day_after_it_was_made(tenant_a: Tenant, exports_dir: Path) -> None:
    old = finished_job(tenant_a, tenant_a.admin, title="Old")
    new = finished_job(tenant_a, tenant_a.admin, title="New")
    ExportJob.objects.filter(pk=old.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    old_file = exports_dir / old.file

    assert old_file.exists()
    assert exports_purge() == 1

    old.refresh_from_db()
    assert (old.status, old.file) == ("expired", "")
    assert not old_file.exists()
    assert exports_storage().exists(new.file)
    assert download(client_for(tenant_a.admin), old).status_code == 404
    assert download(client_for(tenant_a.admin), new).status_code == 200
    # Nothing left to do the second time.
    assert exports_purge() == 0


@pytest.mark.sqlite
def test_expired_jobs_are_forgotten_after_a_week(tenant_a: Tenant) -> None:
    job = finished_job(tenant_a, tenant_a.admin)
    now = timezone.now()
    exports_purge(now=job.expires_at + timedelta(days=7))
    assert ExportJob.objects.get(pk=job.pk).status == "expired"

    exports_purge(now=now + timedelta(days=9))
    assert not ExportJob.objects.filter(pk=job.pk).exists()


@pytest.mark.sqlite
def test_lost_jobs_are_marked_failed(tenant_a: Tenant) -> None:
    running = finished_job(tenant_a, tenant_a.admin, title="Running")
    queued = finished_job(tenant_a, tenant_a.admin, title="Queued")
    for job, status in ((running, "running"), (queued, "queued")):
        ExportJob.objects.filter(pk=job.pk).update(
            status=status, file="", finished_at=None, expires_at=None
        )
    now = timezone.now()

    exports_purge(now=now + timedelta(minutes=10))
    assert ExportJob.objects.get(pk=running.pk).status == "running"

    exports_purge(now=now + timedelta(minutes=31))
    running.refresh_from_db()
    assert (running.status, running.error) == (
        "failed",
        "The export stopped before it finished (the worker was interrupted). Start it again.",
    )
    assert ExportJob.objects.get(pk=queued.pk).status == "queued"

    exports_purge(now=now + timedelta(hours=7))
    queued.refresh_from_db()
    assert (queued.status, queued.error) == ("failed", "The export never started. Start it again.")


@pytest.mark.django_db(transaction=True)
def test_two_purges_at_once_delete_each_file_once(tenant_a: Tenant, exports_dir: Path) -> None:
    jobs = [finished_job(tenant_a, tenant_a.admin, title=f"Export {i}") for i in range(20)]
    ExportJob.objects.update(expires_at=timezone.now() - timedelta(minutes=1))

    outcomes = run_together(exports_purge, exports_purge)

    assert [status for status, _ in outcomes] == ["ok", "ok"]
    assert sum(deleted for _, deleted in outcomes) == 20
    assert set(ExportJob.objects.values_list("status", "file")) == {("expired", "")}
    assert not any((exports_dir / job.file).exists() for job in jobs)
