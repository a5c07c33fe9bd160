"""Proposing a pairing in a real browser: the student and the provider are found by typing part
of their names, and the provider chosen brings its default pay rate into the rates shown."""

from decimal import Decimal

import pytest
from playwright.sync_api import Browser, expect

from relationships.models import Relationship
from tests.browser.conftest import signed_in_context
from tests.factories import ProviderFactory, StudentFactory
from tests.support import make_tenant, past_grant

pytestmark = [pytest.mark.browser]


def test_the_admin_finds_both_people_and_sees_the_providers_rate(
    live_server, browser: Browser, transactional_db: None
) -> None:
    tenant = make_tenant("Riverside Tutors", "riverside")
    org = tenant.organization
    student = StudentFactory(organization=org, name="Qwinn Avery", email="")
    past_grant(student, 600)
    ProviderFactory(organization=org, name="Olga Other", default_pay_rate=Decimal("30.00"))
    provider = ProviderFactory(organization=org, name="Paula Tutor", default_pay_rate="42.50")

    page = signed_in_context(browser, live_server.url, tenant.admin).new_page()
    page.goto(f"{live_server.url}/o/{org.slug}/relationships/new/")

    page.locator("#id_student").press_sequentially("avery")
    page.locator("[data-search-matches] [data-value]", has_text="Qwinn Avery").click()
    expect(page.locator("#id_student")).to_have_value("Qwinn Avery")

    page.locator("#id_provider").press_sequentially("paula")
    page.locator("[data-search-matches] [data-value]", has_text="Paula Tutor").click()
    expect(page.locator('[data-rate="provider_pay_rate"]')).to_have_text("42.50")

    page.select_option("#id_service_type", label="Tutoring")
    page.fill("#id_amount", "2")
    page.fill("#id_client_rate", "60")
    page.get_by_role("button", name="Propose", exact=True).click()
    expect(page.get_by_text("Paula Tutor was asked to work with Qwinn Avery.")).to_be_visible()
    relationship = Relationship.objects.get()
    assert (relationship.student, relationship.provider) == (student, provider)
    assert relationship.provider_pay_rate == Decimal("42.50")
