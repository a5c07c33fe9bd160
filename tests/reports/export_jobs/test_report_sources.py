"""The reports of the reports framework export through jobs too: the same lines as their
streamed CSV, as CSV or Excel, started from the report page's buttons with its filters."""

import pytest

from reports.export_jobs.models import ExportJob
from reports.export_jobs.registry import SOURCES
from reports.framework import REPORTS
from tests.reports.export_jobs.support import csv_rows, make_history, xlsx_rows
from tests.support import Tenant, client_for

pytestmark = [pytest.mark.sqlite]


def test_every_report_is_a_source_for_the_same_roles() -> None:
    for report in REPORTS.values():
        source = SOURCES[f"report-{report.name}"]
        assert source.roles == report.roles
        assert source.label == f"{report.title} report"


def test_the_report_page_starts_a_job_with_its_filters_and_the_file_is_its_csv(
    tenant_a: Tenant, clock, django_capture_on_commit_callbacks
) -> None:
    make_history(tenant_a)
    client = client_for(tenant_a.admin)
    slug = tenant_a.organization.slug
    query = "?date_from=2025-06-01&date_to=2025-06-11&period=week"

    page = client.get(f"/o/{slug}/reports/sessions/{query}").content.decode()
    assert 'name="source" value="report-sessions"' in page
    assert '<input type="hidden" name="date_from" value="2025-06-01">' in page
    assert 'value="xlsx">Excel</button>' in page

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            f"/o/{slug}/exports/new/",
            {
                "source": "report-sessions",
                "format": "csv",
                "date_from": "2025-06-01",
                "date_to": "2025-06-11",
                "period": "week",
            },
        )
    job = ExportJob.objects.get()
    assert response["Location"] == f"/o/{slug}/exports/{job.public_id}/"
    assert (job.status, job.title) == ("done", "Sessions report, 2025-06-01 to 2025-06-11")

    streamed = client.get(f"/o/{slug}/reports/sessions/csv/{query}")
    expected = b"".join(streamed.streaming_content).decode()
    import csv
    import io

    assert csv_rows(job) == list(csv.reader(io.StringIO(expected)))
    assert job.rows_done == len(csv_rows(job))


def test_the_same_report_as_excel(
    tenant_a: Tenant, clock, django_capture_on_commit_callbacks
) -> None:
    make_history(tenant_a)
    client = client_for(tenant_a.provider_user)
    slug = tenant_a.organization.slug
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            f"/o/{slug}/exports/new/",
            {"source": "report-sessions", "format": "xlsx", "range": "this_month"},
        )
    job = ExportJob.objects.get()
    assert job.status == "done", job.error
    response = client.get(f"/o/{slug}/exports/{job.public_id}/download/")
    [rows] = xlsx_rows(b"".join(response.streaming_content)).values()
    assert rows[0][:2] == ("Report", "Sessions")
    assert ("Organization", tenant_a.organization.name) in [row[:2] for row in rows]


def test_filters_the_report_refuses_refuse_the_job(tenant_a: Tenant) -> None:
    response = client_for(tenant_a.admin).post(
        f"/o/{tenant_a.organization.slug}/exports/new/",
        {
            "source": "report-sessions",
            "format": "csv",
            "date_from": "2025-06-11",
            "date_to": "2025-06-01",
        },
    )
    assert response.status_code == 200
    assert response.context["form"].non_field_errors()
    assert not ExportJob.objects.exists()
