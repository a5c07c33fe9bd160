"""A search field in a real browser: typing part of a student's name in the sessions list's
filter shows the matches, and choosing one filters the list in place."""

import re

import pytest
from playwright.sync_api import Browser, expect

from tests.browser.conftest import signed_in_context
from tests.factories import RelationshipFactory, SessionFactory, StudentFactory
from tests.support import make_tenant

pytestmark = [pytest.mark.browser]

SLUG = "riverside"


def test_typing_a_name_shows_matches_and_choosing_one_filters_the_sessions(
    live_server, browser: Browser, transactional_db: None
) -> None:
    base = live_server.url
    tenant = make_tenant("Riverside Tutors", SLUG)
    org = tenant.organization
    students = {}
    for name in ("Qwinn Avery", "Qwincy Bell", "Sam Reed"):
        students[name] = StudentFactory(organization=org, name=name, email="")
        relationship = RelationshipFactory(
            organization=org, student=students[name], provider=tenant.provider
        )
        SessionFactory(relationship=relationship)

    page = signed_in_context(browser, base, tenant.admin).new_page()
    page.goto(f"{base}/o/{SLUG}/sessions/")
    rows = page.locator("#results tbody tr")
    expect(rows).to_have_count(3)
    page.evaluate("window.stillHere = true")

    page.locator("#id_student").press_sequentially("qwin")
    matches = page.locator("[data-search-matches] [data-value]")
    expect(matches).to_have_count(2)
    expect(matches.nth(0)).to_have_text("Qwincy Bell")
    expect(matches.nth(1)).to_have_text("Qwinn Avery")

    matches.nth(1).click()
    quinn = students["Qwinn Avery"]
    expect(page).to_have_url(re.compile(rf"[?&]student={quinn.public_id}(&|$)"))
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Qwinn Avery")
    expect(page.locator("#id_student")).to_have_value("Qwinn Avery")
    assert page.evaluate("window.stillHere") is True

    # Reloading the address gives the same list, with the name shown again.
    page.reload()
    expect(rows).to_have_count(1)
    expect(page.locator("#id_student")).to_have_value("Qwinn Avery")
