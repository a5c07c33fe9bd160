"""A report in a real browser: an admin opens the Sessions report from the navigation, changes
the range, sees the figures of the new range with their chart, and downloads the CSV of it."""

from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import Browser, expect

from tests.browser.conftest import signed_in_context
from tests.factories import RelationshipFactory, SessionFactory
from tests.support import make_tenant

pytestmark = [pytest.mark.browser]

SLUG = "lakeside"


def test_an_admin_changes_the_range_and_downloads_the_csv(
    live_server, browser: Browser, transactional_db: None
) -> None:
    base = live_server.url
    tenant = make_tenant("Lakeside Tutors", SLUG)
    relationship = RelationshipFactory(
        organization=tenant.organization, student=tenant.student, provider=tenant.provider
    )
    now = timezone.now()
    SessionFactory(relationship=relationship, starts_at=now - timedelta(days=3))  # 60 min
    SessionFactory(
        relationship=relationship, starts_at=now - timedelta(days=100), duration_minutes=45
    )

    page = signed_in_context(browser, base, tenant.admin).new_page()
    page.goto(f"{base}/o/{SLUG}/")
    page.get_by_role("link", name="Reports", exact=True).first.click()
    page.get_by_test_id("report-sessions").click()

    # The last 30 days: only the recent session.
    expect(page.get_by_test_id("completed")).to_have_text("1")
    expect(page.get_by_test_id("delivered")).to_have_text("1 h")
    expect(page.get_by_role("img", name="Hours delivered per day")).to_be_visible()

    page.get_by_label("Range").select_option(label="Last 12 months")
    page.get_by_role("button", name="Show").click()
    expect(page.get_by_test_id("completed")).to_have_text("2")
    expect(page.get_by_test_id("delivered")).to_have_text("1 h 45 min")
    expect(page.get_by_role("img", name="Hours delivered per month")).to_be_visible()

    with page.expect_download() as downloaded:
        page.get_by_test_id("export-csv").click()
    download = downloaded.value
    assert download.suggested_filename.startswith(f"{SLUG}-sessions-")
    content = Path(download.path()).read_text(encoding="utf-8")
    assert "Sessions per month" in content
    assert "Total,2,2,0,0,105,0,0" in content.replace("\r\n", "\n")
