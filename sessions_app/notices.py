"""What a session's people and the center's admins are told (docs/notifications.md): logged,
moved, cancelled, its report, disputes, hours that ran short or were given back, and the
reminders before it. Called inside the services' transactions; `notifications.notify` claims
each send once and mails after commit."""

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from grants import selectors as ledger_selectors
from matchpal.broker import enqueue
from matchpal.models import Organization, StudentRecap
from matchpal.quantities import format_minutes, format_quantity
from notifications.models import EmailDelivery
from notifications.services import (
    Attachment,
    Audience,
    Message,
    Recipient,
    admins,
    guardian,
    is_muted,
    notify,
    person,
)
from relationships.models import Relationship, Unit
from relationships.selectors import allocated
from sessions_app.models import Session, SessionStatus
from students.models import Student


def _about(session: Session) -> str:
    return f"session:{session.public_id}"


def _link(session: Session, org: Organization) -> str:
    return reverse("sessions_app:detail", args=[org.slug, session.public_id])


def _when(at: datetime, org: Organization) -> str:
    return f"{timezone.localtime(at, org.tz):%A %b %d, %Y %H:%M}"


def _facts(
    session: Session, relationship: Relationship, *, hours_left: bool = False
) -> list[tuple[str, str]]:
    org = relationship.organization
    facts = [
        ("Student", relationship.student.name),
        ("Provider", relationship.provider.name),
        ("When", f"{_when(session.starts_at, org)} ({org.time_zone})"),
        ("How long", format_minutes(session.duration_minutes)),
    ]
    if session.mode:
        facts.append(("Where", session.mode))
    if hours_left:
        held = allocated(relationship)["held"]
        facts.append(("Reserved hours left", format_quantity(held, relationship.unit)))
    return facts


def student_side(student: Student) -> list[Recipient]:
    people = [person(student)]
    if student.guardian_email:
        people.append(guardian(student, student.guardian_email))
    return people


def _both(relationship: Relationship) -> list[Recipient]:
    return [*student_side(relationship.student), person(relationship.provider)]


# --- Events -----------------------------------------------------------------------------------


def logged(session: Session, relationship: Relationship, *, actor_id: int) -> None:
    """The student learns a session was logged; where the center requires it, they are asked to
    confirm it (or dispute it). Told by a Celery task queued once the log commits
    (`sessions_app.tasks.tell_logged`): the provider's request keeps its query budget and waits
    for neither the notice's writes nor its rendering, and the relationship's lock is not held
    meanwhile. The notice's key (kind, session) still makes it once, even if the task runs
    twice; a rolled-back log queues nothing."""
    if is_muted():  # the demo's seeding: the task would run unmuted, in a worker
        return
    session_id = session.pk
    transaction.on_commit(lambda: _queue_logged(session_id, actor_id), robust=True)


def _queue_logged(session_id: int, actor_id: int) -> None:
    from sessions_app.tasks import tell_logged

    enqueue(tell_logged, session_id, actor_id)  # the broker down: the student is not told


def tell_logged(*, session_id: int, actor_id: int) -> None:
    """The task's step: tell the student of a logged session, if it is still completed (a log
    cancelled before the task ran tells nobody)."""
    with transaction.atomic():
        session = (
            Session.objects.select_related(
                "relationship__student",
                "relationship__provider",
                "relationship__service_type",
                "relationship__organization",
            )
            .filter(pk=session_id, status=SessionStatus.COMPLETED)
            .first()
        )
        if session is not None:
            _tell_logged_now(session, session.relationship, actor_id=actor_id)


def _recap_request(org: Organization) -> str:
    """What the confirmation asks for besides the click (docs/scheduling.md, "Student recap")."""
    if org.student_recap == StudentRecap.REQUIRED:
        least = max(org.student_recap_min_length, 1)
        characters = "character" if least == 1 else "characters"
        return f" with a recap of what you covered (at least {least} {characters})"
    if org.student_recap == StudentRecap.OPTIONAL:
        return " (you may add a recap of what you covered)"
    return ""


def _tell_logged_now(session: Session, relationship: Relationship, *, actor_id: int) -> None:
    org = relationship.organization
    when = timezone.localtime(session.starts_at, org.tz)
    text = (
        f"{relationship.provider.name} logged the session of {when:%b %d} with "
        f"{relationship.student.name} ({format_minutes(session.duration_minutes)})."
    )
    action = "See the session"
    if org.require_student_confirmation:
        text += f" Please confirm it{_recap_request(org)}, or dispute it if something is wrong."
        action = "Confirm the session"
    notify(
        organization=org,
        kind="session_logged",
        about=_about(session),
        audiences=[
            Audience(
                student_side(relationship.student),
                Message(
                    subject=f"Session logged: {when:%b %d} with {relationship.provider.name}",
                    text=text,
                    link=_link(session, org),
                    facts=_facts(session, relationship, hours_left=True),
                    action=action,
                ),
            )
        ],
        skip_user_id=actor_id,
    )
    after_consuming(relationship)


def moved(
    session: Session,
    relationship: Relationship,
    *,
    before: datetime,
    actor_id: int,
    reason: str,
    attachments: Sequence[Attachment] = (),
) -> None:
    """The student and the provider, not whoever made the change; a scheduled session's email
    carries its calendar update (`sessions_app.calendar`)."""
    org = relationship.organization
    old = timezone.localtime(before, org.tz)
    new = timezone.localtime(session.starts_at, org.tz)
    student, provider = relationship.student, relationship.provider
    if session.status == SessionStatus.SCHEDULED:
        subject = f"Session moved to {new:%b %d, %H:%M}"
        text = (
            f"The session of {student.name} with {provider.name} on {old:%b %d, %H:%M} moved to "
            f"{new:%A %b %d, %H:%M}."
        )
    else:
        subject = f"Session date corrected to {new:%b %d}"
        text = (
            f"The date of the session of {student.name} with {provider.name} was corrected from "
            f"{old:%b %d, %H:%M} to {new:%b %d, %H:%M}."
        )
    facts = _facts(session, relationship)
    if reason.strip():
        facts.append(("Why", reason.strip()))
    notify(
        organization=org,
        kind="session_rescheduled",
        about=_about(session),
        occasion=f"{before:%Y%m%dT%H%M}>{session.starts_at:%Y%m%dT%H%M}:{uuid.uuid4().hex[:12]}",
        audiences=[
            Audience(
                _both(relationship),
                Message(subject=subject, text=text, link=_link(session, org), facts=facts),
                attachments=attachments,
            )
        ],
        skip_user_id=actor_id,
    )


def cancelled(
    session: Session,
    relationship: Relationship,
    *,
    actor_id: int,
    reason: str,
    attachments: Sequence[Attachment] = (),
) -> None:
    """The student and the provider, not whoever cancelled; a booked session's email carries the
    calendar cancel (`sessions_app.calendar`)."""
    org = relationship.organization
    when = timezone.localtime(session.starts_at, org.tz)
    facts = _facts(session, relationship)
    facts.append(("Why", reason.strip()))
    notify(
        organization=org,
        kind="session_cancelled",
        about=_about(session),
        audiences=[
            Audience(
                _both(relationship),
                Message(
                    subject=f"Session cancelled: {when:%b %d} with {relationship.provider.name}",
                    text=(
                        f"The session of {relationship.student.name} with "
                        f"{relationship.provider.name} on {when:%A %b %d, %H:%M} was cancelled."
                    ),
                    link=_link(session, org),
                    facts=facts,
                ),
                attachments=attachments,
            )
        ],
        skip_user_id=actor_id,
    )


def report(session: Session, relationship: Relationship, *, recipients: list[str]) -> None:
    """The session's notes, to the student and the guardian (the addresses the service chose)."""
    org = relationship.organization
    when = timezone.localtime(session.starts_at, org.tz)
    student = relationship.student
    people = [
        Recipient(
            email=address,
            user_id=student.user_id if address == student.email else None,
            name=student.name if address == student.email else f"{student.name}'s guardian",
        )
        for address in recipients
    ]
    facts = [*_facts(session, relationship), ("Notes", session.notes)]
    notify(
        organization=org,
        kind="session_report",
        about=_about(session),
        occasion=f"report:{uuid.uuid4().hex}",
        audiences=[
            Audience(
                people,
                Message(
                    subject=f"Session report: {when:%b %d} with {relationship.provider.name}",
                    text=(
                        f"{relationship.provider.name}'s report of the session of "
                        f"{when:%A %b %d, %H:%M}."
                    ),
                    link=_link(session, org),
                    facts=facts,
                ),
            )
        ],
    )


def dispute_opened(session: Session, relationship: Relationship, *, reason: str) -> None:
    org = relationship.organization
    when = timezone.localtime(session.starts_at, org.tz)
    text = (
        f"{relationship.student.name} disputes the session of {when:%b %d} with "
        f"{relationship.provider.name}: {reason.strip()}"
    )
    notify(
        organization=org,
        kind="dispute_opened",
        about=_about(session),
        occasion=f"disputed@{session.disputed_at.isoformat()}" if session.disputed_at else "",
        audiences=[
            Audience(
                admins(org),
                Message(
                    subject=f"Disputed session: {relationship.student.name}, {when:%b %d}",
                    text=text,
                    link=_link(session, org),
                    facts=_facts(session, relationship),
                    action="Resolve the dispute",
                ),
            )
        ],
    )


def dispute_resolved(session: Session, relationship: Relationship, *, outcome: str) -> None:
    org = relationship.organization
    when = timezone.localtime(session.starts_at, org.tz)
    text = (
        f"Your dispute of the session of {when:%b %d} with {relationship.provider.name} was "
        f"resolved. {outcome} {session.dispute_resolution_note}"
    )
    notify(
        organization=org,
        kind="dispute_resolved",
        about=_about(session),
        audiences=[
            Audience(
                [person(relationship.student)],
                Message(
                    subject=f"Your dispute of the session of {when:%b %d} was resolved",
                    text=text,
                    link=_link(session, org),
                    facts=_facts(session, relationship),
                ),
            )
        ],
    )


def hours_short(relationship: Relationship, *, text: str, link: str) -> None:
    """A session lacked hours (refused, or charged less): the admins."""
    org = relationship.organization
    notify(
        organization=org,
        kind="hours_short",
        about=f"relationship:{relationship.public_id}",
        # Told each time it happens: nothing makes two shortfalls the same event.
        occasion=uuid.uuid4().hex,
        audiences=[Audience(admins(org), Message(subject=text[:120], text=text, link=link))],
    )


def hours_given_back(
    session: Session, relationship: Relationship, *, change_id: int, text: str
) -> None:
    org = relationship.organization
    notify(
        organization=org,
        kind="hours_given_back",
        about=_about(session),
        occasion=f"change:{change_id}",
        audiences=[
            Audience(
                admins(org),
                Message(subject=text[:120], text=text, link=_link(session, org)),
            )
        ],
    )


def after_consuming(relationship: Relationship) -> None:
    """Hours just went: the student (and the admins) when the student's hours are low, the
    provider (and the admins) when the pairing's reserved hours are running out; at most once a
    day each. "Low" is the students list's and the admin home's one definition
    (`grants.selectors.with_balances`); reserved hours run out below the same threshold."""
    org = relationship.organization
    today = f"{timezone.localdate(timezone=org.tz):%Y-%m-%d}"
    student = relationship.student
    if ledger_selectors.student_is_low(student=student, organization=org):
        text = (
            f"{student.name}'s hours are running low (below "
            f"{format_minutes(org.low_balance_threshold_minutes)} free to book or reserved)."
        )
        link = reverse("grants:student_hours", args=[org.slug, student.public_id])
        notify(
            organization=org,
            kind="hours_low",
            about=f"student:{student.public_id}",
            occasion=today,
            audiences=[
                Audience(
                    student_side(student),
                    Message(
                        subject="Your hours are running low",
                        text=f"{text} Ask {org.name} about adding hours.",
                        link=reverse("grants:my_hours", args=[org.slug]),
                        action="See your hours",
                    ),
                ),
                Audience(admins(org), Message(subject=text, text=text, link=link)),
            ],
        )
    held = allocated(relationship)["held"]
    running_out = (
        held < org.low_balance_threshold_minutes if relationship.unit == Unit.MINUTES else held <= 1
    )
    if running_out:
        left = format_quantity(held, relationship.unit)
        text = (
            f"Only {left} remain reserved for {relationship.student.name} with "
            f"{relationship.provider.name} ({relationship.service_type.name})."
        )
        notify(
            organization=org,
            kind="reservation_running_out",
            about=f"relationship:{relationship.public_id}",
            occasion=today,
            audiences=[
                Audience(
                    [person(relationship.provider), *admins(org)],
                    Message(
                        subject=f"Reserved hours running out: {relationship.student.name}",
                        text=text,
                        link=reverse(
                            "relationships:detail", args=[org.slug, relationship.public_id]
                        ),
                        facts=[("Reserved hours left", left)],
                    ),
                )
            ],
        )


# --- Reminders ----------------------------------------------------------------------------------

REMINDER_CANCELLED = "The session was cancelled since the reminder was planned."
REMINDER_MOVED = "The session was moved since the reminder was planned."
REMINDER_LOGGED = "The session was already logged."
REMINDER_PAST = "The session has started."


def reminder_occasion(hours: int, starts_at: datetime) -> str:
    """The reminder's key carries the start it was planned for: a session moved gets a new
    reminder, and the old one, checked at send time, is not sent."""
    return f"{hours}h@{starts_at.astimezone(UTC):%Y-%m-%dT%H:%MZ}"


def remind(session: Session, *, hours: int) -> bool:
    relationship = session.relationship
    org = relationship.organization
    when = timezone.localtime(session.starts_at, org.tz)
    today = timezone.localdate(timezone=org.tz)
    day = (
        "today"
        if when.date() == today
        else "tomorrow"
        if (when.date() - today).days == 1
        else f"on {when:%A %b %d}"
    )
    facts = _facts(session, relationship)

    def told(other: str) -> Message:
        return Message(
            subject=f"Reminder: session {day} at {when:%H:%M} with {other}",
            text=f"A reminder: your session with {other} is {day} at {when:%H:%M}.",
            link=_link(session, org),
            facts=facts,
            action="See the session",
        )

    return notify(
        organization=org,
        kind="session_reminder",
        about=_about(session),
        occasion=reminder_occasion(hours, session.starts_at),
        audiences=[
            Audience(student_side(relationship.student), told(relationship.provider.name)),
            Audience([person(relationship.provider)], told(relationship.student.name)),
        ],
    )


def unlogged(session: Session, *, occasion: str) -> bool:
    relationship = session.relationship
    org = relationship.organization
    when = timezone.localtime(session.starts_at, org.tz)
    closes = timezone.localtime(
        session.starts_at + timedelta(hours=org.logging_grace_hours), org.tz
    )
    text = (
        f"The session of {when:%b %d, %H:%M} with {relationship.student.name} is not logged yet. "
        f"Log it by {closes:%A %b %d, %H:%M}; after that only an admin can."
    )
    return notify(
        organization=org,
        kind="session_unlogged",
        about=_about(session),
        occasion=occasion,
        audiences=[
            Audience(
                [person(relationship.provider)],
                Message(
                    subject=(
                        f"Last day to log the session of {when:%b %d} with "
                        f"{relationship.student.name}"
                        if occasion == "deadline"
                        else f"Log the session of {when:%b %d} with {relationship.student.name}"
                    ),
                    text=text,
                    link=reverse("sessions_app:complete", args=[org.slug, session.public_id]),
                    facts=_facts(session, relationship),
                    action="Log the session",
                ),
            )
        ],
    )


def unlogged_stale(delivery: EmailDelivery) -> str:
    """Asked by the sending task: is the session still to log? ("" when it is.)"""
    public_id = delivery.dispatch.object_key.removeprefix("session:")
    session = (
        Session.objects.filter(organization_id=delivery.organization_id, public_id=public_id)
        .only("status")
        .first()
    )
    if session is None or session.status == SessionStatus.CANCELLED:
        return REMINDER_CANCELLED
    if session.status != SessionStatus.SCHEDULED:
        return REMINDER_LOGGED
    return ""


def reminder_stale(delivery: EmailDelivery) -> str:
    """Asked by the sending task: is this reminder still due? ("" when it is.)"""
    public_id = delivery.dispatch.object_key.removeprefix("session:")
    session = (
        Session.objects.filter(organization_id=delivery.organization_id, public_id=public_id)
        .only("status", "starts_at")
        .first()
    )
    if session is None or session.status == SessionStatus.CANCELLED:
        return REMINDER_CANCELLED
    if session.status != SessionStatus.SCHEDULED:
        return REMINDER_LOGGED
    planned = delivery.dispatch.occasion.partition("@")[2]
    if f"{session.starts_at.astimezone(UTC):%Y-%m-%dT%H:%MZ}" != planned:
        return REMINDER_MOVED
    if session.starts_at <= timezone.now():
        return REMINDER_PAST
    return ""


# --- The student's outstanding confirmation ------------------------------------------------

CONFIRMATION_DONE = "The session was confirmed or disputed since the reminder was planned."
CONFIRMATION_NOT_COMPLETED = "The session is no longer a completed session."


def confirmation_pending(session: Session) -> bool:
    """The student is reminded, once, of a logged session still to confirm (where the center
    requires confirmation)."""
    relationship = session.relationship
    org = relationship.organization
    when = timezone.localtime(session.starts_at, org.tz)
    provider = relationship.provider.name
    return notify(
        organization=org,
        kind="confirmation_pending",
        about=_about(session),
        audiences=[
            Audience(
                student_side(relationship.student),
                Message(
                    subject=f"Please confirm the session of {when:%b %d} with {provider}",
                    text=(
                        f"The session of {when:%b %d} with {provider} is still to confirm: "
                        f"{org.name} counts it once you do. Confirm it, or dispute it if "
                        "something is wrong."
                    ),
                    link=_link(session, org),
                    facts=_facts(session, relationship),
                    action="Confirm the session",
                ),
            )
        ],
    )


def confirmation_stale(delivery: EmailDelivery) -> str:
    """Asked by the sending task: is the session still to confirm? ("" when it is.)"""
    public_id = delivery.dispatch.object_key.removeprefix("session:")
    session = (
        Session.objects.filter(organization_id=delivery.organization_id, public_id=public_id)
        .only("status", "student_confirmed_at", "disputed_at")
        .first()
    )
    if session is None or session.status != SessionStatus.COMPLETED:
        return CONFIRMATION_NOT_COMPLETED
    if session.student_confirmed_at is not None or session.disputed_at is not None:
        return CONFIRMATION_DONE
    return ""
