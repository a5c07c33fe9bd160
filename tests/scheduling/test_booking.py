"""Booking a free slot: who may, when, what it becomes, and what it may never promise
(docs/scheduling.md, "Booking")."""

from datetime import timedelta

import pytest
from django.core import mail

from matchpal.models import Notification
from notifications.models import EmailDelivery
from relationships.models import Relationship
from sessions_app import booking, slots
from sessions_app.models import Session, SessionChange, SessionStatus
from tests.scheduling.support import book, hours
from tests.support import Tenant, at, fresh, member, paired, refused, set_policy

pytestmark = pytest.mark.django_db


def slot_times(tenant: Tenant, relationship: Relationship, *, admin: bool = False) -> list[str]:
    org = tenant.organization
    org.refresh_from_db()
    relationship.refresh_from_db()
    found = slots.free_slots(
        organization=org,
        relationships=[relationship],
        first_day=slots.week_start(org),
        admin=admin,
    )
    return [f"{s.start.astimezone(org.tz):%a %H:%M}" for s in found]


def test_the_week_shows_the_free_slots_of_the_providers_hours(tenant_a: Tenant, rel) -> None:
    assert slot_times(tenant_a, rel) == [
        "Thu 15:00",
        "Thu 15:30",
        "Thu 16:00",
        "Thu 16:30",
        "Thu 17:00",
    ]


def test_a_booked_session_takes_its_slots_out(tenant_a: Tenant, rel) -> None:
    book(tenant_a, rel, at(12, 15))
    assert slot_times(tenant_a, rel) == ["Thu 16:00", "Thu 16:30", "Thu 17:00"]


def test_the_notice_period_hides_slots_too_soon_but_not_from_admins(tenant_a: Tenant, rel) -> None:
    set_policy(tenant_a.organization, booking_notice_hours=30)  # until Thursday 18:00
    assert slot_times(tenant_a, rel) == []
    assert slot_times(tenant_a, rel, admin=True)[0] == "Thu 15:00"
    refused(
        lambda: book(tenant_a, rel, at(12, 15)),
        booking.TOO_SOON.format(hours=30),
    )


def test_with_auto_accept_the_booking_is_confirmed_at_once(
    tenant_a: Tenant, rel, django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        [session] = book(tenant_a, rel, at(12, 15), topic="Quadratics")
    session = fresh(session)
    assert (session.status, session.duration_minutes, session.topic) == (
        SessionStatus.SCHEDULED,
        60,
        "Quadratics",
    )
    assert (
        session.calendar_provider_id,
        session.requested_by_id,
        session.location,
        session.series,
    ) == (
        tenant_a.provider.pk,
        tenant_a.student_user.pk,
        "Room 2",
        None,
    )
    # The provider is told; the student who booked is not. Both get the calendar invite
    # (docs/scheduling.md, "Calendar"), an email of the log like every other one.
    invite = "[Matchpal] Session booked: Thursday Jun 12, 15:00"
    notice = "[Matchpal] Session booked: Thu Jun 12 at 15:00"
    assert sorted((m.subject, m.to[0]) for m in mail.outbox) == sorted(
        [
            (notice, tenant_a.provider.email),
            (notice, tenant_a.student.guardian_email),  # a guardian is told by email
            (invite, tenant_a.provider.email),
            (invite, tenant_a.student.email),
        ]
    )
    invites = [m for m in mail.outbox if m.subject == invite]
    for message in invites:
        assert [a[0] for a in message.attachments] == ["invite.ics"]
        assert "BEGIN:VEVENT" in message.attachments[0][1]
        assert f"/o/{tenant_a.organization.slug}/sessions/{session.public_id}/" in message.body
        assert "Choose which emails you get:" in message.body
    assert sorted(
        EmailDelivery.objects.filter(kind="calendar_invite").values_list("to", "status")
    ) == [(tenant_a.provider.email, "sent"), (tenant_a.student.email, "sent")]
    assert not Notification.objects.filter(kind="calendar_invite").exists()


def test_without_auto_accept_it_is_a_request_the_provider_accepts(
    tenant_a: Tenant, rel, django_capture_on_commit_callbacks
) -> None:
    set_policy(tenant_a.organization, booking_auto_accept=False)
    rel.refresh_from_db()
    [session] = book(tenant_a, rel, at(12, 15))
    assert fresh(session).status == SessionStatus.PENDING
    with django_capture_on_commit_callbacks(execute=True):
        booking.session_accept(
            membership=member(tenant_a.provider_user, tenant_a.organization), session=session
        )
    assert fresh(session).status == SessionStatus.SCHEDULED
    confirmed = [m.to[0] for m in mail.outbox if "Session confirmed" in m.subject]
    assert sorted(confirmed) == sorted([tenant_a.student.email, tenant_a.student.guardian_email])
    assert sorted(m.subject for m in mail.outbox if m.to == [tenant_a.student.email]) == [
        "[Matchpal] Session booked: Thursday Jun 12, 15:00",  # the calendar invite
        "[Matchpal] Session confirmed: Thu Jun 12 at 15:00",
    ]
    assert SessionChange.objects.get(session=session).kind == "accepted"
    refused(
        lambda: booking.session_accept(
            membership=member(tenant_a.provider_user, tenant_a.organization), session=session
        ),
        booking.NOT_PENDING,
        error=booking.ConflictError,
    )


def test_a_declined_request_is_cancelled_with_the_providers_message(tenant_a: Tenant, rel) -> None:
    set_policy(tenant_a.organization, booking_auto_accept=False)
    rel.refresh_from_db()
    [session] = book(tenant_a, rel, at(12, 15))
    provider = member(tenant_a.provider_user, tenant_a.organization)
    refused(
        lambda: booking.session_decline(membership=provider, session=session, message=" "),
        booking.DECLINE_NEEDS_MESSAGE,
    )
    booking.session_decline(membership=provider, session=session, message="Try Friday?")
    session = fresh(session)
    assert (session.status, session.cancellation_reason) == (
        SessionStatus.CANCELLED,
        "Declined: Try Friday?",
    )
    assert list(
        Notification.objects.filter(
            user=tenant_a.student_user, text__contains="declined"
        ).values_list("text", flat=True)
    ) == [f"{tenant_a.provider.name} declined the session on Thu Jun 12 at 15:00: Try Friday?"]
    # The slot is free again.
    assert slot_times(tenant_a, rel)[0] == "Thu 15:00"


def test_students_cannot_book_where_the_center_takes_no_requests(tenant_a: Tenant, rel) -> None:
    set_policy(tenant_a.organization, booking_students_may_request=False)
    rel.refresh_from_db()
    refused(lambda: book(tenant_a, rel, at(12, 15)), booking.STUDENTS_MAY_NOT_BOOK)
    [session] = book(tenant_a, rel, at(12, 15), by="admin")
    assert session.status == SessionStatus.SCHEDULED


def test_a_time_outside_the_providers_hours_is_refused(tenant_a: Tenant, rel) -> None:
    refused(
        lambda: book(tenant_a, rel, at(12, 18)),
        booking.NOT_FREE.format(provider=tenant_a.provider.name, when="Thu Jun 12 at 18:00"),
    )
    book(tenant_a, rel, at(12, 15))
    refused(
        lambda: book(tenant_a, rel, at(12, 15, 30)),
        booking.NOT_FREE.format(provider=tenant_a.provider.name, when="Thu Jun 12 at 15:30"),
    )


def test_a_booking_never_promises_more_than_the_reservation(tenant_a: Tenant, clock) -> None:
    from tests.support import past_grant

    past_grant(tenant_a.student, 600)
    relationship = paired(tenant_a, quantity=150)
    hours(tenant_a, 3, "09:00", "18:00")
    set_policy(tenant_a.organization, booking_slot_minutes=90)
    relationship.refresh_from_db()
    book(tenant_a, relationship, at(12, 9))
    # 2 h 30 min held, 1 h 30 min booked: 1 h remains.
    refused(
        lambda: book(tenant_a, relationship, at(12, 14)),
        "This needs 1 h 30 min; 1 h remains reserved.",
    )
    assert Session.objects.filter(relationship=relationship).count() == 1


def test_a_center_cap_refuses_the_booking(tenant_a: Tenant, rel) -> None:
    from sessions_app.rules import SessionRuleError

    set_policy(tenant_a.organization, weekly_max_minutes_per_provider=60)
    rel.refresh_from_db()
    book(tenant_a, rel, at(12, 15))
    with pytest.raises(SessionRuleError):
        book(tenant_a, rel, at(12, 17))


def test_another_students_booking_is_taken_out_of_the_slots(tenant_a: Tenant, rel) -> None:
    from tests.factories import StudentFactory
    from tests.support import past_grant

    other = StudentFactory(organization=tenant_a.organization)
    past_grant(other, 600)
    other_rel = paired(tenant_a, student=other, quantity=300)
    book(tenant_a, other_rel, at(12, 16), by="admin")
    assert slot_times(tenant_a, rel) == ["Thu 15:00", "Thu 17:00"]


def test_the_reservation_left_counts_live_bookings(tenant_a: Tenant, rel) -> None:
    book(tenant_a, rel, at(12, 15))
    assert booking.reserved_left(rel) == 600 - 60
    assert timedelta(minutes=booking.reserved_left(rel)) == timedelta(hours=9)
