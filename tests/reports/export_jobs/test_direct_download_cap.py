"""A direct CSV download reads at most `MATCHPAL_CSV_DIRECT_MAX_ROWS` rows (docs/reports.md,
"Large downloads"): under the cap it streams as always; past it the answer is a page whose form
starts the same export in the background, for exactly the same days and filters, and the file
the job writes has the lines the direct download would have had."""

import csv
import io
import re
from html import unescape
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from matchpal.models import Role
from reports.export_jobs.models import ExportJob
from sessions_app.models import Session
from tests.query_pins import Page, org_path
from tests.reports.export_jobs.support import csv_rows
from tests.reports.history import JUNE, build
from tests.reports.ledger_history import build_history
from tests.reports.report_pins import assert_report_pinned
from tests.reports.test_report_query_counts import grow_report
from tests.support import Tenant, client_for

pytestmark = [pytest.mark.django_db]

MAY = {"range": "custom", "date_from": "2025-05-01", "date_to": "2025-05-31"}
HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')


def url(name: str, tenant: Tenant) -> str:
    return reverse(f"reports:{name}", args=[tenant.organization.slug])


def streamed_lines(response: Any) -> list[list[str]]:
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


def form_fields(response: Any) -> dict[str, str]:
    """The hidden fields of the page's export form (the CSRF token left out)."""
    html = response.content.decode()
    form = html[html.index('data-testid="export-job"') :]
    form = form[: form.index("</form>")]
    return {
        name: unescape(value)
        for name, value in HIDDEN.findall(form)
        if name != "csrfmiddlewaretoken"
    }


def start_in_background(client: Client, tenant: Tenant, fields: dict[str, str], capture) -> Any:  # type: ignore[no-untyped-def]
    """Press the page's "Export as CSV": the eager worker writes the file on commit."""
    with capture(execute=True):
        response = client.post(
            reverse("exports:start", args=[tenant.organization.slug]), {**fields, "format": "csv"}
        )
    job = ExportJob.objects.get(organization=tenant.organization)
    assert response.status_code == 302
    assert response["Location"] == f"/o/{tenant.organization.slug}/exports/{job.public_id}/"
    assert job.status == "done", job.error
    return job


@pytest.fixture
def june(clock: object, tenant_a: Tenant, tenant_b: Tenant) -> None:
    build(tenant_b)  # the other center's sessions never count toward the cap
    build(tenant_a)


def sessions_of(tenant: Tenant) -> int:
    """tenant_a's sessions in June (tests/reports/history.py: 8, the one of May 30 outside)."""
    return Session.objects.filter(
        organization=tenant.organization, starts_at__month=6, starts_at__year=2025
    ).count()


# --- Under the cap: streamed as always ------------------------------------------------------------


def test_at_the_cap_the_session_rows_stream(june: None, tenant_a: Tenant, settings) -> None:
    settings.MATCHPAL_CSV_DIRECT_MAX_ROWS = sessions_of(tenant_a)  # 8: exactly at the cap

    lines = streamed_lines(client_for(tenant_a.admin).get(url("session_rows_csv", tenant_a), JUNE))

    assert lines[0][:3] == ["Session", "Date", "Start"]
    assert [line[1] for line in lines[1:]] == [
        "2025-06-02",
        "2025-06-03",
        "2025-06-04",
        "2025-06-05",
        "2025-06-06",
        "2025-06-09",
        "2025-06-11",
        "2025-06-20",
    ]
    public_ids = {
        str(public_id)
        for public_id in Session.objects.filter(organization=tenant_a.organization).values_list(
            "public_id", flat=True
        )
    }
    assert {line[0] for line in lines[1:]} <= public_ids


def test_under_the_cap_a_report_csv_streams(june: None, tenant_a: Tenant, settings) -> None:
    settings.MATCHPAL_CSV_DIRECT_MAX_ROWS = 8

    lines = streamed_lines(client_for(tenant_a.admin).get(url("sessions_csv", tenant_a), JUNE))

    assert lines[0] == ["Report", "Sessions"]


# --- Past the cap: the page that starts the same export ------------------------------------------


def test_past_the_cap_the_session_rows_become_a_background_export_with_the_same_lines(
    june: None, tenant_a: Tenant, settings, django_capture_on_commit_callbacks
) -> None:
    client = client_for(tenant_a.admin)
    settings.MATCHPAL_CSV_DIRECT_MAX_ROWS = 1000
    direct = streamed_lines(client.get(url("session_rows_csv", tenant_a), JUNE))
    settings.MATCHPAL_CSV_DIRECT_MAX_ROWS = 7  # one fewer than the range's sessions

    page = client.get(url("session_rows_csv", tenant_a), {**JUNE, "range": ""})

    assert page.status_code == 200
    assert page["Content-Type"].startswith("text/html")
    assert page.templates[0].name == "reports/csv_too_large.html"
    text = page.content.decode()
    assert "more than 7 sessions" in text
    assert "Jun 1, 2025 – Jun 30, 2025" in text
    fields = form_fields(page)
    # The exact days, not a preset that would move by the time the worker runs.
    assert fields == {
        "source": "session-rows",
        "range": "custom",
        "date_from": "2025-06-01",
        "date_to": "2025-06-30",
        "period": "day",
    }
    assert f'href="{url("sessions", tenant_a)}?range=custom&amp;date_from=2025-06-01' in text

    job = start_in_background(client, tenant_a, fields, django_capture_on_commit_callbacks)

    assert csv_rows(job) == direct
    assert job.rows_done == len(direct) - 1 == 8
    assert job.title == "Sessions, one line each, 2025-06-01 to 2025-06-30"


def test_a_providers_background_export_has_their_own_sessions_only(
    june: None, tenant_a: Tenant, settings, django_capture_on_commit_callbacks
) -> None:
    client = client_for(tenant_a.provider_user)
    settings.MATCHPAL_CSV_DIRECT_MAX_ROWS = 1000
    direct = streamed_lines(client.get(url("session_rows_csv", tenant_a), JUNE))
    settings.MATCHPAL_CSV_DIRECT_MAX_ROWS = 2

    page = client.get(url("session_rows_csv", tenant_a), JUNE)
    job = start_in_background(
        client, tenant_a, form_fields(page), django_capture_on_commit_callbacks
    )

    assert len(direct) == 1 + 6
    assert {line[5] for line in direct[1:]} == {tenant_a.provider.name}
    assert csv_rows(job) == direct


def test_past_the_cap_a_report_csv_becomes_the_same_report_in_the_background(
    june: None, tenant_a: Tenant, settings, django_capture_on_commit_callbacks
) -> None:
    client = client_for(tenant_a.admin)
    query = {**JUNE, "period": "week", "student": str(tenant_a.student.public_id)}
    settings.MATCHPAL_CSV_DIRECT_MAX_ROWS = 1000
    direct = streamed_lines(client.get(url("sessions_csv", tenant_a), query))
    settings.MATCHPAL_CSV_DIRECT_MAX_ROWS = 2  # the student has 6 sessions in June

    page = client.get(url("sessions_csv", tenant_a), query)

    assert "more than 2 sessions" in page.content.decode()
    fields = form_fields(page)
    assert fields == {
        "source": "report-sessions",
        "range": "custom",
        "date_from": "2025-06-01",
        "date_to": "2025-06-30",
        "period": "week",
        "student": str(tenant_a.student.public_id),
    }
    job = start_in_background(client, tenant_a, fields, django_capture_on_commit_callbacks)
    assert csv_rows(job) == direct
    assert ["Student", tenant_a.student.name] in direct


def test_a_ledger_reports_cap_counts_its_ledger_entries(
    clock: object, tenant_a: Tenant, settings, django_capture_on_commit_callbacks
) -> None:
    build_history(tenant_a)
    client = client_for(tenant_a.admin)
    settings.MATCHPAL_CSV_DIRECT_MAX_ROWS = 1000
    direct = streamed_lines(client.get(url("usage_csv", tenant_a), MAY))
    settings.MATCHPAL_CSV_DIRECT_MAX_ROWS = 1

    page = client.get(url("usage_csv", tenant_a), MAY)

    assert "more than 1 changes to the hours (ledger entries)" in page.content.decode()
    fields = form_fields(page)
    assert fields["source"] == "report-usage"
    job = start_in_background(client, tenant_a, fields, django_capture_on_commit_callbacks)
    assert csv_rows(job) == direct


def test_a_students_statement_is_never_capped(clock: object, tenant_a: Tenant, settings) -> None:
    build_history(tenant_a)
    settings.MATCHPAL_CSV_DIRECT_MAX_ROWS = 0

    response = client_for(tenant_a.student_user).get(url("statement_csv", tenant_a), MAY)

    assert streamed_lines(response)[0] == ["Report", "Student statement"]


# --- Tenancy and bad input ----------------------------------------------------------------------


def test_another_centers_sessions_do_not_count(june: None, tenant_a: Tenant, settings) -> None:
    # tenant_b has the same 8 sessions in June: counted together they would pass the cap.
    settings.MATCHPAL_CSV_DIRECT_MAX_ROWS = 8

    lines = streamed_lines(client_for(tenant_a.admin).get(url("session_rows_csv", tenant_a), JUNE))

    assert len(lines) == 1 + 8


def test_another_centers_admin_gets_404(
    june: None, tenant_a: Tenant, tenant_b: Tenant, settings
) -> None:
    settings.MATCHPAL_CSV_DIRECT_MAX_ROWS = 1
    client = client_for(tenant_b.admin)

    assert client.get(url("session_rows_csv", tenant_a), JUNE).status_code == 404
    assert client.get(url("sessions_csv", tenant_a), JUNE).status_code == 404


def test_another_centers_student_in_the_form_is_a_form_error_not_an_export(
    june: None, tenant_a: Tenant, tenant_b: Tenant, settings, django_capture_on_commit_callbacks
) -> None:
    settings.MATCHPAL_CSV_DIRECT_MAX_ROWS = 1
    client = client_for(tenant_a.admin)

    page = client.get(
        url("sessions_csv", tenant_a), {**JUNE, "student": str(tenant_b.student.public_id)}
    )
    assert page.status_code == 200
    assert page.context["form"].errors["student"]

    # The background export refuses it as well: posted by hand, the same student is a form
    # error on the export page, and no job is made.
    fields = {
        "source": "session-rows",
        "range": "custom",
        "date_from": "2025-06-01",
        "date_to": "2025-06-30",
        "student": str(tenant_b.student.public_id),
        "format": "csv",
    }
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("exports:start", args=[tenant_a.organization.slug]), fields)
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert not ExportJob.objects.exists()


@pytest.mark.parametrize(
    "query",
    [
        {"range": "custom", "date_from": "2025-13-01"},
        {"range": "custom", "date_from": "2025-06-30", "date_to": "2025-06-01"},
        {"range": "nonsense"},
        {"service_type": "not-a-uuid"},
    ],
)
def test_bad_filters_answer_the_form_with_its_errors(
    june: None, tenant_a: Tenant, settings, query: dict[str, str]
) -> None:
    settings.MATCHPAL_CSV_DIRECT_MAX_ROWS = 1
    client = client_for(tenant_a.admin)
    for name in ("session_rows_csv", "sessions_csv"):
        response = client.get(url(name, tenant_a), query)
        assert response.status_code == 200
        assert response.context["form"].errors


def test_a_student_may_not_start_the_session_rows_export(
    june: None, tenant_a: Tenant, django_capture_on_commit_callbacks
) -> None:
    client = client_for(tenant_a.student_user)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("exports:start", args=[tenant_a.organization.slug]),
            {"source": "session-rows", "format": "csv", **JUNE},
        )
    assert response.status_code == 200
    assert response.context["form"].errors["source"]
    assert not ExportJob.objects.exists()


# --- Query counts of the page past the cap ------------------------------------------------------


def shows_the_offer(n: int, response: Any) -> None:
    assert response.templates[0].name == "reports/csv_too_large.html"
    assert form_fields(response)["range"] == "custom"


# The request's own query, the bounded count, and nothing of the report: the same as a direct
# download's first queries (session_rows_csv: the user with its membership, then the rows). A
# report's export reads the version of the center's data between them (reports/csv_cache.py:
# a download kept under the cap is answered before the count).
PAST_THE_CAP = {
    "reports:session_rows_csv[past the cap]": (
        Page(Role.ADMIN, org_path("reports/sessions/rows.csv"), grow_report, shows_the_offer),
        2,
    ),
    "reports:sessions_csv[past the cap]": (
        Page(Role.ADMIN, org_path("reports/sessions/csv/"), grow_report, shows_the_offer),
        3,
    ),
    "reports:payroll_csv[past the cap]": (
        Page(Role.ADMIN, org_path("reports/payroll/csv/"), grow_report, shows_the_offer),
        3,
    ),
}


@pytest.mark.parametrize("name", list(PAST_THE_CAP))
def test_past_the_cap_the_page_runs_the_pinned_queries_at_3_and_at_30_rows(
    name: str, tenant_a: Tenant, settings, django_assert_num_queries, time_machine
) -> None:
    settings.MATCHPAL_CSV_DIRECT_MAX_ROWS = 1
    page, pinned = PAST_THE_CAP[name]
    assert_report_pinned(name, page, pinned, tenant_a, django_assert_num_queries, time_machine)
