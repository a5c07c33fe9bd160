"""Check-in on a phone, in a real browser (docs/scheduling.md, "Check-in"): the provider opens
the week (a day list at phone width), checks the session in with +5 on the booked hour, and the
student's hours drop by exactly 65 minutes. The same form without the script is a plain number
field (tests/sessions_app/test_check_in.py)."""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import Browser, expect

from grants.models import Grant
from grants.services import hold
from relationships.models import Relationship
from sessions_app.models import Session
from sessions_app.services import session_log
from tests.browser.conftest import signed_in_context
from tests.factories import (
    MembershipFactory,
    OrganizationFactory,
    ProviderFactory,
    RelationshipFactory,
    StudentFactory,
    UserFactory,
    make_grant,
)
from tests.support import member

pytestmark = [pytest.mark.browser]

PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}


def test_a_provider_checks_in_with_plus_five_on_a_phone(
    live_server, browser: Browser, transactional_db: None
) -> None:
    org = OrganizationFactory(name="Lakeside Learning", slug="lakeside")
    admin = UserFactory(email="admin@lakeside.example")
    MembershipFactory(user=admin, organization=org, role="admin")
    provider_user = UserFactory(email="priya@lakeside.example", name="Priya Nair")
    MembershipFactory(user=provider_user, organization=org, role="provider")
    provider = ProviderFactory(organization=org, user=provider_user, email=provider_user.email)
    student = StudentFactory(organization=org, name="Maya Patel")
    grant = make_grant(student=student, minutes=600, valid_from=timezone.now() - timedelta(days=30))
    relationship = RelationshipFactory(organization=org, student=student, provider=provider)
    hold(actor=None, relationship=relationship, quantity=300)
    Relationship.objects.filter(pk=relationship.pk).update(
        paired_at=timezone.now() - timedelta(days=7)
    )
    starts = timezone.now().replace(second=0, microsecond=0) - timedelta(minutes=70)
    session = session_log(
        membership=member(admin, org),
        relationship=Relationship.objects.get(pk=relationship.pk),
        starts_at=starts,
        duration=60,
        scheduled=True,
    )

    context = signed_in_context(browser, live_server.url, provider_user, **PHONE)
    try:
        page = context.new_page()
        page.goto(f"{live_server.url}/o/lakeside/calendar/")
        week = page.get_by_test_id("week")
        # A day list, not seven columns, at phone width.
        assert week.evaluate("e => getComputedStyle(e).display") == "block"
        week.get_by_role("link", name="Maya Patel").click()
        page.get_by_role("link", name="Check in").first.click()

        duration = page.get_by_label("Duration (minutes)")
        expect(duration).to_have_value("60")
        page.get_by_role("button", name="+5").click()
        expect(duration).to_have_value("65")
        page.get_by_role("button", name="Check in").click()
        expect(page.get_by_text("Checked in.")).to_be_visible()
    finally:
        context.close()

    session = Session.objects.get(pk=session.pk)
    grant = Grant.objects.get(pk=grant.pk)
    assert (session.status, session.duration_minutes, session.charged_minutes) == (
        "completed",
        65,
        65,
    )
    assert (grant.total, grant.used, grant.held) == (600, 65, 235)
