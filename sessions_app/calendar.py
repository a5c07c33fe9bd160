"""Calendar invites and feeds of sessions (RFC 5545, written with `icalendar`).

Every session is one event whose UID never changes (`uid`); its SEQUENCE is the session's
`ics_sequence`, raised by each update or cancellation sent, so that calendar apps replace the
event they hold instead of adding another. Times carry the center's time zone (TZID, with its
VTIMEZONE); DTSTAMP is UTC. The services call `send_invite` in the transaction of the change:
the email leaves after commit. docs/scheduling.md, "Calendar".
"""

import enum
import secrets
from collections.abc import Iterable
from datetime import datetime, timedelta
from email.utils import parseaddr

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.urls import reverse
from django.utils import timezone
from icalendar import Calendar, Event, vCalAddress, vText

from matchpal.models import Membership, Organization
from notifications.services import Attachment as NoticeAttachment
from notifications.services import Audience, Message, notify
from notifications.services import person as recipient
from sessions_app.models import CalendarFeed, Session, SessionStatus
from sessions_app.selectors import visible_to


class Method(enum.StrEnum):
    REQUEST = "REQUEST"  # a new invite or an update of one already sent
    CANCEL = "CANCEL"
    PUBLISH = "PUBLISH"  # the feed: events to show, no reply expected


PRODID = "-//Matchpal//Sessions//EN"
# The feed's window: a calendar app shows what is coming and recent weeks, not years.
FEED_PAST = timedelta(days=60)
FEED_AHEAD = timedelta(days=180)
FEED_MAX_EVENTS = 2000


def uid(session: Session) -> str:
    return f"session-{session.public_id}@matchpal"


def _address(email: str, name: str, **params: str) -> vCalAddress:
    address = vCalAddress(f"mailto:{email}")
    address.params["cn"] = vText(name)
    for key, value in params.items():
        address.params[key] = vText(value)
    return address


def _event(session: Session, organization: Organization, *, cancelled: bool) -> Event:
    relationship = session.relationship
    student, provider = relationship.student, relationship.provider
    tz = organization.tz
    start = timezone.localtime(session.starts_at, tz)
    event = Event()
    event.add("uid", uid(session))
    event.add("sequence", session.ics_sequence)
    event.add("dtstamp", timezone.now())
    event.add("dtstart", start)
    event.add("dtend", start + timedelta(minutes=session.duration_minutes))
    event.add("summary", f"{relationship.service_type.name}: {student.name} with {provider.name}")
    if session.mode:
        event.add("location", session.mode)
    event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    sender = parseaddr(settings.DEFAULT_FROM_EMAIL)[1]
    event.add("organizer", _address(sender, organization.name))
    for person in (student, provider):
        if person.email:
            event.add(
                "attendee",
                _address(person.email, person.name, role="REQ-PARTICIPANT", partstat="ACCEPTED"),
            )
    return event


def _calendar(method: Method, organization: Organization, events: Iterable[Event]) -> Calendar:
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("method", method.value)
    calendar.add("x-wr-calname", organization.name)
    for event in events:
        calendar.add_component(event)
    calendar.add_missing_timezones()
    return calendar


def invite(session: Session, *, method: Method) -> bytes:
    """The session's invite (REQUEST) or cancellation (CANCEL), as sent by email. Reads the
    session's relationship with its organization, student, provider and service type."""
    organization = session.relationship.organization
    event = _event(session, organization, cancelled=method == Method.CANCEL)
    return bytes(_calendar(method, organization, [event]).to_ical())


def send_invite(
    session: Session,
    *,
    method: Method,
    subject: str,
    text: str,
) -> None:
    """Email the session's student and provider the invite (or its cancellation) after commit:
    a booking's confirmation and the cancels of an ended pairing's sessions. An email without
    an inbox notice (the event's notice tells), but sent like every other one: keyed by the
    event's version (`ics_sequence`) so it leaves once, logged, retried, from the email
    templates, and turned off with "Calendar invitations" in the email preferences
    (docs/notifications.md). The one who acted gets it too: it is for their calendar. A
    reschedule's update and a cancellation's cancel ride on the notices of those events instead
    (`sessions_app.notices.moved`, `.cancelled`)."""
    relationship = session.relationship
    organization = relationship.organization
    notify(
        organization=organization,
        kind="calendar_invite",
        about=f"session:{session.public_id}",
        occasion=f"{method.value.lower()}:{session.ics_sequence}",
        audiences=[
            Audience(
                [recipient(relationship.student), recipient(relationship.provider)],
                Message(
                    subject=subject,
                    text=text,
                    link=reverse(
                        "sessions_app:detail", args=[organization.slug, session.public_id]
                    ),
                    action="See the session",
                ),
                attachments=[attachment(session, method)],
            )
        ],
        in_app=False,
    )


def attachment(session: Session, method: Method) -> NoticeAttachment:
    """The session's invite (or cancel) as an attachment of a notice's email
    (`sessions_app.notices`)."""
    return NoticeAttachment(
        filename="cancel.ics" if method == Method.CANCEL else "invite.ics",
        content=invite(session, method=method).decode(),
        mimetype=f"text/calendar; method={method.value}; charset=utf-8",
    )


def bump_sequence(session: Session) -> None:
    """The next version of the session's event: call on the locked row, before sending."""
    session.ics_sequence += 1
    Session.objects.filter(pk=session.pk).update(ics_sequence=F("ics_sequence") + 1)


def when(session: Session) -> str:
    local = timezone.localtime(session.starts_at, session.relationship.organization.tz)
    return f"{local:%A %b %d, %H:%M}"


def send_confirmation(session: Session) -> None:
    """A session was booked or scheduled: both sides get the invite."""
    relationship = session.relationship
    text = (
        f"{relationship.student.name}'s session with {relationship.provider.name} is booked for "
        f"{when(session)} ({session.duration_minutes} min"
        f"{', ' + session.mode if session.mode else ''}). The attached invite adds it to your "
        "calendar."
    )
    send_invite(
        session,
        method=Method.REQUEST,
        subject=f"Session booked: {when(session)}",
        text=text,
    )


# --- The private feed -------------------------------------------------------------------------


def _new_token() -> str:
    return secrets.token_urlsafe(32)


def feed_get(*, membership: Membership) -> CalendarFeed | None:
    return CalendarFeed.objects.filter(membership=membership).first()


def feed_regenerate(*, membership: Membership) -> CalendarFeed:
    """Create the member's feed, or give it a new token: the old URL stops working at once."""
    with transaction.atomic():
        feed, created = CalendarFeed.objects.select_for_update().get_or_create(
            membership=membership,
            defaults={"organization_id": membership.organization_id, "token": _new_token()},
        )
        if not created:
            feed.token = _new_token()
            feed.save(update_fields=["token"])
    return feed


def feed_for_token(token: str) -> CalendarFeed | None:
    """The feed of a token, with its membership, user and organization; None for a token that
    was never issued or was regenerated since."""
    if not token or len(token) > 64:
        return None
    return (
        CalendarFeed.objects.select_related("membership__organization", "membership__user")
        .filter(token=token)
        .first()
    )


def feed_sessions(*, membership: Membership, now: datetime) -> list[Session]:
    """What the member's feed shows: their sessions (a provider's own, a student's own, the
    whole center's for an admin) from 60 days back to 180 days ahead, not cancelled."""
    return list(
        Session.objects.filter(
            visible_to(membership),
            organization_id=membership.organization_id,
            starts_at__gte=now - FEED_PAST,
            starts_at__lt=now + FEED_AHEAD,
        )
        .exclude(status=SessionStatus.CANCELLED)
        .select_related(
            "relationship__student", "relationship__provider", "relationship__service_type"
        )
        .order_by("starts_at", "id")[:FEED_MAX_EVENTS]
    )


def feed(*, membership: Membership) -> bytes:
    organization = membership.organization
    sessions = feed_sessions(membership=membership, now=timezone.now())
    events = [_event(s, organization, cancelled=False) for s in sessions]
    return bytes(_calendar(Method.PUBLISH, organization, events).to_ical())
