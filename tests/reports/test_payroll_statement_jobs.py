"""The Payroll report and a student's statement as export jobs (reports/export_jobs): the Excel
file of a provider's own payroll, and of a student's own statement, naming them."""

import pytest

from reports.export_jobs.models import ExportJob
from tests.reports.export_jobs.support import xlsx_rows
from tests.reports.test_payroll_figures import History as PayrollHistory
from tests.reports.test_statement_figures import History as StatementHistory
from tests.support import Tenant, client_for

pytestmark = [pytest.mark.django_db]

JUNE = {"range": "custom", "date_from": "2025-06-01", "date_to": "2025-06-30"}


def excel(client, slug: str, source: str, django_capture_on_commit_callbacks) -> dict:  # type: ignore[no-untyped-def,type-arg]
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/o/{slug}/exports/new/", {"source": source, "format": "xlsx", **JUNE})
    job = ExportJob.objects.get()
    assert job.status == "done", job.error
    response = client.get(f"/o/{slug}/exports/{job.public_id}/download/")
    return xlsx_rows(b"".join(response.streaming_content))


def test_a_providers_payroll_as_excel(
    tenant_a: Tenant, clock, django_capture_on_commit_callbacks
) -> None:
    history = PayrollHistory(tenant_a)
    sheets = excel(
        client_for(tenant_a.provider_user),
        tenant_a.organization.slug,
        "report-payroll",
        django_capture_on_commit_callbacks,
    )
    cells = [cell for rows in sheets.values() for row in rows for cell in row]
    assert "Payroll" in cells
    assert tenant_a.provider.name in cells
    assert history.other_rel.provider.name not in cells
    assert "Client amount" not in cells


def test_a_students_statement_as_excel(
    tenant_a: Tenant, clock, django_capture_on_commit_callbacks
) -> None:
    StatementHistory(tenant_a, clock)
    sheets = excel(
        client_for(tenant_a.student_user),
        tenant_a.organization.slug,
        "report-statement",
        django_capture_on_commit_callbacks,
    )
    cells = [cell for rows in sheets.values() for row in rows for cell in row]
    assert tenant_a.student.name in cells
    assert "Given back" in cells
