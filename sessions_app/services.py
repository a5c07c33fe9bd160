"""Session lifecycle (DESIGN §4–5); each center's rules are checked by `sessions_app.rules`.
Hours move only through `grants.services`, inside the same transaction as the session's own
change."""

import contextlib
import copy
import enum
import functools
import uuid
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timedelta
from typing import Final

from django.db import IntegrityError, transaction
from django.db.models import F, Field, ForeignKey, Model
from django.urls import reverse
from django.utils import timezone

from grants import selectors as ledger_selectors
from grants import services as ledger
from matchpal import prebuilt
from matchpal.bounds import check_date
from matchpal.constraints import violated_constraint
from matchpal.errors import ConflictError
from matchpal.models import (
    Charge,
    Membership,
    Organization,
    Role,
    ShortfallPolicy,
    StudentRecap,
    User,
)
from matchpal.quantities import format_minutes, format_quantity
from providers.selectors import lock_provider
from relationships import services as relationships
from relationships.models import Relationship, RelationshipStatus, Unit
from relationships.selectors import acts_for, visible_to
from sessions_app import calendar, noshows, notices
from sessions_app.models import (
    DisputeResolution,
    NoShowParty,
    Session,
    SessionChange,
    SessionChangeKind,
    SessionKind,
    SessionStatus,
)
from sessions_app.rules import (
    DUPLICATE_START,
    SessionRuleError,
    charge_for,
    check_rules,
)
from sessions_app.selectors import (
    DISPUTE_NOT_COMPLETED,
    change_refusal,
    dispute_refusal,
    late_cancellation_charged,
)
from students.selectors import lock_student

NO_SHOW_NOT_STARTED: Final = (
    "This session has not started yet, so nobody can have missed it; cancel it instead."
)
PROVIDER_BUSY: Final = (
    "The provider already has a session booked at that time; choose a time that does not "
    "overlap it."
)
INTERNAL_NOTE_NOT_YOURS: Final = (
    "The internal note was written by someone else; only they or an admin can change it."
)


class _Keep(enum.Enum):
    KEEP = "keep"


# "Leave it as it is", where None means "clear it" (the review time falls back to the policy).
KEEP: Final = _Keep.KEEP


def tells_admins_of_shortfall[**P, R](fn: Callable[P, R]) -> Callable[P, R]:
    """When the ledger refuses a session for lack of hours (`grants.services
    .InsufficientHours`, raised to the caller as it is), the admins are told. The refusal rolls
    the session back; the notice is written afterwards in a transaction of its own so that it
    survives (its email goes out after that commit). The decorated service names the
    relationship (or its public id, beside the membership), or the session, among its keyword
    arguments."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except ledger.InsufficientHours as error:
            named = kwargs.get("relationship") or kwargs.get("session")
            if isinstance(named, Session):
                named = named.relationship
            elif isinstance(named, uuid.UUID):  # by public id (`session_log`): one of the member's
                membership = kwargs["membership"]
                assert isinstance(membership, Membership)
                named = Relationship.objects.select_related(*_LOCKED_WITH).get(
                    organization_id=membership.organization_id, public_id=named
                )
            relationship = named
            assert isinstance(relationship, Relationship)
            with transaction.atomic():
                _tell_admins_of_shortfall(relationship, error)
            raise

    return wrapper


def _tell_admins_of_shortfall(relationship: Relationship, error: ledger.InsufficientHours) -> None:
    org = relationship.organization
    notices.hours_short(
        relationship,
        text=(
            f"Not enough hours for a session of {relationship.student.name} with "
            f"{relationship.provider.name}: {error.message}"
        ),
        link=reverse("relationships:detail", args=[org.slug, relationship.public_id]),
    )


LOG_ONLY_OWN: Final = "Only this relationship's provider or an admin can log its sessions."


def _check_actor(membership: Membership, relationship: Relationship) -> User:
    """The provider of the relationship, or an admin, logs and reports its sessions. The
    membership is the one the view already resolved: nothing is queried again. Returns the
    acting user, whom the history and the ledger name."""
    if not acts_for(membership, relationship):
        raise SessionRuleError(LOG_ONLY_OWN)
    return membership.user


def _check_change(membership: Membership, session: Session, relationship: Relationship) -> User:
    """The same, within the window of changing the session (`selectors.change_refusal`)."""
    refusal = change_refusal(session=session, relationship=relationship, membership=membership)
    if refusal:
        raise SessionRuleError(refusal)
    return membership.user


def _check_student(membership: Membership, session: Session, refusal: str) -> User:
    """Only the session's student, as a member of its organization, confirms or disputes it."""
    own = session.relationship.student.user_id == membership.user_id
    if membership.organization_id != session.organization_id or not own:
        raise SessionRuleError(refusal)
    return membership.user


def _charge_of(session: Session, organization: Organization) -> int:
    return charge_for(
        organization=organization,
        kind=session.kind,
        duration=session.duration_minutes,
        review_minutes=session.review_minutes,
    )


def _quantity(relationship: Relationship, minutes: int) -> int:
    return 1 if relationship.unit == Unit.SESSIONS else minutes


def _draws(organization: Organization) -> bool:
    return organization.insufficient_hours == ShortfallPolicy.DRAW


def _consume(
    session: Session,
    relationship: Relationship,
    minutes: int,
    actor: User,
    *,
    save: bool = True,
    first: prebuilt.Statement | None = None,
) -> None:
    """Consume the session's hours; refused with the ledger's `InsufficientHours` when they
    do not cover it (the service's `tells_admins_of_shortfall` tells the admins). `save=False`:
    the caller stores `charged_minutes` itself (a new session is inserted already charged)."""
    quantity = _quantity(relationship, minutes)
    ledger.consume(
        actor=actor,
        relationship=relationship,
        session=session,
        quantity=quantity,
        at=session.starts_at,
        draw_shortfall=_draws(relationship.organization),
        first=first,
    )
    if save:
        session.charged_minutes += quantity
        session.save(update_fields=["charged_minutes"])


def _snapshot_rates(session: Session, relationship: Relationship) -> None:
    """The session keeps the relationship's rates of the moment it is charged: a later rate
    change does not reprice it."""
    session.provider_pay_rate = relationship.provider_pay_rate
    session.client_rate = relationship.client_rate
    session.save(update_fields=["provider_pay_rate", "client_rate"])


def _charge(session: Session, relationship: Relationship, actor: User, what: str) -> None:
    """Charge a late cancellation or a student's no-show what the session would have consumed,
    as far as the hours cover it.

    Never refused for lack of hours: the cancellation or the absence happened, and refusing to
    record it would leave a session that did not take place on the books. The relationship's
    hold pays first and, when the policy draws, the student's available balance; what neither
    covers is not charged: it is kept on the session (`charge_shortfall`) and the admins are
    told, in this transaction, since nothing is rolled back.
    """
    org = relationship.organization
    _snapshot_rates(session, relationship)
    wanted = _quantity(relationship, _charge_of(session, org))
    quantity = wanted
    while quantity > 0:
        try:
            ledger.consume(
                actor=actor,
                relationship=relationship,
                session=session,
                quantity=quantity,
                at=session.starts_at,
                draw_shortfall=_draws(org),
            )
        except ledger.InsufficientHours as error:
            # Ask again for what the hours cover; the grants are locked again by the retry,
            # so it can only come out lower if a concurrent writer took some meanwhile.
            quantity -= error.shortfall
        else:
            break
    charged = max(quantity, 0)
    session.charged_minutes += charged
    session.charge_shortfall = wanted - charged
    if session.charge_shortfall:
        unit = relationship.unit
        notices.hours_short(
            relationship,
            text=(
                f"The {what} of {relationship.student.name}'s session of "
                f"{timezone.localtime(session.starts_at, org.tz):%b %d} with "
                f"{relationship.provider.name} was charged {format_quantity(charged, unit)} "
                f"instead of {format_quantity(wanted, unit)}: the hours did not cover the rest."
            ),
            link=reverse("sessions_app:detail", args=[org.slug, session.public_id]),
        )


def _lock_relationship(relationship: Relationship) -> Relationship:
    # NO KEY UPDATE, as relationships.services._lock explains: foreign-key checks on this row
    # (ledger entries written by a grant expiry) must not wait for it.
    if prebuilt.available():
        return _lock_relationship_prebuilt(relationship.pk)
    return (
        Relationship.objects.select_for_update(of=("self",), no_key=True)
        .select_related(*_LOCKED_WITH)
        .get(pk=relationship.pk)
    )


# What the relationship's lock brings along: the rules read the policy (organization), the
# notices and the ledger name the people and the service.
_LOCKED_WITH: Final = ("organization", "student", "provider", "service_type")


# Whose relationships a member other than an admin sees: the joined row naming their login
# (`visible_to`).
_OWN_BY: Final[dict[str, str]] = {Role.PROVIDER: "provider", Role.STUDENT: "student"}


def _lock_relationship_of(membership: Membership, public_id: uuid.UUID) -> Relationship:
    """`_lock_relationship` of the relationship with this public id that the member sees:
    in the member's organization, and a provider's or a student's own (`visible_to`)."""
    if prebuilt.available():
        owner = _OWN_BY.get(membership.role)
        sql, rows = _relationship_lock(by_public_id=True, owner=owner)
        values: list[object] = [membership.organization_id, public_id]
        if owner is not None:
            values.append(membership.user_id)
        return _locked_from(prebuilt.send_together([(sql, values)])[0], rows)
    return (
        Relationship.objects.select_for_update(of=("self",), no_key=True)
        .select_related(*_LOCKED_WITH)
        .filter(visible_to(membership))
        .get(organization_id=membership.organization_id, public_id=public_id)
    )


@functools.cache
def _relationship_lock(
    *, by_public_id: bool = False, owner: str | None = None
) -> tuple[str, prebuilt.Rows]:
    """`_lock_relationship`'s statement, written once: the ORM query, column for column
    (tests/matchpal/test_prebuilt.py runs both). `by_public_id`: `_lock_relationship_of`'s, by
    organization and public id, and the login of the joined `owner` (a provider or a student)
    when given."""
    meta = Relationship._meta
    parts = [prebuilt.Part(Relationship, meta.db_table)]
    joins = []
    for name in _LOCKED_WITH:
        field = meta.get_field(name)
        assert isinstance(field, ForeignKey)
        related = field.related_model
        assert isinstance(related, type)
        alias = f"{name}_"
        parts.append(prebuilt.Part(related, alias))
        joins.append(
            f"INNER JOIN {prebuilt.table(related)} {prebuilt.quote(alias)} ON "
            f"({prebuilt.quote(alias)}.{prebuilt.quote(str(field.target_field.column))} = "
            f"{prebuilt.table(Relationship)}.{prebuilt.quote(str(field.column))})"
        )
    rows = prebuilt.Rows(parts)
    table = prebuilt.table(Relationship)

    def column(model: type[Model], name: str) -> str:
        field = model._meta.get_field(name)
        assert isinstance(field, Field)
        return prebuilt.quote(str(field.column))

    if not by_public_id:
        where = f"{table}.{prebuilt.quote(str(meta.pk.column))} = %s"
    else:
        where = (
            f"{table}.{column(Relationship, 'organization')} = %s "
            f"AND {table}.{column(Relationship, 'public_id')} = %s"
        )
    if owner is not None:
        owner_field = meta.get_field(owner)
        assert isinstance(owner_field, ForeignKey)
        assert isinstance(owner_field.related_model, type)
        user = column(owner_field.related_model, "user")
        where += f" AND {prebuilt.quote(f'{owner}_')}.{user} = %s"
    sql = (
        f"SELECT {rows.select_list()} FROM {table} {' '.join(joins)} "  # noqa: S608 (the models' names only)
        f"WHERE {where} FOR NO KEY UPDATE OF {table}"
    )
    return sql, rows


def _lock_relationship_prebuilt(pk: int) -> Relationship:
    sql, rows = _relationship_lock()
    # Prepared once per connection.
    return _locked_from(prebuilt.send_together([(sql, [pk])])[0], rows)


def _locked_from(found: list[tuple[object, ...]], rows: prebuilt.Rows) -> Relationship:
    if not found:
        raise Relationship.DoesNotExist("Relationship matching query does not exist.")
    locked, *related = rows.instances(found[0])
    assert isinstance(locked, Relationship)
    for name, value in zip(_LOCKED_WITH, related, strict=True):
        setattr(locked, name, value)
    return locked


def _lock_session(session: Session) -> tuple[Session, Relationship]:
    """The relationship, then the session: the order of every session write."""
    relationship = _lock_relationship(session.relationship)
    locked = Session.objects.select_for_update(of=("self",)).get(pk=session.pk)
    locked.relationship = relationship
    return locked, relationship


def _lock_people(relationship: Relationship) -> None:
    """Serialise the writers whose rules count other relationships' sessions.

    The per-pair daily limit and the weekly maximums sum sessions of every relationship of the
    student or of the provider, which the relationship's own lock does not cover: two writers
    would each count before the other's insert and both pass. Locking the student, then the
    provider, makes the second one wait and count again. Taken after the relationship (and
    session) lock and before the ledger's grant locks, the one order of every session write.
    NO KEY UPDATE: only these writers need to queue, not inserts that merely reference the rows
    (a proposal, a grant from the shop).
    """
    org = relationship.organization
    if org.max_sessions_per_pair_per_day or org.weekly_max_minutes_per_student_service:
        lock_student(pk=relationship.student_id)
    if org.weekly_max_minutes_per_provider:
        lock_provider(pk=relationship.provider_id)


def _write_internal_note(session: Session, text: str | None, *, actor: User, role: str) -> None:
    """Only an admin or the note's author may change it; whoever writes it becomes its author
    (a provider who did not write it cannot see it, so must not overwrite it blind)."""
    if text is None or text == session.internal_note:
        return
    if session.internal_note and role != Role.ADMIN and session.internal_note_author_id != actor.pk:
        raise SessionRuleError(INTERNAL_NOTE_NOT_YOURS)
    session.internal_note = text
    session.internal_note_author = actor if text else None


def _changed(
    session: Session,
    *,
    starts_at: datetime | None = None,
    duration: int | None = None,
    notes: str | None = None,
    review_minutes: int | _Keep | None = KEEP,
) -> set[str]:
    """The fields a change gives a new value: the rules that apply to it (`check_rules`)."""
    new = {
        "starts_at": session.starts_at if starts_at is None else starts_at,
        "duration": session.duration_minutes if duration is None else duration,
        "notes": session.notes if notes is None else notes,
        "review_minutes": (
            session.review_minutes if isinstance(review_minutes, _Keep) else review_minutes
        ),
    }
    old = {
        "starts_at": session.starts_at,
        "duration": session.duration_minutes,
        "notes": session.notes,
        "review_minutes": session.review_minutes,
    }
    return {field for field, value in new.items() if value != old[field]}


# What a change records, in the order the history shows it.
_TRACKED: Final = (
    ("starts_at", "Start"),
    ("duration_minutes", "Duration"),
    ("review_minutes", "Review time"),
    ("mode", "Where"),
    ("notes", "Notes"),
    ("internal_note", "Internal note"),
    ("status", "Status"),
    ("no_show_party", "No-show"),
    ("charged_minutes", "Hours used"),
)


def _as_text(session: Session, field: str, relationship: Relationship) -> str:
    """A value as a person read it: the history keeps text, so a later rule or time zone change
    cannot rewrite what it says."""
    value = getattr(session, field)
    if field == "starts_at":
        return f"{timezone.localtime(value, relationship.organization.tz):%b %d, %Y %H:%M}"
    if field == "duration_minutes":
        return format_minutes(value)
    if field == "review_minutes":
        return format_minutes(value) if value else ""
    if field == "charged_minutes":
        return format_quantity(value, relationship.unit)
    if field == "status":
        return SessionStatus(value).label
    if field == "no_show_party":
        return NoShowParty(value).label if value else ""
    return str(value)


def _record(
    session: Session,
    relationship: Relationship,
    *,
    before: Session,
    kind: str,
    actor: User | None,
    reason: str = "",
    extra: Sequence[dict[str, str]] = (),
) -> SessionChange | None:
    """Write what the change did (each field from → to), in the change's own transaction.

    A change that gives hours back after the grace window of logging (only an admin can make
    one) is flagged and the admins are told: hours coming back late is what they watch for.
    Nothing is written for an edit that changed nothing.
    """
    changes = [
        {"field": field, "label": label, "from": old, "to": new}
        for field, label in _TRACKED
        if (old := _as_text(before, field, relationship))
        != (new := _as_text(session, field, relationship))
    ]
    changes += extra
    if not changes:
        return None
    org = relationship.organization
    given_back = before.charged_minutes - session.charged_minutes
    late = timezone.now() > before.starts_at + timedelta(hours=org.logging_grace_hours)
    change = SessionChange.objects.create(
        organization_id=org.pk,
        session=session,
        kind=kind,
        actor=actor,
        reason=reason.strip()[:500],
        changes=changes,
        gave_back_after_window=given_back > 0 and late,
    )
    if change.gave_back_after_window:
        when = timezone.localtime(before.starts_at, org.tz)
        notices.hours_given_back(
            session,
            relationship,
            change_id=change.pk,
            text=(
                f"Hours given back after the {org.logging_grace_hours}-hour window: {actor} "
                f"{_DID[kind]} {relationship.student.name}'s session of {when:%b %d} with "
                f"{relationship.provider.name} ({format_quantity(given_back, relationship.unit)} "
                "given back)."
            ),
        )
    return change


_DID: Final[dict[str, str]] = {
    SessionChangeKind.EDITED: "edited",
    SessionChangeKind.CANCELLED: "cancelled",
    SessionChangeKind.NO_SHOW: "marked a no-show on",
    SessionChangeKind.DISPUTE_RESOLVED: "resolved the dispute over",
    SessionChangeKind.RESCHEDULED: "moved",
    SessionChangeKind.COMPLETED: "logged",
    SessionChangeKind.MISSED: "marked missed",
}


@tells_admins_of_shortfall
def session_log(
    *,
    membership: Membership,
    relationship: Relationship | uuid.UUID,
    starts_at: datetime,
    duration: int,
    kind: str = SessionKind.TUTORING,
    mode: str = "",
    notes: str = "",
    internal_note: str = "",
    review_minutes: int | None = None,
    scheduled: bool = False,
) -> Session:
    """Log a past session (completed; consumes its hours) or schedule one ahead.

    `relationship` may be given by its public id, as the log form's POST has it: it is then
    found among the member's own (`relationships.selectors.visible_to`, in the organization) by
    the statement that locks it, so the view does not read it first; `Relationship.DoesNotExist`
    when it is not one of them (the view's 404)."""
    with transaction.atomic():
        if isinstance(relationship, Relationship):
            relationship = _lock_relationship(relationship)
        else:
            relationship = _lock_relationship_of(membership, relationship)
        actor, role = _check_actor(membership, relationship), membership.role
        if relationship.status != RelationshipStatus.PAIRED:
            raise SessionRuleError("Sessions can be logged only on a paired relationship.")
        _lock_people(relationship)
        org = relationship.organization
        check_rules(
            organization=org,
            relationship=relationship,
            starts_at=starts_at,
            duration=duration,
            notes=notes,
            kind=kind,
            role=role,
            completing=not scheduled,
            review_minutes=review_minutes,
            duplicate_by_constraint=True,
        )
        session = Session(
            organization=org,
            relationship=relationship,
            calendar_provider_id=relationship.provider_id,
            starts_at=starts_at,
            duration_minutes=duration,
            kind=kind,
            mode=mode,
            notes=notes,
            internal_note=internal_note,
            internal_note_author=actor if internal_note else None,
            review_minutes=review_minutes,
            provider_pay_rate=relationship.provider_pay_rate,
            client_rate=relationship.client_rate,
            status=SessionStatus.SCHEDULED if scheduled else SessionStatus.COMPLETED,
            logged_by=None if scheduled else actor,
            logged_at=None if scheduled else timezone.now(),
        )
        # Charged as it is inserted: if the ledger refuses, the whole log rolls back.
        minutes = _charge_of(session, org)
        if not scheduled:
            session.charged_minutes = _quantity(relationship, minutes)
        if scheduled:
            _insert(session)
            calendar.send_confirmation([session], people=calendar.both_sides(session))
        elif prebuilt.available():
            # The insert goes first in the ledger's locking round trip (`ledger.consume`'s
            # `first`): one round trip fewer, the same statements in the same order.
            insert = prebuilt.insert(session)
            with _duplicate_start_refused():
                _consume(session, relationship, minutes, actor, save=False, first=insert)
        else:
            _insert(session)
            _consume(session, relationship, minutes, actor, save=False)
        if not scheduled:
            notices.logged(session, relationship, actor_id=actor.pk)
    return session


def _insert(session: Session) -> None:
    """Insert a new session; a second one of the relationship at the same start meets the
    partial unique constraint, which is the duplicate rule's check (`check_rules`'
    `duplicate_by_constraint`). No savepoint around it: the refusal ends the whole transaction
    (the caller's `atomic` rolls back on the way out), nothing runs after it."""
    with _duplicate_start_refused():
        session.save(force_insert=True)


@contextlib.contextmanager
def _duplicate_start_refused() -> Iterator[None]:
    """The start's constraints as messages: the same meeting twice, or a provider's second
    live session at an overlapping time (`session_provider_no_overlap`, docs/scheduling.md)."""
    try:
        yield
    except IntegrityError as exc:
        name = violated_constraint(exc)
        if name == "session_unique_start_per_relationship":
            raise SessionRuleError(DUPLICATE_START) from exc
        if name == "session_provider_no_overlap":
            raise SessionRuleError(PROVIDER_BUSY) from exc
        raise


@tells_admins_of_shortfall
def session_complete(
    *,
    membership: Membership,
    session: Session,
    duration: int | None = None,
    notes: str | None = None,
    review_minutes: int | _Keep | None = KEEP,
    mode: str | None = None,
    internal_note: str | None = None,
) -> Session:
    """A scheduled session took place: record its duration and notes, consume its hours. A
    missed one (`sessions_app.missed`) only an admin logs."""
    with transaction.atomic():
        return complete_locked(
            membership=membership,
            session=session,
            duration=duration,
            notes=notes,
            review_minutes=review_minutes,
            mode=mode,
            internal_note=internal_note,
        )


MISSED_ADMINS_ONLY: Final = "This session was missed: only an admin can log it now."


def complete_locked(
    *,
    membership: Membership,
    session: Session,
    duration: int | None = None,
    notes: str | None = None,
    review_minutes: int | _Keep | None = KEEP,
    mode: str | None = None,
    internal_note: str | None = None,
) -> Session:
    """`session_complete`'s work, inside the caller's transaction (the check-in completes the
    session and writes its answers in one)."""
    session, relationship = _lock_session(session)
    actor, role = _check_actor(membership, relationship), membership.role
    before = copy.copy(session)
    if session.status == SessionStatus.MISSED and role != Role.ADMIN:
        raise SessionRuleError(MISSED_ADMINS_ONLY)
    if session.status not in (SessionStatus.SCHEDULED, SessionStatus.MISSED):
        raise ConflictError(
            f"This session is {session.get_status_display().lower()}, not scheduled."
        )
    if relationship.status != RelationshipStatus.PAIRED:
        raise SessionRuleError("Sessions can be logged only on a paired relationship.")
    _lock_people(relationship)
    new_duration = duration or session.duration_minutes
    new_notes = session.notes if notes is None else notes
    new_review = session.review_minutes if isinstance(review_minutes, _Keep) else review_minutes
    # Logging it: the notes, the time and the window are checked now; a duration or review
    # time left as scheduled was checked then.
    check_rules(
        organization=relationship.organization,
        relationship=relationship,
        starts_at=session.starts_at,
        duration=new_duration,
        notes=new_notes,
        kind=session.kind,
        role=role,
        completing=True,
        exclude=session,
        review_minutes=new_review,
        changed=_changed(session, duration=new_duration, review_minutes=new_review)
        | {"status", "notes"},
    )
    session.duration_minutes, session.notes = new_duration, new_notes
    session.review_minutes = new_review
    _write_internal_note(session, internal_note, actor=actor, role=role)
    session.status = SessionStatus.COMPLETED
    session.logged_by, session.logged_at = actor, timezone.now()
    if mode is not None:
        session.mode = mode
    session.provider_pay_rate = relationship.provider_pay_rate
    session.client_rate = relationship.client_rate
    session.save(
        update_fields=[
            "provider_pay_rate",
            "client_rate",
            "duration_minutes",
            "notes",
            "review_minutes",
            "status",
            "logged_by",
            "logged_at",
            "mode",
            "internal_note",
            "internal_note_author",
        ]
    )
    _consume(session, relationship, _charge_of(session, relationship.organization), actor)
    _record(session, relationship, before=before, kind=SessionChangeKind.COMPLETED, actor=actor)
    notices.logged(session, relationship, actor_id=actor.pk)
    return session


@tells_admins_of_shortfall
def session_edit(
    *,
    membership: Membership,
    session: Session,
    duration: int | None = None,
    notes: str | None = None,
    internal_note: str | None = None,
    mode: str | None = None,
    review_minutes: int | _Keep | None = KEEP,
    reason: str = "",
) -> Session:
    """Edit a session. On a completed one a new duration (or a revision's new review time)
    consumes or restores the difference. Recorded in the session's history."""
    with transaction.atomic():
        session, relationship = _lock_session(session)
        actor, role = _check_change(membership, session, relationship), membership.role
        before = copy.copy(session)
        _edit(
            session,
            relationship,
            actor=actor,
            role=role,
            duration=duration,
            notes=notes,
            internal_note=internal_note,
            mode=mode,
            review_minutes=review_minutes,
        )
        _record(
            session,
            relationship,
            before=before,
            kind=SessionChangeKind.EDITED,
            actor=actor,
            reason=reason,
        )
    return session


def _edit(
    session: Session,
    relationship: Relationship,
    *,
    actor: User,
    role: str,
    duration: int | None,
    notes: str | None,
    internal_note: str | None,
    mode: str | None,
    review_minutes: int | _Keep | None,
) -> None:
    """The edit itself, on locked rows (`session_edit`, `session_resolve_dispute`)."""
    if session.status not in (SessionStatus.COMPLETED, SessionStatus.SCHEDULED):
        raise ConflictError(f"A {session.get_status_display().lower()} session cannot be edited.")
    org = relationship.organization
    _lock_people(relationship)
    new_duration = duration or session.duration_minutes
    new_notes = session.notes if notes is None else notes
    new_review = session.review_minutes if isinstance(review_minutes, _Keep) else review_minutes
    check_rules(
        organization=org,
        relationship=relationship,
        starts_at=session.starts_at,
        duration=new_duration,
        notes=new_notes,
        kind=session.kind,
        role=role,
        completing=session.status == SessionStatus.COMPLETED,
        exclude=session,
        review_minutes=new_review,
        changed=_changed(
            session, duration=new_duration, notes=new_notes, review_minutes=new_review
        ),
    )
    _write_internal_note(session, internal_note, actor=actor, role=role)
    difference = 0
    if session.status == SessionStatus.COMPLETED and relationship.unit == Unit.MINUTES:
        if session.kind != SessionKind.REVISION:
            difference = new_duration - session.duration_minutes
        elif new_review != session.review_minutes:
            # Only a new review time reprices a revision; its duration does not count.
            target = charge_for(
                organization=org,
                kind=session.kind,
                duration=new_duration,
                review_minutes=new_review,
            )
            difference = target - session.charged_minutes
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
    session.review_minutes = new_review
    if mode is not None:
        session.mode = mode
    with _duplicate_start_refused():  # a longer scheduled session may reach the next one
        session.save(
            update_fields=[
                "duration_minutes",
                "notes",
                "review_minutes",
                "internal_note",
                "internal_note_author",
                "mode",
                "charged_minutes",
            ]
        )


REDATE_ADMINS_ONLY: Final = "Only an admin can correct the date of a session already logged."
LOG_NOT_PAIRED: Final = "Sessions can be logged only on a paired relationship."
RESCHEDULE_NOT_PAIRED: Final = "Sessions can be rescheduled only on a paired relationship."
REDATE_GRANT_NOT_VALID: Final = (
    "This session used hours from a grant that was not valid on {date}; cancel it and log it "
    "again on the right date."
)


def session_reschedule(
    *, membership: Membership, session: Session, starts_at: datetime, reason: str = ""
) -> Session:
    """Move a scheduled session to another start (every rule checked again for the new time),
    or correct the date of a completed one (admins only). The ledger keeps its entries as they
    are; a correction the session's grants did not cover on the new date is refused. The
    student and the provider are told."""
    check_date(starts_at, field="date", error=SessionRuleError)
    with transaction.atomic():
        session, relationship = _lock_session(session)
        actor, role = _check_change(membership, session, relationship), membership.role
        completed = session.status == SessionStatus.COMPLETED
        if completed and role != Role.ADMIN:
            raise SessionRuleError(REDATE_ADMINS_ONLY)
        if not completed and session.status != SessionStatus.SCHEDULED:
            raise ConflictError(
                f"A {session.get_status_display().lower()} session cannot be rescheduled."
            )
        if not completed and relationship.status != RelationshipStatus.PAIRED:
            raise SessionRuleError(RESCHEDULE_NOT_PAIRED)
        if starts_at == session.starts_at:
            return session
        _lock_people(relationship)
        org = relationship.organization
        check_rules(
            organization=org,
            relationship=relationship,
            starts_at=starts_at,
            duration=session.duration_minutes,
            notes=session.notes,
            kind=session.kind,
            role=role,
            completing=completed,
            exclude=session,
            review_minutes=session.review_minutes,
            changed={"starts_at"},
        )
        if completed and ledger_selectors.session_grants_not_valid_on(
            session=session, at=starts_at
        ):
            raise SessionRuleError(
                REDATE_GRANT_NOT_VALID.format(
                    date=f"{timezone.localtime(starts_at, org.tz):%b %d, %Y}"
                )
            )
        before = copy.copy(session)
        session.starts_at = starts_at
        if not completed:
            # The invite's next version: calendar apps move the event they hold.
            session.ics_sequence += 1
        with _duplicate_start_refused():
            session.save(update_fields=["starts_at", "ics_sequence"])
        _record(
            session,
            relationship,
            before=before,
            kind=SessionChangeKind.RESCHEDULED,
            actor=actor,
            reason=reason,
        )
        notices.moved(
            session,
            relationship,
            before=before.starts_at,
            actor_id=actor.pk,
            reason=reason,
            # A scheduled session's email carries its invite's update (same UID, next SEQUENCE).
            attachments=[]
            if completed
            else [calendar.attachment(session, calendar.Method.REQUEST)],
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
    session.charge_shortfall = 0


def session_cancel(*, membership: Membership, session: Session, reason: str) -> Session:
    """Cancel a session, with a reason.

    Only a scheduled session of a paired relationship, cancelled less than the policy's window
    before it starts, is charged (when the policy says so; as far as the hours cover it).
    Anything else gives back every hour it consumed: cancelling a completed or no-show session
    corrects a record (a session logged by mistake), whatever the timing.
    """
    if not reason.strip():
        raise SessionRuleError("Give a reason for the cancellation.")
    with transaction.atomic():
        session, relationship = _lock_session(session)
        actor = _check_change(membership, session, relationship)
        _cancel_and_tell(session, relationship, actor=actor, reason=reason)
    return session


def _cancel_and_tell(
    session: Session, relationship: Relationship, *, actor: User, reason: str
) -> None:
    """The cancellation on locked rows, its history row, and the notice to the other side with
    the calendar cancel (`session_cancel`, `booking.session_cancel_booking`)."""
    before = copy.copy(session)
    _cancel(session, relationship, actor=actor, reason=reason)
    invite = []
    if before.status in (SessionStatus.SCHEDULED, SessionStatus.MISSED):
        # Its invite went out when it was booked: the email carries the cancel.
        calendar.bump_sequence(session)
        invite = [calendar.attachment(session, calendar.Method.CANCEL)]
    _record(
        session,
        relationship,
        before=before,
        kind=SessionChangeKind.CANCELLED,
        actor=actor,
        reason=reason,
    )
    notices.cancelled(session, relationship, actor_id=actor.pk, reason=reason, attachments=invite)


def _cancel(session: Session, relationship: Relationship, *, actor: User, reason: str) -> None:
    """The cancellation itself, on locked rows (`session_cancel`, `session_resolve_dispute`)."""
    if session.status == SessionStatus.CANCELLED:
        raise ConflictError("This session is already cancelled.")
    if late_cancellation_charged(session, relationship):
        _charge(session, relationship, actor, "late cancellation")
    else:
        _restore_all(session, relationship, actor, f"Cancelled: {reason}")
    session.status = SessionStatus.CANCELLED
    session.cancellation_reason = reason.strip()
    session.save(
        update_fields=["status", "cancellation_reason", "charged_minutes", "charge_shortfall"]
    )


def session_no_show(
    *, membership: Membership, session: Session, party: str, explanation: str = ""
) -> Session:
    """Someone did not come. Charged per policy when the student was absent (as far as the
    hours cover it); never when the provider was."""
    if party not in NoShowParty.values:
        raise SessionRuleError("Say who did not come: the student or the provider.")
    with transaction.atomic():
        session, relationship = _lock_session(session)
        actor = _check_change(membership, session, relationship)
        before = copy.copy(session)
        if session.status in (SessionStatus.CANCELLED, SessionStatus.NO_SHOW):
            raise ConflictError(f"This session is already {session.get_status_display().lower()}.")
        if session.starts_at > timezone.now():
            raise SessionRuleError(NO_SHOW_NOT_STARTED)
        if party == NoShowParty.STUDENT:
            # Before any grant is locked: the rule locks the student row (the lock order).
            noshows.apply_rule(session=session, relationship=relationship)
        org = relationship.organization
        charge = party == NoShowParty.STUDENT and org.no_show_charge == Charge.FULL
        if charge and session.charged_minutes:
            pass  # A completed session marked as a student no-show keeps what it was charged.
        elif charge and relationship.status == RelationshipStatus.PAIRED:
            # As with a late cancellation, only a live pairing charges anew: an ended
            # relationship's hours have gone back to the student.
            _charge(session, relationship, actor, "no-show")
        else:
            _restore_all(session, relationship, actor, "No-show")
        session.status = SessionStatus.NO_SHOW
        session.no_show_party, session.no_show_explanation = party, explanation.strip()
        session.save(
            update_fields=[
                "status",
                "no_show_party",
                "no_show_explanation",
                "charged_minutes",
                "charge_shortfall",
            ]
        )
        _record(
            session,
            relationship,
            before=before,
            kind=SessionChangeKind.NO_SHOW,
            actor=actor,
            reason=explanation,
        )
    return session


@relationships.on_relationship_end
def cancel_sessions_to_come(*, relationship: Relationship, actor: User | None, reason: str) -> int:
    """An ended relationship keeps no appointments: its scheduled sessions still to come are
    cancelled, saying why. They consumed nothing and its holds are released right after, so no
    hours move. Sessions already due stay scheduled: some may have taken place, and an admin
    decides."""
    label = RelationshipStatus(relationship.status).label.lower()
    because = f"The relationship was {label}"
    if reason.strip() and reason.strip().lower() != label:
        because += f": {reason.strip()}"
    to_come = Session.objects.filter(
        relationship=relationship, status=SessionStatus.SCHEDULED, starts_at__gt=timezone.now()
    )
    ids = list(to_come.values_list("pk", flat=True))
    Session.objects.filter(pk__in=ids).update(
        status=SessionStatus.CANCELLED,
        cancellation_reason=because[:500],
        ics_sequence=F("ics_sequence") + 1,
    )
    for session in Session.objects.filter(pk__in=ids).order_by("starts_at"):
        session.relationship = relationship
        calendar.send_invite(
            session,
            method=calendar.Method.CANCEL,
            subject=f"Session cancelled: {calendar.when(session)}",
            text=f"The session on {calendar.when(session)} was cancelled. {because}.",
        )
    status = [
        {
            "field": "status",
            "label": "Status",
            "from": SessionStatus.SCHEDULED.label,
            "to": SessionStatus.CANCELLED.label,
        }
    ]
    SessionChange.objects.bulk_create(
        SessionChange(
            organization_id=relationship.organization_id,
            session_id=pk,
            kind=SessionChangeKind.CANCELLED,
            actor=actor,
            reason=because[:500],
            changes=status,
        )
        for pk in ids
    )
    return len(ids)


def recap_refusal(recap: str, organization: Organization) -> str | None:
    """Why the student's recap is refused, or None: required where the center says so, at
    least its minimum length (1 character when it sets none)."""
    if organization.student_recap != StudentRecap.REQUIRED:
        return None
    needed = max(organization.student_recap_min_length, 1)
    written = len(recap.strip())
    if written >= needed:
        return None
    if needed == 1:
        return "Write a short recap of the session to confirm it."
    return (
        f"Write a recap of at least {needed} characters to confirm the session ({written} so far)."
    )


def session_confirm(*, membership: Membership, session: Session, recap: str = "") -> Session:
    """The student confirms a completed session (where the center requires it, this makes it
    count toward the provider's earnings), with a recap where the center asks for one."""
    with transaction.atomic():
        session = (
            Session.objects.select_for_update(of=("self",))
            .select_related("relationship__student", "organization")
            .get(pk=session.pk)
        )
        _check_student(membership, session, "Only the student can confirm their session.")
        if session.status != SessionStatus.COMPLETED:
            raise ConflictError("Only a completed session can be confirmed.")
        org = session.organization
        refusal = recap_refusal(recap, org)
        if refusal:
            raise SessionRuleError(refusal)
        session.student_confirmed_at = timezone.now()
        if org.student_recap != StudentRecap.OFF:
            session.student_recap = recap.strip()
        if not session.dispute_resolved_at:
            # Confirming withdraws an open dispute; a resolved one stays on the record.
            session.disputed_at = None
        session.save(update_fields=["student_confirmed_at", "disputed_at", "student_recap"])
    return session


def session_dispute(*, membership: Membership, session: Session, reason: str) -> Session:
    if not reason.strip():
        raise SessionRuleError("Say what is wrong with this session.")
    with transaction.atomic():
        session = (
            Session.objects.select_for_update(of=("self",))
            .select_related("relationship__student", "relationship__provider", "organization")
            .get(pk=session.pk)
        )
        _check_student(membership, session, "Only the student can dispute their session.")
        refusal = dispute_refusal(session, session.organization)
        if refusal == DISPUTE_NOT_COMPLETED:
            raise ConflictError(refusal)
        if refusal:
            raise SessionRuleError(refusal)
        session.disputed_at, session.dispute_reason = timezone.now(), reason.strip()
        session.student_confirmed_at = None
        session.save(update_fields=["disputed_at", "dispute_reason", "student_confirmed_at"])
        notices.dispute_opened(session, session.relationship, reason=reason)
    return session


RESOLVE_ADMINS_ONLY: Final = "Only an admin can resolve a dispute."
DISPUTE_NOT_OPEN: Final = "There is no open dispute about this session."
RESOLUTION_NOTE_MISSING: Final = "Say how the dispute was resolved; the student reads it."
RESOLUTION_UNKNOWN: Final = "Choose how to resolve the dispute: keep, edit or cancel the session."
RESOLUTION_EDIT_UNCHANGED: Final = (
    "To resolve it by an edit, change the duration (or the review time); otherwise keep the "
    "session as logged."
)


@tells_admins_of_shortfall
def session_resolve_dispute(
    *,
    membership: Membership,
    session: Session,
    resolution: str,
    note: str,
    duration: int | None = None,
    review_minutes: int | _Keep | None = KEEP,
) -> Session:
    """An admin ends a dispute: keeps the session as logged, edits it (the difference is
    consumed or restored) or cancels it (every hour restored), with a note the student reads.
    One history row says what changed; the student is told."""
    note = note.strip()
    if not note:
        raise SessionRuleError(RESOLUTION_NOTE_MISSING)
    if resolution not in DisputeResolution.values:
        raise SessionRuleError(RESOLUTION_UNKNOWN)
    with transaction.atomic():
        session, relationship = _lock_session(session)
        if not acts_for(membership, relationship, provider=False):
            raise SessionRuleError(RESOLVE_ADMINS_ONLY)
        actor = membership.user
        if not session.dispute_open:
            raise ConflictError(DISPUTE_NOT_OPEN)
        before = copy.copy(session)
        if resolution == DisputeResolution.EDITED:
            if not _changed(session, duration=duration, review_minutes=review_minutes):
                raise SessionRuleError(RESOLUTION_EDIT_UNCHANGED)
            _edit(
                session,
                relationship,
                actor=actor,
                role=Role.ADMIN,
                duration=duration,
                notes=None,
                internal_note=None,
                mode=None,
                review_minutes=review_minutes,
            )
        elif resolution == DisputeResolution.CANCELLED:
            _cancel(session, relationship, actor=actor, reason=f"Dispute: {note}"[:500])
        session.dispute_resolved_at, session.dispute_resolved_by = timezone.now(), actor
        session.dispute_resolution, session.dispute_resolution_note = resolution, note[:500]
        session.save(
            update_fields=[
                "dispute_resolved_at",
                "dispute_resolved_by",
                "dispute_resolution",
                "dispute_resolution_note",
            ]
        )
        label = DisputeResolution(resolution).label
        change = _record(
            session,
            relationship,
            before=before,
            kind=SessionChangeKind.DISPUTE_RESOLVED,
            actor=actor,
            reason=note,
            extra=[
                {"field": "dispute_resolution", "label": "Dispute", "from": "Open", "to": label}
            ],
        )
        _tell_resolved(session, relationship, change)
    return session


def _tell_resolved(
    session: Session, relationship: Relationship, change: SessionChange | None
) -> None:
    outcome = {
        DisputeResolution.KEPT: "The session stays as logged.",
        DisputeResolution.CANCELLED: "The session was cancelled and its hours given back.",
    }.get(DisputeResolution(session.dispute_resolution), "")
    if not outcome and change is not None:
        outcome = (
            "The session was changed: "
            + "; ".join(
                f"{c['label']} {c['from'] or '—'} → {c['to'] or '—'}"
                for c in change.changes
                if c["field"] in ("duration_minutes", "review_minutes", "charged_minutes")
            )
            + "."
        )
    notices.dispute_resolved(session, relationship, outcome=outcome)


REPORT_NO_RECIPIENT = (
    "Neither the student nor the guardian has an email address: add one to the student's "
    "record to send the report."
)


def session_send_report(*, membership: Membership, session: Session) -> Session:
    """Email the session's notes to the student and the guardian; the sending is recorded."""
    with transaction.atomic():
        session, relationship = _lock_session(session)
        actor = _check_actor(membership, relationship)
        if session.status != SessionStatus.COMPLETED:
            raise ConflictError("Only a completed session has a report to send.")
        if not session.notes.strip():
            raise SessionRuleError("Write the session's notes before sending the report.")
        student = relationship.student
        recipients = sorted({a for a in (student.email, student.guardian_email) if a})
        if not recipients:
            raise SessionRuleError(REPORT_NO_RECIPIENT)
        notices.report(session, relationship, recipients=recipients)
        session.report_sent_at, session.report_sent_by = timezone.now(), actor
        session.report_sent_to = ", ".join(recipients)[:500]
        session.save(update_fields=["report_sent_at", "report_sent_by", "report_sent_to"])
    return session
