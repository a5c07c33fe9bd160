"""A provider's usual path, in a real browser: accept a proposal, log the session that took
place, and the student sees the hours gone from their balance.
"""

from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.db.models import Sum
from django.utils import timezone
from playwright.sync_api import Browser, BrowserContext, Page, expect

from grants.models import Grant, GrantEntry
from grants.reconcile import find_differences
from matchpal.models import Organization, Role, ServiceType, User
from matchpal.quantities import format_minutes
from providers.models import Provider
from relationships import services as relationships
from relationships.models import Relationship
from sessions_app.models import Session
from students.models import Student
from tests.factories import (
    PASSWORD,
    MembershipFactory,
    OrganizationFactory,
    ProviderFactory,
    StudentFactory,
    UserFactory,
    make_grant,
)
from tests.support import member

pytestmark = [pytest.mark.browser]

SLUG = "lakeside"


@dataclass
class Center:
    organization: Organization
    admin: User
    provider: Provider
    student: Student
    grant: Grant


@pytest.fixture
def center(transactional_db: None) -> Center:
    organization = OrganizationFactory(name="Lakeside Learning", slug=SLUG)  # America/New_York
    admin = UserFactory(email="admin@lakeside.example", name="Rosa Admin")
    MembershipFactory(user=admin, organization=organization, role=Role.ADMIN)
    provider_user = UserFactory(email="priya@lakeside.example", name="Priya Nair")
    MembershipFactory(user=provider_user, organization=organization, role=Role.PROVIDER)
    provider = ProviderFactory(
        organization=organization, user=provider_user, name="Priya Nair", email=provider_user.email
    )
    student_user = UserFactory(email="maya@lakeside.example", name="Maya Patel")
    MembershipFactory(user=student_user, organization=organization, role=Role.STUDENT)
    student = StudentFactory(
        organization=organization, user=student_user, name="Maya Patel", email=student_user.email
    )
    grant = make_grant(
        student=student,
        minutes=600,
        reference="Ten hours",
        valid_from=timezone.now() - timedelta(days=30),
    )
    return Center(organization, admin, provider, student, grant)


def sign_in(page: Page, base: str, email: str) -> None:
    page.goto(f"{base}/accounts/login/")
    page.fill("input[name=login]", email)
    page.fill("input[name=password]", PASSWORD)
    page.get_by_role("button", name="Sign In", exact=True).click()
    expect(page).to_have_url(f"{base}/o/{SLUG}/")


def available_from_the_ledger(student: Student) -> str:
    """What the student's Tutoring card should say is free to book: total − used − held, each
    summed from the ledger entries (not the balance columns the page reads)."""
    sums = GrantEntry.objects.filter(grant__student=student).aggregate(
        total=Sum("total_delta"), used=Sum("used_delta"), held=Sum("held_delta")
    )
    return format_minutes(sums["total"] - sums["used"] - sums["held"])


def test_provider_accepts_logs_a_session_and_the_student_sees_it(
    live_server, browser: Browser, context: BrowserContext, center: Center
) -> None:
    base = live_server.url

    # Before anything is reserved, the student has ten hours free to book.
    before_context = browser.new_context()
    before_context.set_default_timeout(15_000)
    try:
        page = before_context.new_page()
        sign_in(page, base, center.student.email)
        before = page.get_by_test_id("available-tutoring").inner_text()
    finally:
        before_context.close()
    assert before == "10 h" == available_from_the_ledger(center.student)

    # An admin proposes Priya for Maya's tutoring: 1 h 30 min are held from the grant.
    tutoring = ServiceType.objects.get(organization=center.organization, name="Tutoring")
    proposal = relationships.relationship_propose(
        membership=member(center.admin),
        organization=center.organization,
        student=center.student,
        provider=center.provider,
        service_type=tutoring,
        quantity=90,
    )
    center.grant.refresh_from_db()
    assert (center.grant.total, center.grant.used, center.grant.held) == (600, 0, 90)

    # The provider signs in through the real sign-in page and sees the proposal at home…
    page = context.new_page()
    sign_in(page, base, center.provider.email)
    expect(page.get_by_role("heading", name="Welcome, Priya Nair")).to_be_visible()
    expect(page.get_by_role("heading", name="Proposals awaiting your answer")).to_be_visible()
    item = page.locator("li.list-group-item", has_text="Maya Patel")
    expect(item).to_contain_text("Tutoring · 1 h 30 min")

    # …accepts it, and the home page shows the student under "My students" in place (htmx)…
    item.get_by_role("button", name="Accept").click()
    expect(page.get_by_text("You accepted the proposal.")).to_be_visible()
    expect(page).to_have_url(f"{base}/o/{SLUG}/")
    expect(page.get_by_role("heading", name="Proposals awaiting your answer")).to_have_count(0)
    expect(page.locator("li.list-group-item", has_text="Maya Patel")).to_contain_text("Log session")
    proposal.refresh_from_db()
    assert proposal.status == "paired"
    # Paired a day ago, so that a session of two hours ago may be logged.
    Relationship.objects.filter(pk=proposal.pk).update(paired_at=timezone.now() - timedelta(days=1))

    # …and, from their home page, logs the session for that student.
    page.goto(f"{base}/o/{SLUG}/")
    student_row = page.locator("li.list-group-item", has_text="Maya Patel")
    student_row.get_by_role("link", name="Log session").click()
    expect(page).to_have_url(f"{base}/o/{SLUG}/relationships/{proposal.public_id}/log/")
    expect(page.get_by_role("heading", name="Log a session")).to_be_visible()
    start = timezone.localtime(timezone.now() - timedelta(hours=2), center.organization.tz)
    page.fill("#id_date", start.strftime("%Y-%m-%d"))
    page.fill("#id_time", start.strftime("%H:%M"))
    page.select_option("#id_duration", label="1 h 30 min")
    page.fill("#id_mode", "Online")
    page.fill("#id_notes", "Quadratic equations: factoring and the discriminant.")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Session logged.")).to_be_visible()

    session = Session.objects.get(relationship=proposal)
    assert page.url == f"{base}/o/{SLUG}/sessions/{session.public_id}/"
    assert timezone.localtime(session.starts_at, center.organization.tz).strftime(
        "%Y-%m-%d %H:%M"
    ) == start.strftime("%Y-%m-%d %H:%M")
    assert (session.status, session.duration_minutes, session.charged_minutes) == (
        "completed",
        90,
        90,
    )
    assert session.notes == "Quadratic equations: factoring and the discriminant."
    # The hold paid for the session: 1 h 30 min used, nothing held any more.
    center.grant.refresh_from_db()
    assert (center.grant.total, center.grant.used, center.grant.held) == (600, 90, 0)
    assert find_differences() == []
    expected = available_from_the_ledger(center.student)
    assert expected == "8 h 30 min"

    # The student, in a browser of their own, sees 1 h 30 min fewer to book, and the session.
    student_context = browser.new_context()
    student_context.set_default_timeout(15_000)
    try:
        page = student_context.new_page()
        sign_in(page, base, center.student.email)
        expect(page.get_by_role("heading", name="Welcome, Maya Patel")).to_be_visible()
        expect(page.get_by_test_id("available-tutoring")).to_have_text(expected)
        expect(page.get_by_test_id("held-tutoring")).to_have_text("0 min")
        expect(page.get_by_test_id("total-tutoring")).to_have_text("10 h")
        expect(page.get_by_test_id("used-tutoring")).to_have_text("1 h 30 min")
        row = page.get_by_test_id("student-session").filter(has_text="Priya Nair")
        expect(row).to_have_count(1)
        expect(row.get_by_role("link", name=start.strftime("%b %-d, %H:%M"))).to_be_visible()
        expect(row.get_by_test_id("session-status")).to_have_text("Completed")
        expect(row.get_by_test_id("session-usage")).to_have_text(
            "1 h 30 min used · Used after it: 1 h 30 min"
        )
    finally:
        student_context.close()
