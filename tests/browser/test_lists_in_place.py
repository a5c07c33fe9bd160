"""htmx in a real browser: filtering and paging the students list replace only the list, the
address bar follows (so reload and back work), and the page itself is not reloaded."""

import re

import pytest
from django.test import override_settings
from playwright.sync_api import Browser, expect

from matchpal.models import Role
from tests.browser.conftest import signed_in_context
from tests.factories import MembershipFactory, OrganizationFactory, StudentFactory, UserFactory

pytestmark = [pytest.mark.browser]

SLUG = "riverside"


@override_settings(MATCHPAL_PAGE_SIZE=2)
def test_the_students_list_filters_and_pages_in_place(
    live_server, browser: Browser, transactional_db: None
) -> None:
    base = live_server.url
    org = OrganizationFactory(name="Riverside Tutors", slug=SLUG)
    admin = UserFactory(email="admin@riverside.example", name="Ana Admin")
    MembershipFactory(user=admin, organization=org, role=Role.ADMIN)
    for name in ("Maya Patel", "Mark Patel", "Mia Patel", "Sam Reed"):
        StudentFactory(organization=org, name=name)

    page = signed_in_context(browser, base, admin).new_page()
    page.goto(f"{base}/o/{SLUG}/students/")
    expect(page.get_by_text("Page 1 of 2")).to_be_visible()
    # A marker that a full page load would lose.
    page.evaluate("window.stillHere = true")

    page.fill("#id_q", "Patel")
    page.get_by_role("button", name="Filter").click()
    expect(page).to_have_url(re.compile(rf"^{base}/o/{SLUG}/students/\?q=Patel&"))
    expect(page.get_by_role("link", name="Sam Reed")).to_have_count(0)
    expect(page.get_by_text("Page 1 of 2")).to_be_visible()

    page.get_by_role("link", name="Next").click()
    expect(page.get_by_text("Page 2 of 2")).to_be_visible()
    expect(page).to_have_url(re.compile(rf"^{base}/o/{SLUG}/students/\?q=Patel&.*page=2$"))
    expect(page.locator("#id_q")).to_have_value("Patel")
    assert page.evaluate("window.stillHere") is True

    # The address is a real page: loading it gives the same list, whole.
    page.reload()
    expect(page.get_by_text("Page 2 of 2")).to_be_visible()
    expect(page.locator("#id_q")).to_have_value("Patel")
