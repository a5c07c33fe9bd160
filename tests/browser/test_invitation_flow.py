"""A student's way in, in a real browser: an admin adds and invites them, they sign up and land.

And the admin's home at phone width.
"""

import re

import pytest
from django.core import mail
from playwright.sync_api import Browser, BrowserContext, expect

from matchpal.models import Role
from students.models import Student
from tests.browser.conftest import signed_in_context
from tests.factories import PASSWORD, MembershipFactory, OrganizationFactory, UserFactory

pytestmark = [pytest.mark.browser]

INVITATION_LINK = re.compile(r"https?://\S+/invitations/[^/\s]+/")


@pytest.fixture
def admin(transactional_db: None):
    organization = OrganizationFactory(name="Alpha Tutoring", slug="alpha")
    user = UserFactory(email="admin@alpha.example", name="Rosa Admin")
    MembershipFactory(user=user, organization=organization, role=Role.ADMIN)
    return user


def test_invited_student_signs_up_and_lands_on_their_home(
    live_server, context: BrowserContext, browser: Browser, admin, mailoutbox
) -> None:
    base = live_server.url
    page = context.new_page()

    # The admin signs in through the real sign-in page.
    page.goto(f"{base}/accounts/login/")
    page.fill("input[name=login]", admin.email)
    page.fill("input[name=password]", PASSWORD)
    page.get_by_role("button", name="Sign In", exact=True).click()
    expect(page).to_have_url(f"{base}/o/alpha/")
    expect(page.get_by_text("Active students")).to_be_visible()

    # …adds a student through the form…
    page.get_by_role("link", name="Add a student").click()
    expect(page).to_have_url(f"{base}/o/alpha/students/new/")
    page.fill("#id_name", "Maya Patel")
    page.fill("#id_email", "maya.patel@example.net")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("heading", name="Maya Patel")).to_be_visible()
    student = Student.objects.get(organization__slug="alpha", email="maya.patel@example.net")
    assert student.user_id is None

    # …and invites them.
    page.get_by_role("button", name="Invite to sign in").click()
    expect(page.get_by_text("An invitation was sent to maya.patel@example.net.")).to_be_visible()

    # The email went out on commit, from the live server's thread, into the shared outbox.
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["maya.patel@example.net"]
    match = INVITATION_LINK.search(message.body)
    assert match, message.body
    link = match.group(0)
    assert link.startswith(base)

    # The student opens the link in their own browser: no cookies of the admin's.
    student_context = browser.new_context()
    student_context.set_default_timeout(15_000)
    try:
        student_page = student_context.new_page()
        student_page.goto(link)
        expect(student_page.get_by_role("heading", name="Join Alpha Tutoring")).to_be_visible()
        student_page.get_by_role("link", name="Create your account").click()

        expect(student_page.locator("input[name=email]")).to_have_value("maya.patel@example.net")
        student_page.fill("input[name=password1]", "violet-harbour-lantern-91")
        student_page.fill("input[name=password2]", "violet-harbour-lantern-91")
        student_page.get_by_role("button", name="Sign Up").click()

        # Following the emailed link proved the address: no verification step, straight back
        # to the invitation.
        expect(student_page).to_have_url(link)
        student_page.get_by_role("button", name="Accept the invitation").click()

        expect(student_page).to_have_url(f"{base}/o/alpha/")
        expect(student_page.get_by_role("heading", name="Welcome, Maya Patel")).to_be_visible()
    finally:
        student_context.close()

    student.refresh_from_db()
    assert student.user is not None
    assert student.user.email == "maya.patel@example.net"
    assert student.user.memberships.get(organization__slug="alpha").role == Role.STUDENT
    # Only the invitation was sent: no address-verification email.
    assert len(mail.outbox) == 1


def test_admin_home_fits_a_phone(live_server, browser: Browser, admin) -> None:
    context = signed_in_context(
        browser, live_server.url, admin, viewport={"width": 375, "height": 812}, is_mobile=True
    )
    try:
        page = context.new_page()
        page.goto(f"{live_server.url}/o/alpha/")
        expect(page.get_by_text("Active students")).to_be_visible()

        toggler = page.locator(".navbar-toggler")
        expect(toggler).to_be_visible()
        students_link = page.locator("#nav").get_by_role("link", name="Students")
        expect(students_link).to_be_hidden()
        toggler.click()
        expect(students_link).to_be_visible()

        scroll_width = page.evaluate("document.documentElement.scrollWidth")
        assert scroll_width <= 375, f"the page is {scroll_width}px wide at a 375px viewport"
    finally:
        context.close()
