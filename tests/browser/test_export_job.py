"""A report exported through a job, in a real browser: the Sessions report's Excel button
posts the page's filters, the job's page offers the file, and the download is the workbook."""

import io
from pathlib import Path

import pytest
from openpyxl import load_workbook
from playwright.sync_api import Browser, expect

from tests.browser.conftest import signed_in_context
from tests.support import Tenant, log_as_admin, make_tenant, paired, past_grant, whole_hours_ago

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def tenant() -> Tenant:
    tenant = make_tenant("Alpha Tutoring", "alpha")
    past_grant(tenant.student, 600)
    relationship = paired(tenant)
    for hours in (3, 5):
        log_as_admin(tenant, relationship, whole_hours_ago(hours), 45)
    return tenant


def test_an_admin_exports_the_sessions_report_to_excel(
    browser: Browser, live_server, tenant: Tenant
) -> None:
    context = signed_in_context(browser, live_server.url, tenant.admin, accept_downloads=True)
    page = context.new_page()
    page.goto(f"{live_server.url}/o/alpha/reports/sessions/?range=last_30_days")

    page.get_by_role("button", name="Excel").click()

    expect(page.get_by_role("heading", level=1)).to_contain_text("Sessions report")
    link = page.get_by_role("link", name="Download alpha-report-sessions")
    expect(link).to_be_visible()
    assert page.locator("#progress").get_attribute("hx-get") is None  # finished: no polling
    with page.expect_download() as info:
        link.click()
    download = info.value
    assert download.suggested_filename.startswith("alpha-report-sessions-")
    assert download.suggested_filename.endswith(".xlsx")
    # Playwright keeps the file under a name without extension, which openpyxl refuses.
    workbook = load_workbook(io.BytesIO(Path(download.path()).read_bytes()), read_only=True)
    rows = [row for sheet in workbook.worksheets for row in sheet.iter_rows(values_only=True)]
    assert rows[0][:2] == ("Report", "Sessions")
    assert ("Organization", "Alpha Tutoring") in [row[:2] for row in rows]
    context.close()
