"""A student cancels their own booking (docs/scheduling.md, "Booking"): a request or a booked
session, before it starts, with a reason; the center's late-cancellation rule as for any
cancellation; the provider told, with the calendar cancel of a booked session."""

from datetime import timedelta

import pytest
from django.core import mail
from icalendar import Calendar

from sessions_app import booking, selectors
from sessions_app.models import SessionChange, SessionStatus
from tests.factories import MembershipFactory, StudentFactory, UserFactory
from tests.scheduling.support import book
from tests.support import (
    Tenant,
    assert_reconciled,
    at,
    client_for,
    fresh,
    member,
    messages_of,
    refused,
    set_policy,
)

pytestmark = pytest.mark.django_db


def cancel(tenant: Tenant, session, *, user=None, reason: str = "Exam moved"):  # type: ignore[no-untyped-def]
    return booking.session_cancel_booking(
        membership=member(user or tenant.student_user, tenant.organization),
        session=session,
        reason=reason,
    )


def test_a_booked_session_is_cancelled_and_the_provider_gets_the_calendar_cancel(
    tenant_a: Tenant, rel, django_capture_on_commit_callbacks
) -> None:
    [session] = book(tenant_a, rel, at(12, 15))
    mail.outbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        cancel(tenant_a, session)

    session = fresh(session)
    assert (session.status, session.cancellation_reason, session.charged_minutes) == (
        SessionStatus.CANCELLED,
        "Exam moved",
        0,
    )
    change = SessionChange.objects.get(session=session, kind="cancelled")
    assert (change.actor_id, change.reason) == (tenant_a.student_user.pk, "Exam moved")
    # The provider (and the student's guardian) are told, not the student who cancelled; the
    # email carries the cancel.
    assert sorted(m.to[0] for m in mail.outbox) == sorted(
        [tenant_a.provider.email, tenant_a.student.guardian_email]
    )
    sent = next(m for m in mail.outbox if m.to == [tenant_a.provider.email])
    assert sent.subject == "[Matchpal] Session cancelled: Jun 12 with " + tenant_a.provider.name
    ((filename, content, _),) = sent.attachments
    assert filename == "cancel.ics"
    cal = Calendar.from_ical(content)
    (event,) = cal.walk("VEVENT")
    assert (str(cal["METHOD"]), str(event["STATUS"]), event["SEQUENCE"]) == (
        "CANCEL",
        "CANCELLED",
        1,
    )
    assert str(event["UID"]) == f"session-{session.public_id}@matchpal"
    # Its time is free again.
    [again] = book(tenant_a, rel, at(12, 15))
    assert fresh(again).status == SessionStatus.SCHEDULED


def test_a_request_is_withdrawn_without_an_invite_to_cancel(
    tenant_a: Tenant, rel, django_capture_on_commit_callbacks
) -> None:
    set_policy(tenant_a.organization, booking_auto_accept=False)
    rel.refresh_from_db()
    [session] = book(tenant_a, rel, at(12, 15))
    mail.outbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        cancel(tenant_a, session)

    assert fresh(session).status == SessionStatus.CANCELLED
    sent = next(m for m in mail.outbox if m.to == [tenant_a.provider.email])
    assert sent.attachments == []


def test_a_late_cancellation_is_charged_per_the_centers_policy(tenant_a: Tenant, rel) -> None:
    """Thursday 15:00 is 27 hours away: inside a 30-hour window, charged in full; a request
    never is."""
    grant = tenant_a.student.grants.get()
    [session] = book(tenant_a, rel, at(12, 15))
    set_policy(
        tenant_a.organization, late_cancellation_window_hours=30, late_cancellation_charge="full"
    )
    session = fresh(session)
    assert selectors.late_cancellation_charged(session, session.relationship)

    cancel(tenant_a, session)

    assert fresh(session).charged_minutes == 60
    grant.refresh_from_db()
    assert grant.used == 60
    assert_reconciled()


def test_outside_the_window_nothing_is_charged(tenant_a: Tenant, rel) -> None:
    grant = tenant_a.student.grants.get()
    [session] = book(tenant_a, rel, at(12, 15))
    set_policy(
        tenant_a.organization, late_cancellation_window_hours=24, late_cancellation_charge="full"
    )

    cancel(tenant_a, fresh(session))

    grant.refresh_from_db()
    assert (fresh(session).charged_minutes, grant.used) == (0, 0)


def test_only_before_it_starts_and_only_a_live_one(tenant_a: Tenant, rel, clock) -> None:
    [session] = book(tenant_a, rel, at(12, 15))
    clock.move_to(at(12, 15) + timedelta(minutes=1))  # type: ignore[attr-defined]
    refused(
        lambda: cancel(tenant_a, fresh(session)),
        selectors.CANCEL_BOOKING_STARTED,
        error=booking.ConflictError,
    )
    clock.move_to(at(12, 14))  # type: ignore[attr-defined]
    cancel(tenant_a, fresh(session))
    refused(
        lambda: cancel(tenant_a, fresh(session)),
        "Only a requested or booked session can be cancelled; this one is cancelled.",
        error=booking.ConflictError,
    )


def test_only_the_sessions_own_student(tenant_a: Tenant, rel) -> None:
    [session] = book(tenant_a, rel, at(12, 15))
    for user in (tenant_a.provider_user, tenant_a.admin):
        refused(
            lambda u=user: cancel(tenant_a, fresh(session), user=u),
            selectors.CANCEL_BOOKING_ONLY_OWN,
        )
    refused(
        lambda: cancel(tenant_a, fresh(session), reason=" "), "Give a reason for the cancellation."
    )
    assert fresh(session).status == SessionStatus.SCHEDULED


def test_the_page_warns_of_a_late_charge_and_cancels(tenant_a: Tenant, rel) -> None:
    [session] = book(tenant_a, rel, at(12, 15))
    set_policy(
        tenant_a.organization, late_cancellation_window_hours=30, late_cancellation_charge="full"
    )
    client = client_for(tenant_a.student_user)
    path = f"/o/{tenant_a.organization.slug}/sessions/{session.public_id}/cancel-booking/"

    page = client.get(path)
    assert page.context["warning"] == (
        "It starts in less than 30 hours: the center charges a cancellation this late in full, "
        "1 h of your hours."
    )
    detail = client.get(session.get_absolute_url())
    assert b'data-testid="cancel-booking"' in detail.content

    done = client.post(path, {"reason": "Sick"})
    assert (done.status_code, messages_of(done)) == (
        302,
        ["Session cancelled; your provider was told."],
    )
    assert fresh(session).status == SessionStatus.CANCELLED
    assert b'data-testid="cancel-booking"' not in client.get(session.get_absolute_url()).content


def test_another_students_session_is_not_found(tenant_a: Tenant, rel) -> None:
    """Another student of the same center does not see the session at all (DESIGN §2)."""
    [session] = book(tenant_a, rel, at(12, 15))
    other_user = UserFactory(email="other-student@alpha.example")
    MembershipFactory(user=other_user, organization=tenant_a.organization, role="student")
    StudentFactory(organization=tenant_a.organization, user=other_user, email=other_user.email)

    response = client_for(other_user).post(
        f"/o/{tenant_a.organization.slug}/sessions/{session.public_id}/cancel-booking/",
        {"reason": "Not mine"},
    )

    assert response.status_code == 404
    assert fresh(session).status == SessionStatus.SCHEDULED
