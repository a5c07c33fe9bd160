"""An export written by a real Celery worker on Redis: started from the page, its progress
reported while it runs, its file downloaded; and a source failing half-way is recorded as a
failed job, never a server error."""

from collections.abc import Iterator

import pytest
from django.db import connection

from matchpal.celery import app as celery_app
from reports.export_jobs import registry, writers
from reports.export_jobs.models import ExportJob
from reports.export_jobs.registry import ExportData
from tests.integrations.test_worker import real_worker, wait_for
from tests.reports.export_jobs.support import download, xlsx_rows
from tests.support import Tenant, client_for, log_as_admin, paired, past_grant, whole_hours_ago

pytestmark = [pytest.mark.django_db(transaction=True)]


@pytest.fixture
def failing_source() -> Iterator[str]:
    def build(organization, membership, params):  # type: ignore[no-untyped-def]
        def rows():  # type: ignore[no-untyped-def]
            yield ["first"]
            raise RuntimeError("the database went away")

        return ExportData(title="Failing", header=["Value"], rows=rows(), count=lambda: 2)

    registry.export_source("failing-for-tests", label="Failing")(build)
    yield "failing-for-tests"
    del registry.SOURCES["failing-for-tests"]


@pytest.fixture
def probing_source() -> Iterator[list[tuple[int, bool]]]:
    """A source of 7 rows that reads its own job's progress, as the page would, before each."""
    seen: list[tuple[int, bool]] = []

    def build(organization, membership, params):  # type: ignore[no-untyped-def]
        def rows():  # type: ignore[no-untyped-def]
            for i in range(7):
                job = ExportJob.objects.get(status="running")
                seen.append((job.rows_done, connection.in_atomic_block))
                yield [i]

        return ExportData(title="Probe", header=["N"], rows=rows(), count=lambda: 7)

    registry.export_source("probe-for-tests", label="Probe")(build)
    yield seen
    del registry.SOURCES["probe-for-tests"]


def test_a_real_worker_writes_the_excel_file(tenant_a: Tenant) -> None:
    assert celery_app.conf.broker_url.startswith("redis://"), celery_app.conf.broker_url
    past_grant(tenant_a.student, 600)
    relationship = paired(tenant_a)
    for hours in range(1, 6):
        log_as_admin(tenant_a, relationship, whole_hours_ago(hours), 30)

    client = client_for(tenant_a.admin)
    with real_worker() as received:
        response = client.post(
            f"/o/{tenant_a.organization.slug}/exports/new/",
            {"source": "sessions", "format": "xlsx"},
        )
        assert response.status_code == 302
        assert wait_for(lambda: ExportJob.objects.filter(status="done").exists()), list(
            ExportJob.objects.values("status", "error")
        )

    assert received == ["reports.export_jobs.tasks.run_export"]
    job = ExportJob.objects.get()
    assert (job.rows_done, job.rows_total) == (5, 5)
    assert job.started_at is not None
    response = download(client, job)
    assert response["Content-Type"] == (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    [rows] = xlsx_rows(b"".join(response.streaming_content)).values()
    assert len(rows) == 6
    assert [row[6] for row in rows[1:]] == [30] * 5


def test_progress_is_committed_while_the_worker_writes(
    tenant_a: Tenant, probing_source: list[tuple[int, bool]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(writers, "PROGRESS_EVERY", 3)
    client = client_for(tenant_a.admin)
    with real_worker():
        client.post(
            f"/o/{tenant_a.organization.slug}/exports/new/",
            {"source": "probe-for-tests", "format": "csv"},
        )
        assert wait_for(lambda: ExportJob.objects.filter(status="done").exists())

    # Every third row the count is written in its own transaction (none is open meanwhile).
    assert probing_source == [(n, False) for n in (0, 0, 0, 3, 3, 3, 6)]
    job = ExportJob.objects.get()
    assert (job.rows_done, job.rows_total) == (7, 7)


def test_a_source_failing_half_way_fails_the_job_with_a_message(
    tenant_a: Tenant, failing_source: str
) -> None:
    client = client_for(tenant_a.admin)
    with real_worker():
        response = client.post(
            f"/o/{tenant_a.organization.slug}/exports/new/",
            {"source": failing_source, "format": "csv"},
        )
        assert wait_for(lambda: ExportJob.objects.filter(status="failed").exists())

    job = ExportJob.objects.get()
    assert job.error == (
        "The export failed on our side. Start it again; if it fails again, tell the center's "
        "administrator."
    )
    assert job.file == ""
    page = client.get(response["Location"])
    assert page.status_code == 200
    assert "The export failed on our side." in page.content.decode()
    assert download(client, job).status_code == 404
