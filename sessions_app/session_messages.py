"""Messages on a booked session (docs/scheduling.md, "Messages"): the student and the provider
exchange short messages on a scheduled session (the question before the meeting), listed on
the session's page; each is emailed to the other side after commit."""

from typing import Final

from django.db import transaction
from django.urls import reverse

from matchpal.models import Membership
from notifications.services import Audience, Message, notify, person
from sessions_app.models import Session, SessionMessage, SessionStatus
from sessions_app.rules import SessionRuleError

MAX_LENGTH: Final = 1000
ONLY_THE_PAIR: Final = "Only the student and the provider write messages on a session."
NOT_BOOKED: Final = "Messages are for sessions still to take place; this one is {status}."
EMPTY: Final = "Write a message."
TOO_LONG: Final = f"Keep a message to {MAX_LENGTH} characters ({{length}} written)."


def message_post(*, membership: Membership, session: Session, body: str) -> SessionMessage:
    """Post a message on the session as its student or its provider; the other is emailed.
    `session` comes with its relationship's student and provider (`selectors.session_get`)."""
    text = body.strip()
    if not text:
        raise SessionRuleError(EMPTY, field="body")
    if len(text) > MAX_LENGTH:
        raise SessionRuleError(TOO_LONG.format(length=len(text)), field="body")
    relationship = session.relationship
    student, provider = relationship.student, relationship.provider
    own = membership.organization_id == session.organization_id
    if own and membership.is_student and student.user_id == membership.user_id:
        sender, recipient = student.name, person(provider)
    elif own and membership.is_provider and provider.user_id == membership.user_id:
        sender, recipient = provider.name, person(student)
    else:
        raise SessionRuleError(ONLY_THE_PAIR)
    with transaction.atomic():
        locked = Session.objects.select_for_update(of=("self",)).get(pk=session.pk)
        if locked.status != SessionStatus.SCHEDULED:
            raise SessionRuleError(NOT_BOOKED.format(status=locked.get_status_display().lower()))
        message = SessionMessage.objects.create(
            organization_id=session.organization_id,
            session=locked,
            author=membership.user,
            body=text,
        )
        org = membership.organization
        when = session.starts_at.astimezone(org.tz)
        notify(
            organization=org,
            kind="session_message",
            about=f"session:{session.public_id}",
            occasion=f"message:{message.pk}",
            audiences=[
                Audience(
                    [recipient],
                    Message(
                        subject=f"Message from {sender} about the session of {when:%b %d, %H:%M}",
                        text=f"{sender} wrote about the session of {when:%A %b %d, %H:%M}: {text}",
                        link=reverse("sessions_app:detail", args=[org.slug, session.public_id]),
                        action="Answer on the session's page",
                    ),
                )
            ],
        )
    return message


def messages_of(session: Session) -> list[SessionMessage]:
    """The session's messages, oldest first, with their authors: one query."""
    return list(SessionMessage.objects.filter(session=session).select_related("author"))
