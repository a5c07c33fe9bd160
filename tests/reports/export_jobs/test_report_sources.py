"""The reports of the reports framework export through jobs too: the same lines as their
streamed CSV, as CSV or Excel, started from the report page's buttons with its filters."""

import csv
import io
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation
from typing import Any

import pytest

from reports.export_jobs.models import ExportJob
from reports.export_jobs.registry import SOURCES
from reports.framework import REPORTS
from tests.reports.export_jobs.support import csv_rows, make_history, run_export, xlsx_rows
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


def _cell(value: Any) -> str:
    """A cell as its CSV text reads: numbers compared as numbers (Excel keeps 12.5 for the
    CSV's 12.50), a day without its midnight."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = value.date() if value.time() == time() else value
    if isinstance(value, date):
        return value.isoformat()
    text = str(value)
    try:
        return str(Decimal(text).normalize()) if not isinstance(value, bool) else text
    except InvalidOperation:
        return text


def _lines(rows: list[Any]) -> list[list[str]]:
    """Each non-empty line's cells, without the trailing empty ones."""
    found = []
    for row in rows:
        cells = [_cell(value) for value in row]
        while cells and cells[-1] == "":
            cells.pop()
        if cells:
            found.append(cells)
    return found


@pytest.mark.parametrize("name", sorted(REPORTS))
def test_every_reports_excel_holds_the_figures_of_its_csv(
    name: str, tenant_a: Tenant, clock, django_capture_on_commit_callbacks
) -> None:
    """Every report, as an admin reads it over the history's month: its Excel file has the
    lines of its streamed CSV (the page's figures, docs/reports.md), cell for cell."""
    history = make_history(tenant_a)
    client = client_for(tenant_a.admin)
    params = {"date_from": "2025-06-01", "date_to": "2025-06-30", "period": "week"}
    if name == "statement":  # a student's: the others are the whole center's
        params["student"] = str(tenant_a.student.public_id)
    streamed = client.get(f"/o/{tenant_a.organization.slug}/reports/{name}/csv/", params)
    assert streamed.status_code == 200
    expected = list(csv.reader(io.StringIO(b"".join(streamed.streaming_content).decode())))

    job = run_export(
        django_capture_on_commit_callbacks,
        tenant_a.admin,
        tenant_a,
        f"report-{name}",
        "xlsx",
        **params,
    )
    assert job.status == "done", job.error
    response = client.get(f"/o/{tenant_a.organization.slug}/exports/{job.public_id}/download/")
    sheets = xlsx_rows(b"".join(response.streaming_content))
    rows = [row for sheet in sheets.values() for row in sheet]

    assert _lines(rows) == _lines(expected)
    assert len(_lines(expected)) > 10  # the scope, then tables with rows
    if name in ("sessions", "payroll"):
        assert history.other.relationship.provider.name in str(expected)
