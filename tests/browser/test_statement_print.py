"""A student's statement in a real browser: the admin finds the student with the search field,
and the printed page keeps the statement and leaves out the navigation, the filters and the
buttons (static/css/print.css). The student reaches their own from the reports' index."""

import pytest
from playwright.sync_api import Browser, expect

from tests.browser.conftest import signed_in_context
from tests.support import hours_ago, log_as_admin, make_tenant, paired, past_grant

pytestmark = [pytest.mark.browser]


def test_the_admin_prints_a_students_statement(
    live_server, browser: Browser, transactional_db: None
) -> None:
    base = live_server.url
    tenant = make_tenant("Harbor Tutors", "harbor")
    tenant.student.name = "Maya Patel"
    tenant.student.save(update_fields=["name"])
    past_grant(tenant.student, 600, reference="Order 1001")
    relationship = paired(tenant, quantity=300)
    log_as_admin(tenant, relationship, hours_ago(2), 90)

    page = signed_in_context(browser, base, tenant.admin).new_page()
    page.goto(f"{base}/o/harbor/reports/statement/")
    expect(page.get_by_test_id("choose-student")).to_be_visible()
    page.locator("#id_student").press_sequentially("maya")
    page.locator("[data-search-matches] [data-value]", has_text="Maya Patel").click()
    page.get_by_role("button", name="Show").click()
    expect(page.get_by_role("heading", name="Statement for Maya Patel")).to_be_visible()
    expect(page.get_by_test_id("movement")).to_have_count(3)  # bought, reserved, used
    closing = page.get_by_test_id("unit-minutes").get_by_test_id("closing")
    expect(closing).to_contain_text("1 h 30 min")  # used
    expect(closing).to_contain_text("5 h")  # free to book

    page.emulate_media(media="print")
    expect(page.locator("nav.navbar")).to_be_hidden()
    expect(page.locator("form.mp-filter")).to_be_hidden()
    expect(page.get_by_test_id("export-csv")).to_be_hidden()
    expect(page.get_by_text("Harbor Tutors", exact=True).last).to_be_visible()
    expect(page.get_by_test_id("table-movements")).to_be_visible()
    assert len(page.pdf()) > 1000

    student = signed_in_context(browser, base, tenant.student_user).new_page()
    student.goto(f"{base}/o/harbor/")
    student.get_by_role("link", name="Reports").click()
    student.get_by_role("link", name="Student statement").click()
    expect(student.get_by_role("heading", name="Statement for Maya Patel")).to_be_visible()
    expect(student.locator("#id_student")).to_have_count(0)
