"""What a booking's people are told (docs/scheduling.md, docs/notifications.md): a request to
answer, a booking made, a request accepted or declined, a series cancelled from one occurrence
on. Called inside the booking services' transactions; `notifications.notify` claims each send
once and mails after commit. The kinds are registered by `SessionsAppConfig.ready`."""

from django.urls import reverse
from django.utils import timezone

from notifications.kinds import PROVIDER, STUDENT, Kind
from notifications.services import Audience, Message, notify, person
from relationships.models import Relationship
from sessions_app.models import Session, SessionStatus
from sessions_app.notices import student_side

KINDS = [
    Kind("session_requested", "A session is requested", frozenset({PROVIDER})),
    Kind("session_booked", "A session is booked", frozenset({PROVIDER, STUDENT})),
    Kind("request_answered", "A session request is answered", frozenset({STUDENT})),
    Kind("series_cancelled", "A weekly series is cancelled", frozenset({PROVIDER, STUDENT})),
]


def _when(session: Session, relationship: Relationship) -> str:
    return (
        f"{timezone.localtime(session.starts_at, relationship.organization.tz):%a %b %d at %H:%M}"
    )


def _link(session: Session, relationship: Relationship) -> str:
    return reverse("sessions_app:detail", args=[relationship.organization.slug, session.public_id])


def _facts(session: Session, relationship: Relationship, count: int = 1) -> list[tuple[str, str]]:
    org = relationship.organization
    facts = [
        ("Student", relationship.student.name),
        ("Provider", relationship.provider.name),
        ("When", f"{_when(session, relationship)} ({org.time_zone})"),
        ("How long", f"{session.duration_minutes} min"),
    ]
    if count > 1:
        facts.append(("Repeats", f"weekly, {count} sessions"))
    if session.location:
        facts.append(("Where", session.location))
    if session.topic:
        facts.append(("Topic", session.topic))
    return facts


def booked(booked: list[Session], relationship: Relationship, *, actor_id: int) -> None:
    """A request tells the provider it awaits their answer; a confirmed booking tells the
    provider and the student (not whoever booked it)."""
    first = booked[0]
    student, provider = relationship.student, relationship.provider
    when = _when(first, relationship)
    repeat = f", then weekly ({len(booked)} sessions)" if len(booked) > 1 else ""
    if first.status == SessionStatus.PENDING:
        kind, subject = "session_requested", f"Session requested: {when}"
        text = (
            f"{student.name} asks for a session with you on {when}{repeat}: accept or decline it."
        )
        people = [person(provider)]
        action = "Answer the request"
    else:
        kind, subject = "session_booked", f"Session booked: {when}"
        text = f"A session of {student.name} with {provider.name} is booked on {when}{repeat}."
        people = [*student_side(student), person(provider)]
        action = "See the session"
    notify(
        organization=relationship.organization,
        kind=kind,
        about=f"session:{first.public_id}",
        audiences=[
            Audience(
                people,
                Message(
                    subject=subject,
                    text=text,
                    link=_link(first, relationship),
                    facts=_facts(first, relationship, len(booked)),
                    action=action,
                ),
            )
        ],
        skip_user_id=actor_id,
    )


def answered(
    session: Session, relationship: Relationship, *, actor_id: int, message: str = ""
) -> None:
    """The student learns the provider accepted, or declined with a message."""
    when = _when(session, relationship)
    provider = relationship.provider.name
    if session.status == SessionStatus.SCHEDULED:
        subject, text = f"Session confirmed: {when}", f"{provider} accepted your session on {when}."
    else:
        subject = f"Session declined: {when}"
        text = f"{provider} declined the session on {when}: {message.strip()}"
    notify(
        organization=relationship.organization,
        kind="request_answered",
        about=f"session:{session.public_id}",
        audiences=[
            Audience(
                student_side(relationship.student),
                Message(
                    subject=subject,
                    text=text,
                    link=_link(session, relationship),
                    facts=_facts(session, relationship),
                ),
            )
        ],
        skip_user_id=actor_id,
    )


def series_cancelled(
    cancelled: list[Session], relationship: Relationship, *, actor_id: int, reason: str
) -> None:
    """One notice for the occurrences cancelled together, not one per week."""
    first = cancelled[0]
    when = _when(first, relationship)
    notify(
        organization=relationship.organization,
        kind="series_cancelled",
        about=f"session:{first.public_id}",
        audiences=[
            Audience(
                [*student_side(relationship.student), person(relationship.provider)],
                Message(
                    subject=f"Weekly sessions cancelled from {when}",
                    text=(
                        f"The weekly sessions of {relationship.student.name} with "
                        f"{relationship.provider.name} are cancelled from {when} on "
                        f"({len(cancelled)} sessions)."
                    ),
                    link=_link(first, relationship),
                    facts=[*_facts(first, relationship), ("Why", reason.strip())],
                ),
            )
        ],
        skip_user_id=actor_id,
    )
