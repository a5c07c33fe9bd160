"""htmx on the provider's home in a real browser: accepting and declining a proposal update the
home's lists in place (no page load), declining only after the provider confirms."""

import pytest
from playwright.sync_api import Browser, Dialog, expect

from relationships.models import RelationshipStatus
from tests.browser.conftest import signed_in_context
from tests.factories import StudentFactory
from tests.support import make_tenant, past_grant, propose

pytestmark = [pytest.mark.browser]


def test_the_provider_accepts_and_declines_proposals_in_place(
    live_server, browser: Browser, transactional_db: None
) -> None:
    base = live_server.url
    tenant = make_tenant("Harbor Tutors", "harbor")
    keeps = tenant.student
    declined = StudentFactory(organization=tenant.organization, name="Dana Reed")
    for student in (keeps, declined):
        past_grant(student, 600)
    accepted_rel = propose(tenant, quantity=60, student=keeps)
    declined_rel = propose(tenant, quantity=60, student=declined)

    page = signed_in_context(browser, base, tenant.provider_user).new_page()
    page.goto(f"{base}/o/harbor/")
    page.evaluate("window.stillHere = true")  # a full page load would lose it
    proposals = page.locator("#work ul").first

    proposals.locator("li", has_text=keeps.name).get_by_role("button", name="Accept").click()
    expect(page.get_by_text("You accepted the proposal.")).to_be_visible()

    # Dismissing the confirmation declines nothing.
    page.once("dialog", lambda dialog: dialog.dismiss())
    page.locator("li", has_text=declined.name).get_by_role(
        "link", name="Decline", exact=True
    ).click()
    expect(page.get_by_role("link", name="Decline", exact=True)).to_be_visible()

    prompts: list[str] = []

    def confirm(dialog: Dialog) -> None:
        prompts.append(dialog.message)
        dialog.accept()

    page.once("dialog", confirm)
    page.locator("li", has_text=declined.name).get_by_role(
        "link", name="Decline", exact=True
    ).click()
    expect(page.get_by_text("The proposal was declined.")).to_be_visible()
    expect(page.get_by_text("Proposals awaiting your answer")).to_have_count(0)
    assert prompts == [
        f"Decline the proposal for {declined.name}? The reserved hours go back to the student."
    ]
    assert page.evaluate("window.stillHere") is True

    accepted_rel.refresh_from_db()
    declined_rel.refresh_from_db()
    assert accepted_rel.status == RelationshipStatus.PAIRED
    assert declined_rel.status == RelationshipStatus.DECLINED
