"""Session lifecycle and each center's rules (DESIGN §4–5). Hours move only through
`grants.services`, inside the same transaction as the session's own change."""

import functools
from collections.abc import Callable
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import Q, Sum
from django.urls import reverse
from django.utils import timezone

from grants import services as ledger
from matchpal.errors import ConflictError, DomainError
from matchpal.models import Charge, InsufficientHours, Membership, Organization, Role, User
from matchpal.notifications import notify_admins, send_email_on_commit
from matchpal.quantities import format_minutes
from relationships.models import Relationship, RelationshipStatus, Unit
from sessions_app.models import NoShowParty, Session, SessionKind, SessionStatus

St = SessionStatus


class SessionRuleError(DomainError):
    """A center's rule refused the session; the message names the rule."""


class NotEnoughHours(DomainError):
    """Not enough hours for the session; the admins are told (see `_tells_admins_of_shortfall`)."""

    def __init__(self, message: str, *, organization: Organization, notice: str, link: str) -> None:
        super().__init__(message)
        self.organization, self.notice, self.link = organization, notice, link


def _tells_admins_of_shortfall[**P, R](fn: Callable[P, R]) -> Callable[P, R]:
    """The refusal rolls the session back; the admins' notice is written afterwards in a
    transaction of its own so that it survives (its email goes out after that commit)."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except NotEnoughHours as error:
            with transaction.atomic():
                notify_admins(organization=error.organization, text=error.notice, link=error.link)
            raise

    return wrapper


def _role(actor: User, organization: Organization) -> str | None:
    membership = Membership.objects.filter(user=actor, organization=organization).first()
    return membership.role if membership else None


def _check_actor(actor: User, relationship: Relationship) -> str:
    role = _role(actor, relationship.organization)
    if role == Role.ADMIN:
        return role
    if role == Role.PROVIDER and relationship.provider.user_id == actor.pk:
        return role
    raise SessionRuleError("Only this relationship's provider or an admin can log its sessions.")


def _week_bounds(moment: datetime, organization: Organization) -> tuple[datetime, datetime]:
    local = timezone.localtime(moment, organization.tz)
    start = (local - timedelta(days=local.weekday())).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    return start, start + timedelta(days=7)


def _day_bounds(moment: datetime, organization: Organization) -> tuple[datetime, datetime]:
    local = timezone.localtime(moment, organization.tz)
    start = local.replace(hour=0, minute=0, second=0, microsecond=0)
    return start, start + timedelta(days=1)


def check_rules(
    *,
    organization: Organization,
    relationship: Relationship,
    starts_at: datetime,
    duration: int,
    notes: str,
    kind: str,
    role: str,
    completing: bool,
    exclude: Session | None = None,
) -> None:
    """Every rule of the organization's policy, each with its own message."""
    org = organization
    now = timezone.now()
    if duration % org.duration_step_minutes:
        raise SessionRuleError(
            f"Durations are counted in steps of {org.duration_step_minutes} minutes; "
            f"{duration} minutes is not one of them."
        )
    if duration < org.min_session_minutes:
        raise SessionRuleError(f"A session lasts at least {org.min_session_minutes} minutes.")
    if duration > org.max_session_minutes:
        raise SessionRuleError(
            f"A session lasts at most {format_minutes(org.max_session_minutes)}."
        )
    if completing:
        if starts_at > now:
            raise SessionRuleError(
                "A session in the future cannot be logged as completed; schedule it instead."
            )
        if relationship.paired_at and starts_at < relationship.paired_at:
            raise SessionRuleError(
                "This session starts before the relationship was paired "
                f"({timezone.localtime(relationship.paired_at, org.tz):%b %d, %Y %H:%M})."
            )
        if len(notes.strip()) < org.notes_min_length:
            raise SessionRuleError(
                f"The notes need at least {org.notes_min_length} characters "
                f"({len(notes.strip())} so far)."
            )
        if role != Role.ADMIN and starts_at < now - timedelta(hours=org.logging_grace_hours):
            raise SessionRuleError(
                f"Sessions can be logged up to {org.logging_grace_hours} hours after they "
                "start; ask an admin to log this one."
            )
    live = Session.objects.filter(relationship__organization=org).exclude(status__in=[St.CANCELLED])
    if exclude is not None:
        live = live.exclude(pk=exclude.pk)
    if live.filter(relationship=relationship, starts_at=starts_at).exists():
        raise SessionRuleError("A session of this relationship at this start time already exists.")
    if org.max_sessions_per_pair_per_day:
        start, end = _day_bounds(starts_at, org)
        count = live.filter(
            relationship__student_id=relationship.student_id,
            relationship__provider_id=relationship.provider_id,
            starts_at__gte=start,
            starts_at__lt=end,
        ).count()
        if count >= org.max_sessions_per_pair_per_day:
            raise SessionRuleError(
                f"At most {org.max_sessions_per_pair_per_day} session(s) per student and "
                "provider per day."
            )
    start, end = _week_bounds(starts_at, org)
    week = live.filter(starts_at__gte=start, starts_at__lt=end)
    if org.weekly_max_minutes_per_student_service:
        booked = (
            week.filter(
                relationship__student_id=relationship.student_id,
                relationship__service_type_id=relationship.service_type_id,
            ).aggregate(m=Sum("duration_minutes"))["m"]
            or 0
        )
        if booked + duration > org.weekly_max_minutes_per_student_service:
            raise SessionRuleError(
                f"This week the student already has {format_minutes(booked)} of "
                f"{relationship.service_type.name.lower()}; the weekly maximum is "
                f"{format_minutes(org.weekly_max_minutes_per_student_service)}."
            )
    if org.weekly_max_minutes_per_provider:
        booked = (
            week.filter(relationship__provider_id=relationship.provider_id).aggregate(
                m=Sum("duration_minutes")
            )["m"]
            or 0
        )
        if booked + duration > org.weekly_max_minutes_per_provider:
            raise SessionRuleError(
                f"This week {relationship.provider.name} already has {format_minutes(booked)}; "
                f"the weekly maximum is {format_minutes(org.weekly_max_minutes_per_provider)}."
            )


def charge_for(
    *, organization: Organization, kind: str, duration: int, review_minutes: int | None = None
) -> int:
    """Minutes a completed session consumes: its duration, or for a revision the policy's
    fixed value unless the actual review time is recorded."""
    if kind == SessionKind.REVISION:
        return review_minutes or organization.revision_minutes
    return duration


def _consume(session: Session, relationship: Relationship, minutes: int, actor: User) -> None:
    org = relationship.organization
    quantity = 1 if relationship.unit == Unit.SESSIONS else minutes
    try:
        ledger.consume(
            actor=actor,
            relationship=relationship,
            session=session,
            quantity=quantity,
            at=session.starts_at,
            draw_shortfall=org.insufficient_hours == InsufficientHours.DRAW,
        )
    except ledger.InsufficientHours as error:
        # The refusal rolls back the session; the notice must survive it, so it goes out in
        # a transaction of its own after this one ends.
        raise NotEnoughHours(
            error.message,
            organization=org,
            notice=(
                f"Not enough hours for a session of {relationship.student.name} with "
                f"{relationship.provider.name}: {error.message}"
            ),
            link=reverse("relationships:detail", args=[org.slug, relationship.public_id]),
        ) from error
    session.charged_minutes += quantity
    session.save(update_fields=["charged_minutes"])


def _lock_relationship(relationship: Relationship) -> Relationship:
    return (
        Relationship.objects.select_for_update(of=("self",))
        .select_related("organization", "student", "provider", "service_type")
        .get(pk=relationship.pk)
    )


@_tells_admins_of_shortfall
def session_log(
    *,
    actor: User,
    relationship: Relationship,
    starts_at: datetime,
    duration: int,
    kind: str = SessionKind.TUTORING,
    mode: str = "",
    notes: str = "",
    internal_note: str = "",
    review_minutes: int | None = None,
    scheduled: bool = False,
) -> Session:
    """Log a past session (completed; consumes its hours) or schedule one ahead."""
    with transaction.atomic():
        relationship = _lock_relationship(relationship)
        role = _check_actor(actor, relationship)
        if relationship.status != RelationshipStatus.PAIRED:
            raise SessionRuleError("Sessions can be logged only on a paired relationship.")
        check_rules(
            organization=relationship.organization,
            relationship=relationship,
            starts_at=starts_at,
            duration=duration,
            notes=notes,
            kind=kind,
            role=role,
            completing=not scheduled,
        )
        now = timezone.now()
        try:
            with transaction.atomic():
                session = Session.objects.create(
                    organization_id=relationship.organization_id,
                    relationship=relationship,
                    starts_at=starts_at,
                    duration_minutes=duration,
                    kind=kind,
                    mode=mode,
                    notes=notes,
                    internal_note=internal_note,
                    status=St.SCHEDULED if scheduled else St.COMPLETED,
                    logged_by=None if scheduled else actor,
                    logged_at=None if scheduled else now,
                )
        except IntegrityError as exc:
            if "session_unique_start_per_relationship" in str(exc):
                raise SessionRuleError(
                    "A session of this relationship at this start time already exists."
                ) from exc
            raise
        if not scheduled:
            _consume(
                session,
                relationship,
                charge_for(
                    organization=relationship.organization,
                    kind=kind,
                    duration=duration,
                    review_minutes=review_minutes,
                ),
                actor,
            )
    return session


def _lock_session(session: Session) -> tuple[Session, Relationship]:
    relationship = _lock_relationship(session.relationship)
    locked = Session.objects.select_for_update(of=("self",)).get(pk=session.pk)
    locked.relationship = relationship
    return locked, relationship


@_tells_admins_of_shortfall
def session_complete(
    *,
    actor: User,
    session: Session,
    duration: int | None = None,
    notes: str | None = None,
    review_minutes: int | None = None,
    mode: str | None = None,
    internal_note: str | None = None,
) -> Session:
    """A scheduled session took place: record its duration and notes, consume its hours."""
    with transaction.atomic():
        session, relationship = _lock_session(session)
        role = _check_actor(actor, relationship)
        if session.status != St.SCHEDULED:
            raise ConflictError(
                f"This session is {session.get_status_display().lower()}, not scheduled."
            )
        if relationship.status != RelationshipStatus.PAIRED:
            raise SessionRuleError("Sessions can be logged only on a paired relationship.")
        session.duration_minutes = duration or session.duration_minutes
        session.notes = session.notes if notes is None else notes
        check_rules(
            organization=relationship.organization,
            relationship=relationship,
            starts_at=session.starts_at,
            duration=session.duration_minutes,
            notes=session.notes,
            kind=session.kind,
            role=role,
            completing=True,
            exclude=session,
        )
        session.status = St.COMPLETED
        session.logged_by, session.logged_at = actor, timezone.now()
        if mode is not None:
            session.mode = mode
        if internal_note is not None:
            session.internal_note = internal_note
        session.save(
            update_fields=[
                "duration_minutes",
                "notes",
                "status",
                "logged_by",
                "logged_at",
                "mode",
                "internal_note",
            ]
        )
        _consume(
            session,
            relationship,
            charge_for(
                organization=relationship.organization,
                kind=session.kind,
                duration=session.duration_minutes,
                review_minutes=review_minutes,
            ),
            actor,
        )
    return session


@_tells_admins_of_shortfall
def session_edit(
    *,
    actor: User,
    session: Session,
    duration: int | None = None,
    notes: str | None = None,
    internal_note: str | None = None,
    mode: str | None = None,
) -> Session:
    """Edit a completed session; a new duration consumes or restores the difference."""
    with transaction.atomic():
        session, relationship = _lock_session(session)
        role = _check_actor(actor, relationship)
        if session.status not in (St.COMPLETED, St.SCHEDULED):
            raise ConflictError(
                f"A {session.get_status_display().lower()} session cannot be edited."
            )
        new_duration = duration or session.duration_minutes
        new_notes = session.notes if notes is None else notes
        check_rules(
            organization=relationship.organization,
            relationship=relationship,
            starts_at=session.starts_at,
            duration=new_duration,
            notes=new_notes,
            kind=session.kind,
            role=role,
            completing=session.status == St.COMPLETED,
            exclude=session,
        )
        if (
            session.status == St.COMPLETED
            and relationship.unit == Unit.MINUTES
            and session.kind != SessionKind.REVISION
        ):
            difference = new_duration - session.duration_minutes
            if difference > 0:
                _consume(session, relationship, difference, actor)
            elif difference < 0:
                ledger.restore(
                    actor=actor,
                    relationship=relationship,
                    session=session,
                    quantity=-difference,
                    to_hold=relationship.holds_hours,
                    reason="Session shortened",
                )
                session.charged_minutes += difference
        session.duration_minutes, session.notes = new_duration, new_notes
        if internal_note is not None:
            session.internal_note = internal_note
        if mode is not None:
            session.mode = mode
        session.save(
            update_fields=["duration_minutes", "notes", "internal_note", "mode", "charged_minutes"]
        )
    return session


def _restore_all(session: Session, relationship: Relationship, actor: User, reason: str) -> None:
    if session.charged_minutes:
        ledger.restore(
            actor=actor,
            relationship=relationship,
            session=session,
            to_hold=relationship.holds_hours,
            reason=reason,
        )
        session.charged_minutes = 0


@_tells_admins_of_shortfall
def session_cancel(*, actor: User, session: Session, reason: str) -> Session:
    """Cancel; consumed hours come back, unless a late cancellation is charged by policy."""
    if not reason.strip():
        raise SessionRuleError("Give a reason for the cancellation.")
    with transaction.atomic():
        session, relationship = _lock_session(session)
        _check_actor(actor, relationship)
        if session.status == St.CANCELLED:
            raise ConflictError("This session is already cancelled.")
        org = relationship.organization
        late = session.starts_at - timezone.now() < timedelta(
            hours=org.late_cancellation_window_hours
        )
        charge = late and org.late_cancellation_charge == Charge.FULL
        if (
            charge
            and session.status == St.SCHEDULED
            and relationship.status == RelationshipStatus.PAIRED
        ):
            _consume(
                session,
                relationship,
                charge_for(organization=org, kind=session.kind, duration=session.duration_minutes),
                actor,
            )
        elif not charge:
            _restore_all(session, relationship, actor, f"Cancelled: {reason}")
        session.status = St.CANCELLED
        session.cancellation_reason = reason.strip()
        session.save(update_fields=["status", "cancellation_reason", "charged_minutes"])
    return session


@_tells_admins_of_shortfall
def session_no_show(*, actor: User, session: Session, party: str, explanation: str = "") -> Session:
    """Someone did not come. Charged per policy when the student was absent; never when the
    provider was."""
    if party not in NoShowParty.values:
        raise SessionRuleError("Say who did not come: the student or the provider.")
    with transaction.atomic():
        session, relationship = _lock_session(session)
        _check_actor(actor, relationship)
        if session.status in (St.CANCELLED, St.NO_SHOW):
            raise ConflictError(f"This session is already {session.get_status_display().lower()}.")
        org = relationship.organization
        charge = party == NoShowParty.STUDENT and org.no_show_charge == Charge.FULL
        if charge and not session.charged_minutes:
            _consume(
                session,
                relationship,
                charge_for(organization=org, kind=session.kind, duration=session.duration_minutes),
                actor,
            )
        elif not charge:
            _restore_all(session, relationship, actor, "No-show")
        session.status = St.NO_SHOW
        session.no_show_party, session.no_show_explanation = party, explanation.strip()
        session.save(
            update_fields=["status", "no_show_party", "no_show_explanation", "charged_minutes"]
        )
    return session


def session_confirm(*, actor: User, session: Session) -> Session:
    with transaction.atomic():
        session = (
            Session.objects.select_for_update()
            .select_related("relationship__student")
            .get(pk=session.pk)
        )
        if session.relationship.student.user_id != actor.pk:
            raise SessionRuleError("Only the student can confirm their session.")
        if session.status != St.COMPLETED:
            raise ConflictError("Only a completed session can be confirmed.")
        session.student_confirmed_at, session.disputed_at = timezone.now(), None
        session.save(update_fields=["student_confirmed_at", "disputed_at"])
    return session


def session_dispute(*, actor: User, session: Session, reason: str) -> Session:
    if not reason.strip():
        raise SessionRuleError("Say what is wrong with this session.")
    with transaction.atomic():
        session = (
            Session.objects.select_for_update()
            .select_related("relationship__student", "relationship__provider", "organization")
            .get(pk=session.pk)
        )
        if session.relationship.student.user_id != actor.pk:
            raise SessionRuleError("Only the student can dispute their session.")
        session.disputed_at, session.dispute_reason = timezone.now(), reason.strip()
        session.student_confirmed_at = None
        session.save(update_fields=["disputed_at", "dispute_reason", "student_confirmed_at"])
        notify_admins(
            organization=session.organization,
            text=f"{session.relationship.student.name} disputes the session of "
            f"{timezone.localtime(session.starts_at, session.organization.tz):%b %d} "
            f"with {session.relationship.provider.name}: {reason.strip()}",
            link=reverse(
                "sessions_app:detail", args=[session.organization.slug, session.public_id]
            ),
        )
    return session


def session_send_report(*, actor: User, session: Session) -> Session:
    """Email the session's notes to the student and the guardian; the sending is recorded."""
    with transaction.atomic():
        session = (
            Session.objects.select_for_update()
            .select_related("relationship__student", "relationship__provider", "organization")
            .get(pk=session.pk)
        )
        _check_actor(actor, session.relationship)
        if session.status != St.COMPLETED:
            raise ConflictError("Only a completed session has a report to send.")
        if not session.notes.strip():
            raise SessionRuleError("Write the session's notes before sending the report.")
        student = session.relationship.student
        when = timezone.localtime(session.starts_at, session.organization.tz)
        send_email_on_commit(
            subject=f"Session report: {when:%b %d} with {session.relationship.provider.name}",
            body=(
                f"{session.relationship.provider.name} — {when:%A %b %d, %H:%M}, "
                f"{format_minutes(session.duration_minutes)}\n\n{session.notes}"
            ),
            to=[student.email, student.guardian_email],
        )
        session.report_sent_at = timezone.now()
        session.save(update_fields=["report_sent_at"])
    return session


def counts_for_earnings(session: Session, organization: Organization) -> bool:
    if session.status != St.COMPLETED:
        return False
    return not organization.require_student_confirmation or bool(session.student_confirmed_at)


def earnings_filter(organization: Organization) -> Q:
    condition = Q(status=St.COMPLETED)
    if organization.require_student_confirmation:
        condition &= Q(student_confirmed_at__isnull=False)
    return condition
