"""Calendar invites (docs/scheduling.md, "Calendar"): scheduling a session emails both sides an
ICS invite; a reschedule sends an update and a cancellation a cancel, with the same UID and a
higher SEQUENCE each time. The ICS is parsed back with icalendar."""

from datetime import UTC, timedelta

import pytest
from django.core.mail import EmailMessage
from icalendar import Calendar

from sessions_app import calendar, services
from sessions_app.models import Session
from tests.support import NY, Tenant, at, fresh, log, member

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("clock")]


def _invite(mail: EmailMessage) -> Calendar:
    (attachment,) = mail.attachments
    filename, content, mimetype = attachment
    assert filename.endswith(".ics")
    cal = Calendar.from_ical(content)
    assert mimetype == f"text/calendar; method={cal['METHOD']}; charset=utf-8"
    return cal


def _event(cal: Calendar):  # type: ignore[no-untyped-def]
    (event,) = cal.walk("VEVENT")
    return event


def _schedule(tenant: Tenant, rel, capture) -> Session:  # type: ignore[no-untyped-def]
    with capture(execute=True):
        return log(tenant, rel, starts_at=at(13, 10), duration=90, scheduled=True, mode="Room 4")


def test_scheduling_emails_both_sides_an_invite(
    tenant_a: Tenant, rel, django_capture_on_commit_callbacks, mailoutbox
) -> None:
    session = _schedule(tenant_a, rel, django_capture_on_commit_callbacks)

    # One email to each side, logged like every other one (kind `calendar_invite`).
    assert sorted(m.to[0] for m in mailoutbox) == sorted(
        [tenant_a.student.email, tenant_a.provider.email]
    )
    assert {m.subject for m in mailoutbox} == {"[Matchpal] Session booked: Friday Jun 13, 10:00"}
    assert {m.extra_headers["X-Matchpal-Kind"] for m in mailoutbox} == {"calendar_invite"}
    assert _invite(mailoutbox[0]).to_ical() == _invite(mailoutbox[1]).to_ical()
    mail = mailoutbox[0]
    cal = _invite(mail)
    event = _event(cal)
    assert str(cal["METHOD"]) == "REQUEST"
    assert str(event["UID"]) == f"session-{session.public_id}@matchpal"
    assert event["SEQUENCE"] == 0
    assert str(event["STATUS"]) == "CONFIRMED"
    assert str(event["LOCATION"]) == "Room 4"
    start, end = event.decoded("DTSTART"), event.decoded("DTEND")
    # The center's wall-clock time with its time zone (TZID), the instant exactly the session's.
    assert event["DTSTART"].params["TZID"] == "America/New_York"
    assert start == at(13, 10)
    assert start.utcoffset() == timedelta(hours=-4)
    assert end - start == timedelta(minutes=90)
    assert event["DTSTAMP"].to_ical() == b"20250611T160000Z"  # UTC
    assert [str(tz["TZID"]) for tz in cal.walk("VTIMEZONE")] == ["America/New_York"]
    assert sorted(str(a) for a in event["ATTENDEE"]) == sorted(
        [f"mailto:{tenant_a.student.email}", f"mailto:{tenant_a.provider.email}"]
    )


def _invites(outbox: list[EmailMessage]) -> dict[tuple[str, int], list[str]]:
    """Each version of the event sent, (METHOD, SEQUENCE), with who received it."""
    sent: dict[tuple[str, int], list[str]] = {}
    for mail in outbox:
        if mail.attachments:
            cal = _invite(mail)
            key = (str(cal["METHOD"]), _event(cal)["SEQUENCE"])
            sent.setdefault(key, []).extend(mail.to)
    return {key: sorted(to) for key, to in sent.items()}


def test_a_reschedule_updates_and_a_cancellation_cancels_the_same_event(
    tenant_a: Tenant, rel, django_capture_on_commit_callbacks, mailoutbox
) -> None:
    """The update rides on the "moved" notice and the cancel on the "cancelled" one: the same
    UID, the next SEQUENCE each time, to everyone those notices reach."""
    session = _schedule(tenant_a, rel, django_capture_on_commit_callbacks)
    admin = member(tenant_a.admin)
    with django_capture_on_commit_callbacks(execute=True):
        services.session_reschedule(membership=admin, session=session, starts_at=at(14, 11))
    with django_capture_on_commit_callbacks(execute=True):
        services.session_cancel(membership=admin, session=fresh(session), reason="Exam week")

    both = sorted([tenant_a.student.email, tenant_a.provider.email])
    # The notices also go to the guardian, with the same attachment.
    told = sorted([*both, tenant_a.student.guardian_email])
    assert _invites(mailoutbox) == {("REQUEST", 0): both, ("REQUEST", 1): told, ("CANCEL", 2): told}
    events = [_event(_invite(m)) for m in mailoutbox if m.attachments]
    assert {str(e["UID"]) for e in events} == {f"session-{session.public_id}@matchpal"}
    moved = next(e for e in events if e["SEQUENCE"] == 1)
    assert moved.decoded("DTSTART") == at(14, 11)
    cancelled = next(e for e in events if e["SEQUENCE"] == 2)
    assert str(cancelled["STATUS"]) == "CANCELLED"
    assert fresh(session).ics_sequence == 2


def test_a_completed_session_sends_no_cancel_when_cancelled(
    tenant_a: Tenant, rel, django_capture_on_commit_callbacks, mailoutbox
) -> None:
    session = log(tenant_a, rel, starts_at=at(10, 15))
    with django_capture_on_commit_callbacks(execute=True):
        services.session_cancel(
            membership=member(tenant_a.admin), session=session, reason="Logged twice"
        )

    assert _invites(mailoutbox) == {}
    assert fresh(session).ics_sequence == 0


def test_the_invite_keeps_the_wall_clock_across_a_daylight_saving_change(
    tenant_a: Tenant, rel
) -> None:
    """New York falls back on November 2, 2025: a session at 10:00 the day after is 15:00 UTC,
    where the same time in June is 14:00."""
    session = log(tenant_a, rel, starts_at=at(13, 10), scheduled=True)
    session = services.session_reschedule(
        membership=member(tenant_a.admin), session=session, starts_at=at(3, 10, month=11)
    )

    event = _event(Calendar.from_ical(calendar.invite(session, method=calendar.Method.REQUEST)))

    start = event.decoded("DTSTART")
    assert (start.hour, start.astimezone(UTC).hour) == (10, 15)
    assert start.tzinfo is not None
    assert str(event["DTSTART"].params["TZID"]) == str(NY)
