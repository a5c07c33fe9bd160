"""Sessions as a unit, in a real browser: an admin makes a package of five sessions, grants it
to a student, proposes a pairing in sessions; the provider accepts and logs a 90-minute session,
and the student's hours page shows one session less (one session consumes one, not minutes).
"""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import Browser, Page, expect

from grants.models import Grant, Package
from grants.reconcile import find_differences
from matchpal.models import Role
from relationships.models import Relationship
from sessions_app.models import Session
from tests.browser.conftest import signed_in_context
from tests.factories import (
    MembershipFactory,
    OrganizationFactory,
    ProviderFactory,
    StudentFactory,
    UserFactory,
)

pytestmark = [pytest.mark.browser]

SLUG = "riverside"


def test_a_package_in_sessions_is_granted_proposed_logged_and_counted_in_sessions(
    live_server, browser: Browser, transactional_db: None
) -> None:
    base = live_server.url
    org = OrganizationFactory(name="Riverside Tutors", slug=SLUG)
    admin = UserFactory(email="admin@riverside.example", name="Ana Admin")
    MembershipFactory(user=admin, organization=org, role=Role.ADMIN)
    provider_user = UserFactory(email="leo@riverside.example", name="Leo Park")
    MembershipFactory(user=provider_user, organization=org, role=Role.PROVIDER)
    ProviderFactory(
        organization=org, user=provider_user, name="Leo Park", email=provider_user.email
    )
    student_user = UserFactory(email="sam@riverside.example", name="Sam Reed")
    MembershipFactory(user=student_user, organization=org, role=Role.STUDENT)
    student = StudentFactory(
        organization=org, user=student_user, name="Sam Reed", email=student_user.email
    )

    admin_context = signed_in_context(browser, base, admin)
    page: Page = admin_context.new_page()

    # The admin makes a package counted in sessions…
    page.goto(f"{base}/o/{SLUG}/packages/new/")
    page.fill("#id_name", "Five sessions")
    page.fill("#id_amount", "5")
    page.select_option("#id_measure", "sessions")
    page.get_by_label("Tutoring").check()
    page.fill("#id_price", "250")
    page.get_by_role("button", name="Save").click()
    expect(page).to_have_url(f"{base}/o/{SLUG}/packages/")
    package = Package.objects.get(organization=org)
    assert (package.quantity, package.unit) == (5, "sessions")

    # …grants it to the student…
    page.goto(f"{base}/o/{SLUG}/students/{student.public_id}/hours/add/")
    page.select_option("#id_package", label="Five sessions")
    page.get_by_role("button", name="Add hours").click()
    expect(page.get_by_text("5 sessions were added to Sam Reed.")).to_be_visible()
    grant = Grant.objects.get(student=student)
    assert (grant.unit, grant.total) == ("sessions", 5)
    # Valid from a month ago, so that a session of a few hours ago falls inside it.
    Grant.objects.filter(pk=grant.pk).update(valid_from=timezone.now() - timedelta(days=30))
    expect(page.get_by_test_id("available-tutoring")).to_have_text("5 sessions")

    # …and proposes Leo for three sessions.
    page.goto(f"{base}/o/{SLUG}/relationships/new/")
    page.locator("#id_student").press_sequentially("sam")
    page.locator("[data-search-matches] [data-value]", has_text="Sam Reed").click()
    page.locator("#id_provider").press_sequentially("leo")
    page.locator("[data-search-matches] [data-value]", has_text="Leo Park").click()
    page.select_option("#id_service_type", label="Tutoring")
    page.fill("#id_amount", "3")
    page.select_option("#id_measure", "sessions")
    if page.locator("#id_client_rate").count():
        page.fill("#id_client_rate", "50")
    page.get_by_role("button", name="Propose").click()
    expect(page.get_by_text("Leo Park was asked to work with Sam Reed.")).to_be_visible()
    relationship = Relationship.objects.get(student=student)
    assert relationship.unit == "sessions"
    grant.refresh_from_db()
    assert (grant.total, grant.used, grant.held) == (5, 0, 3)
    admin_context.close()

    # The provider accepts and logs a 90-minute session.
    provider_context = signed_in_context(browser, base, provider_user)
    page = provider_context.new_page()
    page.goto(f"{base}/o/{SLUG}/")
    item = page.locator("li.list-group-item", has_text="Sam Reed")
    expect(item).to_contain_text("3 sessions")
    item.get_by_role("button", name="Accept").click()
    expect(page.get_by_text("You accepted the proposal.")).to_be_visible()
    Relationship.objects.filter(pk=relationship.pk).update(
        paired_at=timezone.now() - timedelta(days=1)
    )
    page.goto(f"{base}/o/{SLUG}/relationships/{relationship.public_id}/log/")
    start = timezone.localtime(timezone.now() - timedelta(hours=2), org.tz)
    page.fill("#id_date", start.strftime("%Y-%m-%d"))
    page.fill("#id_time", start.strftime("%H:%M"))
    page.select_option("#id_duration", label="1 h 30 min")
    page.fill("#id_mode", "Online")
    page.fill("#id_notes", "Essay structure.")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Session logged.")).to_be_visible()
    provider_context.close()

    session = Session.objects.get(relationship=relationship)
    assert (session.status, session.duration_minutes, session.charged_minutes) == (
        "completed",
        90,
        1,
    )
    grant.refresh_from_db()
    assert (grant.total, grant.used, grant.held) == (5, 1, 2)
    assert find_differences() == []

    # The student's hours page: one session used, two reserved, two free to book.
    student_context = signed_in_context(browser, base, student_user)
    page = student_context.new_page()
    page.goto(f"{base}/o/{SLUG}/my/hours/")
    expect(page.get_by_test_id("total-tutoring")).to_have_text("5 sessions")
    expect(page.get_by_test_id("used-tutoring")).to_have_text("1 session")
    expect(page.get_by_test_id("held-tutoring")).to_have_text("2 sessions")
    expect(page.get_by_test_id("available-tutoring")).to_have_text("2 sessions")
    expect(page.get_by_test_id("hold")).to_have_text("Reserved for Leo Park: 2 sessions")
    student_context.close()
