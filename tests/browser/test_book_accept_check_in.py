"""Booking to check-in, in a real browser (issue 13, item 11; docs/scheduling.md): a student books
tomorrow's 10:00 with their tutor, the tutor accepts the request, and after the session has
started checks it in with +5 on the booked hour; the student's hours show exactly 65 minutes
used, and the ledger agrees.

The server's clock is moved with time-machine (it patches the clock of the whole process, so the
live server's thread sees it too): from now to 70 minutes after the booked start. The browser's
own clock is not moved; the session cookie is set by the test (no expiry to outlive)."""

from datetime import UTC, datetime, time, timedelta

import pytest
import time_machine
from django.utils import timezone
from playwright.sync_api import Browser, Page, expect

from grants.models import Grant
from grants.reconcile import find_differences
from grants.services import hold
from providers.models import AvailabilityWindow
from relationships.models import Relationship
from sessions_app.models import Session
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

pytestmark = [pytest.mark.browser]

SLUG = "hillside"


def _used(page: Page, base: str) -> str:
    page.goto(f"{base}/o/{SLUG}/")
    return page.get_by_test_id("used-tutoring").inner_text()


def test_a_student_books_the_tutor_accepts_and_checks_in_with_plus_five(
    live_server, browser: Browser, transactional_db: None
) -> None:
    base = live_server.url
    with time_machine.travel(datetime.now(UTC), tick=True) as clock:
        org = OrganizationFactory(name="Hillside Tutoring", slug=SLUG, time_zone="Europe/London")
        org.booking_auto_accept = False
        org.save(update_fields=["booking_auto_accept"])
        provider_user = UserFactory(email="tom@hillside.example", name="Tom Reed")
        MembershipFactory(user=provider_user, organization=org, role="provider")
        provider = ProviderFactory(
            organization=org, user=provider_user, email=provider_user.email, name="Tom Reed"
        )
        student_user = UserFactory(email="ines@hillside.example", name="Ines Ruiz")
        MembershipFactory(user=student_user, organization=org, role="student")
        student = StudentFactory(
            organization=org, user=student_user, email=student_user.email, name="Ines Ruiz"
        )
        grant = make_grant(
            student=student, minutes=600, valid_from=timezone.now() - timedelta(days=30)
        )
        relationship = RelationshipFactory(organization=org, student=student, provider=provider)
        hold(actor=None, relationship=relationship, quantity=300)
        Relationship.objects.filter(pk=relationship.pk).update(
            paired_at=timezone.now() - timedelta(days=7)
        )
        # Open tomorrow (center time) from 10:00 to 12:00: at least ten hours ahead whenever the
        # test runs, so a one-hour notice (not the default twelve) always lets it be booked.
        tomorrow = timezone.localdate(timezone=org.tz) + timedelta(days=1)
        org.booking_notice_hours = 1
        org.save(update_fields=["booking_notice_hours"])
        AvailabilityWindow.objects.create(
            organization=org,
            provider=provider,
            weekday=tomorrow.weekday(),
            start=time(10),
            end=time(12),
            location="Room 3",
        )
        starts_at = datetime.combine(tomorrow, time(10), tzinfo=org.tz)

        student_context = signed_in_context(browser, base, student_user)
        provider_context = signed_in_context(browser, base, provider_user)
        try:
            as_student = student_context.new_page()
            assert _used(as_student, base) == "0 min"

            # The student books tomorrow's 10:00: a request, as the center does not auto-accept.
            as_student.goto(f"{base}/o/{SLUG}/book/?week={tomorrow.isoformat()}")
            as_student.get_by_role("link", name="10:00").click()
            expect(as_student.get_by_label("Tom Reed")).to_be_checked()
            as_student.get_by_label("Topic").fill("Essay structure")
            as_student.get_by_role("button", name="Send the request").click()
            expect(as_student.get_by_text("Session requested.")).to_be_visible()
            session = Session.objects.get(relationship=relationship)
            assert (session.status, session.starts_at, session.duration_minutes) == (
                "pending",
                starts_at,
                60,
            )

            # The tutor accepts it from their home, where requests stand first.
            as_provider = provider_context.new_page()
            as_provider.goto(f"{base}/o/{SLUG}/")
            requests = as_provider.get_by_test_id("session-requests")
            expect(requests).to_contain_text("Ines Ruiz")
            requests.get_by_role("button", name="Accept").click()
            expect(
                as_provider.get_by_text("Request accepted: the session is scheduled.")
            ).to_be_visible()

            # 70 minutes after the start, the tutor checks it in with +5.
            clock.move_to(starts_at + timedelta(minutes=70))
            as_provider.goto(f"{base}/o/{SLUG}/check-in/")
            as_provider.get_by_role("main").get_by_role("link", name="Check in").click()
            duration = as_provider.get_by_label("Duration (minutes)")
            expect(duration).to_have_value("60")
            as_provider.get_by_role("button", name="+5").click()
            expect(duration).to_have_value("65")
            as_provider.get_by_role("button", name="Check in").click()
            expect(as_provider.get_by_text("Checked in.")).to_be_visible()

            # The student's hours: exactly the checked-in 65 minutes used.
            assert _used(as_student, base) == "1 h 5 min"
        finally:
            student_context.close()
            provider_context.close()

    session = Session.objects.get(pk=session.pk)
    grant = Grant.objects.get(pk=grant.pk)
    assert (session.status, session.duration_minutes, session.charged_minutes) == (
        "completed",
        65,
        65,
    )
    assert (grant.total, grant.used, grant.held) == (600, 65, 235)
    assert find_differences() == []
