"""Calendar invites and feeds of sessions (RFC 5545, written with `icalendar`).

Every session is one event whose UID never changes (`uid`); its SEQUENCE is the session's
`ics_sequence`, raised by each update or cancellation sent, so that calendar apps replace the
event they hold instead of adding another. Times carry the center's time zone (TZID, with its
VTIMEZONE); DTSTAMP is UTC. The services call `send_invite` in the transaction of the change:
the email leaves after commit. docs/scheduling.md, "Calendar".
"""

import enum
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import replace
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
from notifications.services import Audience, Message, Recipient, notify
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
    people: Sequence[Recipient] | None = None,
    attachments: Sequence[NoticeAttachment] | None = None,
) -> None:
    """Email the session's student and provider (or `people`) the invite (or its cancellation)
    after commit: the cancels of an ended pairing's sessions, and a booking's invite to those
    its notice does not reach (`send_confirmation`). An email without an inbox notice (the
    event's notice tells), but sent like every other one: keyed by the event's version
    (`ics_sequence`) so it leaves once, logged, retried, from the email templates, and turned
    off with "Calendar invitations" in the email preferences (docs/notifications.md). A
    booking's invite, a reschedule's update and a cancellation's cancel ride on the notices of
    those events instead (`sessions_app.booking_notices`, `sessions_app.notices`)."""
    relationship = session.relationship
    organization = relationship.organization
    if people is None:
        people = [recipient(relationship.student), recipient(relationship.provider)]
    if not people:
        return
    notify(
        organization=organization,
        kind="calendar_invite",
        about=f"session:{session.public_id}",
        occasion=f"{method.value.lower()}:{session.ics_sequence}",
        audiences=[
            Audience(
                people,
                Message(
                    subject=subject,
                    text=text,
                    link=reverse(
                        "sessions_app:detail", args=[organization.slug, session.public_id]
                    ),
                    action="See the session",
                ),
                attachments=[attachment(session, method)] if attachments is None else attachments,
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


def invites(sessions: Sequence[Session]) -> list[NoticeAttachment]:
    """The booked sessions' invites, attached to one email: `invite.ics`, or one file per
    session of a weekly series (`invite-1.ics`, `invite-2.ics`, ...): each its own event."""
    if len(sessions) == 1:
        return [attachment(sessions[0], Method.REQUEST)]
    return [
        replace(attachment(session, Method.REQUEST), filename=f"invite-{number}.ics")
        for number, session in enumerate(sessions, start=1)
    ]


def send_confirmation(sessions: Sequence[Session], *, people: Sequence[Recipient]) -> None:
    """Sessions were booked or scheduled: `people` get their invites alone, in one email. Those
    the booking's notice reaches get the invites attached to it instead
    (`sessions_app.booking_notices`): one email each, not two. Here: the student or provider who
    booked (not told of their own act, but it is for their calendar), the provider whose
    request was accepted, a session an admin scheduled (no notice: both sides)."""
    first = sessions[0]
    relationship = first.relationship
    repeat = f", then weekly ({len(sessions)} sessions)" if len(sessions) > 1 else ""
    text = (
        f"{relationship.student.name}'s session with {relationship.provider.name} is booked for "
        f"{when(first)} ({first.duration_minutes} min"
        f"{', ' + first.mode if first.mode else ''}){repeat}. The attached invite adds it to "
        "your calendar."
    )
    send_invite(
        first,
        method=Method.REQUEST,
        subject=f"Session booked: {when(first)}",
        text=text,
        people=people,
        attachments=invites(sessions),
    )


def both_sides(session: Session) -> list[Recipient]:
    relationship = session.relationship
    return [recipient(relationship.student), recipient(relationship.provider)]


def actor_side(session: Session, actor_id: int) -> list[Recipient]:
    """The student or the provider of the session who acted, if either did (an admin who books
    for them gets no invite: it is not their calendar)."""
    return [r for r in both_sides(session) if r.user_id is not None and r.user_id == actor_id]


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
