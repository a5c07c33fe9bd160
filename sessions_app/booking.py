"""Booking (docs/scheduling.md): a student, or an admin for a student, books a free slot of a
provider they are paired with, once or weekly. A booking is a scheduled session of the paired
relationship: requested (pending) until the provider accepts it, unless the center
auto-accepts. It never promises hours the relationship does not hold, and the database keeps
one provider's live sessions apart (`session_provider_no_overlap`).

The lock order is the sessions' own (`sessions_app.services`): the relationship, then the
session, the student and the provider, then the ledger's grants.
"""

import contextlib
import copy
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Final
from zoneinfo import ZoneInfo

from django.db import IntegrityError, transaction
from django.db.models import Count, Sum
from django.utils import timezone

from matchpal.constraints import violated_constraint
from matchpal.errors import ConflictError
from matchpal.models import Membership, Role, User
from matchpal.quantities import format_quantity
from notifications.services import person as recipient
from providers.availability import local_moment
from providers.models import MeetingMode
from relationships.models import Relationship, RelationshipStatus, Unit
from relationships.selectors import acts_for, allocated
from sessions_app import booking_notices, calendar, slots
from sessions_app.models import LIVE, Session, SessionChangeKind, SessionKind, SessionStatus
from sessions_app.rules import DUPLICATE_START, SessionRuleError, check_rules
from sessions_app.selectors import (
    CANCEL_BOOKING_ONLY_OWN,
    cancel_booking_refusal,
    change_refusal,
)
from sessions_app.services import (
    _cancel,
    _cancel_and_tell,
    _check_student,
    _lock_people,
    _lock_relationship,
    _lock_session,
    _record,
)
from students.selectors import booking_suspended
from students.services import BOOKING_SUSPENDED

STUDENTS_MAY_NOT_BOOK: Final = (
    "This center does not take session requests from students; ask the center to book one."
)
BOOK_ONLY_OWN: Final = "Only the student or an admin can book this student's sessions."
BOOK_NOT_PAIRED: Final = "Sessions can be booked only with a provider you are paired with."
SLOT_TAKEN: Final = (
    "{provider} is no longer free on {when}: someone booked that time a moment ago. "
    "Choose another time."
)
MODE_NOT_OFFERED: Final = "{provider} does not meet {mode} on {when}. Choose how they meet then."
NOT_FREE: Final = "{provider} is not free on {when}. Choose one of the times shown."
TOO_SOON: Final = "Sessions are booked at least {hours} hours ahead; choose a later time."
TOO_FAR: Final = "Sessions are booked at most {days} days ahead; choose an earlier time."
NOT_ENOUGH_RESERVED: Final = "This needs {need}; {left} remains reserved."
SERIES_TOO_LONG: Final = "A weekly series has at most {n} sessions."
SERIES_BOTH: Final = "Give either the last date or the number of sessions, not both."
SERIES_END_BEFORE: Final = "The last date comes after the first session."
ACCEPT_ONLY_OWN: Final = "Only the session's provider or an admin can answer this request."
NOT_PENDING: Final = "This request was already answered."

MAX_SERIES: Final = 26
NO_OVERLAP: Final = "session_provider_no_overlap"


@dataclass(frozen=True)
class Series:
    """How a booking repeats: weekly until a date (inclusive, local) or N times."""

    until: date | None = None
    count: int | None = None


def occurrences(starts_at: datetime, series: Series | None, tz_name: str) -> list[datetime]:
    """The starts of a booking: the first, and each week after it at the same wall-clock time
    in the center's zone (15:00 stays 15:00 across a daylight-saving change)."""
    if series is None or (series.until is None and series.count is None):
        return [starts_at]
    tz = ZoneInfo(tz_name)
    if series.until is not None and series.count is not None:
        raise SessionRuleError(SERIES_BOTH, field="until")
    local = timezone.localtime(starts_at, tz)
    if series.count is not None:
        count = series.count
    else:
        assert series.until is not None
        if series.until < local.date():
            raise SessionRuleError(SERIES_END_BEFORE, field="until")
        count = (series.until - local.date()).days // 7 + 1
    if not 1 <= count <= MAX_SERIES:
        raise SessionRuleError(
            SERIES_TOO_LONG.format(n=MAX_SERIES),
            field="count" if series.count is not None else "until",
        )
    return [local_moment(local.date() + timedelta(weeks=k), local.time(), tz) for k in range(count)]


def _charge(relationship: Relationship, minutes: int) -> int:
    """What one booked session would consume: its minutes, or one session."""
    return 1 if relationship.unit == Unit.SESSIONS else minutes


def reserved_left(relationship: Relationship) -> int:
    """What the relationship holds and no live session has booked yet (minutes, or
    sessions)."""
    held = allocated(relationship)["held"]
    live = Session.objects.filter(LIVE, relationship=relationship).aggregate(
        minutes=Sum("duration_minutes"), count=Count("id")
    )
    booked = live["count"] if relationship.unit == Unit.SESSIONS else live["minutes"] or 0
    return int(held - booked)


def series_warning(relationship: Relationship, *, minutes: int, count: int) -> str | None:
    """What the booking form warns before a series is sent: the reservation does not cover
    every occurrence."""
    left = reserved_left(relationship)
    need = _charge(relationship, minutes) * count
    if need <= left:
        return None
    covered = max(left, 0) // _charge(relationship, minutes)
    return (
        f"The reservation covers {covered} of these {count} sessions "
        f"({format_quantity(max(left, 0), relationship.unit)} left, "
        f"{format_quantity(need, relationship.unit)} needed); ask the center for more hours "
        "or book fewer."
    )


def _check_booker(membership: Membership, relationship: Relationship) -> User:
    org = relationship.organization
    if membership.organization_id != relationship.organization_id:
        raise SessionRuleError(BOOK_ONLY_OWN)
    if membership.is_admin:
        return membership.user
    if membership.role != Role.STUDENT or relationship.student.user_id != membership.user_id:
        raise SessionRuleError(BOOK_ONLY_OWN)
    if not org.booking_students_may_request:
        raise SessionRuleError(STUDENTS_MAY_NOT_BOOK)
    return membership.user


def _when(moment: datetime, relationship: Relationship) -> str:
    return f"{timezone.localtime(moment, relationship.organization.tz):%a %b %d at %H:%M}"


@contextlib.contextmanager
def _slot_kept(relationship: Relationship, moment: datetime) -> Iterator[None]:
    """The exclusion constraint's refusal (another booking won the race) as a message."""
    try:
        yield
    except IntegrityError as exc:
        name = violated_constraint(exc)
        if name == NO_OVERLAP:
            raise SessionRuleError(
                SLOT_TAKEN.format(
                    provider=relationship.provider.name, when=_when(moment, relationship)
                )
            ) from exc
        if name == "session_unique_start_per_relationship":
            raise SessionRuleError(DUPLICATE_START) from exc
        raise


def session_book(
    *,
    membership: Membership,
    relationship: Relationship,
    starts_at: datetime,
    mode: str = "",
    location: str = "",
    topic: str = "",
    series: Series | None = None,
    now: datetime | None = None,
) -> list[Session]:
    """Book a session (or a weekly series) of the center's booking length at `starts_at`.

    Refused, each with its message: a student where the center takes no student requests, a
    relationship not paired, a start inside the notice or past the horizon (students), a time
    the provider is not free (availability, time off, another live session, or the student's
    own), a `mode` the provider's hours do not offer then, more than the relationship still
    holds unbooked, and the center's caps
    (`check_rules`). Confirmed at once when the center auto-accepts or an admin books;
    otherwise requested, for the provider to accept or decline."""
    now = now or timezone.now()
    org = relationship.organization
    starts = occurrences(starts_at, series, org.time_zone)
    with transaction.atomic():
        relationship = _lock_relationship(relationship)
        org = relationship.organization
        actor = _check_booker(membership, relationship)
        admin = membership.is_admin
        if relationship.status != RelationshipStatus.PAIRED:
            raise SessionRuleError(BOOK_NOT_PAIRED)
        if not admin and booking_suspended(relationship.student):
            # Too many no-shows (sessions_app.noshows); an admin may still book for them.
            raise SessionRuleError(BOOKING_SUSPENDED)
        earliest, latest = slots.bookable_window(org, admin=admin, now=now)
        if starts[0] < earliest:
            raise SessionRuleError(
                TOO_SOON.format(hours=org.booking_notice_hours)
                if not admin
                else "Choose a time still to come.",
                field="starts_at",
            )
        if starts[0] > latest:
            raise SessionRuleError(TOO_FAR.format(days=org.booking_horizon_days))
        _lock_people(relationship)
        minutes = org.booking_slot_minutes
        left = reserved_left(relationship)
        need = _charge(relationship, minutes) * len(starts)
        if need > left:
            raise SessionRuleError(
                NOT_ENOUGH_RESERVED.format(
                    need=format_quantity(need, relationship.unit),
                    left=format_quantity(max(left, 0), relationship.unit),
                )
            )
        offers = _check_free(relationship, starts, admin=admin, now=now)
        openings = {}
        for moment in starts:
            opening = offers[moment].opening_for(mode)
            if opening is None:
                raise SessionRuleError(
                    MODE_NOT_OFFERED.format(
                        provider=relationship.provider.name,
                        mode=MeetingMode(mode).label.lower()
                        if mode in MeetingMode.values
                        else mode,
                        when=_when(moment, relationship),
                    ),
                    field="mode",
                )
            openings[moment] = opening
        status = (
            SessionStatus.SCHEDULED if admin or org.booking_auto_accept else SessionStatus.PENDING
        )
        series_id = uuid.uuid4() if len(starts) > 1 else None
        booked = []
        for moment in starts:
            check_rules(
                organization=org,
                relationship=relationship,
                starts_at=moment,
                duration=minutes,
                notes="",
                kind=SessionKind.TUTORING,
                role=membership.role,
                completing=False,
                duplicate_by_constraint=True,
            )
            session = Session(
                organization=org,
                relationship=relationship,
                calendar_provider_id=relationship.provider_id,
                starts_at=moment,
                duration_minutes=minutes,
                kind=_kind_of(relationship),
                # Where the provider's hours at that time say: the ones of the mode chosen.
                mode=openings[moment].mode,
                location=location.strip() or openings[moment].location,
                topic=topic.strip(),
                status=status,
                series=series_id,
                requested_by=actor,
                provider_pay_rate=relationship.provider_pay_rate,
                client_rate=relationship.client_rate,
            )
            with _slot_kept(relationship, moment):
                session.save(force_insert=True)
            booked.append(session)
        booking_notices.booked(booked, relationship, actor_id=actor.pk)
    return booked


def _kind_of(relationship: Relationship) -> str:
    """Advising for an advising service, tutoring otherwise (the log form's default)."""
    name = relationship.service_type.name.lower()
    return SessionKind.ADVISING if "advis" in name else SessionKind.TUTORING


def _check_free(
    relationship: Relationship, starts: list[datetime], *, admin: bool, now: datetime
) -> dict[datetime, slots.Offer]:
    """Each start is a free slot of the relationship's provider: one read of the days the
    booking spans (their availability, time off, live sessions, the student's own). Returns
    the provider's offer at each (where they may meet then)."""
    org = relationship.organization
    first = timezone.localtime(starts[0], org.tz).date()
    last = timezone.localtime(starts[-1], org.tz).date()
    free = {
        slot.start: slot.offers[0]
        for slot in slots.free_slots(
            organization=org,
            relationships=[relationship],
            first_day=first,
            day_count=(last - first).days + 1,
            admin=admin,
            now=now,
            # The horizon bounds the first session (checked by the caller); a series may run
            # past it.
            latest=starts[-1],
        )
    }
    for moment in starts:
        if moment not in free:
            raise SessionRuleError(
                NOT_FREE.format(
                    provider=relationship.provider.name, when=_when(moment, relationship)
                )
            )
    return free


def session_accept(*, membership: Membership, session: Session) -> Session:
    """The provider (or an admin) accepts a requested session: it is scheduled."""
    with transaction.atomic():
        session, relationship = _lock_session(session)
        if not acts_for(membership, relationship):
            raise SessionRuleError(ACCEPT_ONLY_OWN)
        if session.status != SessionStatus.PENDING:
            raise ConflictError(NOT_PENDING)
        if relationship.status != RelationshipStatus.PAIRED:
            raise SessionRuleError(BOOK_NOT_PAIRED)
        before = copy.copy(session)
        session.status = SessionStatus.SCHEDULED
        session.save(update_fields=["status"])
        # The student's "confirmed" notice carries the invite; the provider gets it alone.
        calendar.send_confirmation([session], people=[recipient(relationship.provider)])
        _record(
            session,
            relationship,
            before=before,
            kind=SessionChangeKind.ACCEPTED,
            actor=membership.user,
        )
        booking_notices.answered(session, relationship, actor_id=membership.user.pk)
    return session


DECLINE_NEEDS_MESSAGE: Final = "Tell the student why, or suggest another time."


def session_decline(*, membership: Membership, session: Session, message: str) -> Session:
    """The provider (or an admin) declines a requested session, with a message the student
    reads; the session is cancelled (it consumed nothing)."""
    if not message.strip():
        raise SessionRuleError(DECLINE_NEEDS_MESSAGE, field="message")
    with transaction.atomic():
        session, relationship = _lock_session(session)
        if not acts_for(membership, relationship):
            raise SessionRuleError(ACCEPT_ONLY_OWN)
        if session.status != SessionStatus.PENDING:
            raise ConflictError(NOT_PENDING)
        before = copy.copy(session)
        session.status = SessionStatus.CANCELLED
        session.cancellation_reason = f"Declined: {message.strip()}"[:500]
        session.save(update_fields=["status", "cancellation_reason"])
        _record(
            session,
            relationship,
            before=before,
            kind=SessionChangeKind.DECLINED,
            actor=membership.user,
            reason=message,
        )
        booking_notices.answered(
            session, relationship, actor_id=membership.user.pk, message=message
        )
    return session


def series_cancel_following(
    *, membership: Membership, session: Session, reason: str
) -> list[Session]:
    """Cancel this occurrence of a weekly series and every later one still live, each as
    `session_cancel` would (its history, a late cancellation charged per policy)."""
    if not reason.strip():
        raise SessionRuleError("Give a reason for the cancellation.", field="reason")
    if session.series is None:
        raise ConflictError("This session is not part of a weekly series.")
    cancelled = []
    with transaction.atomic():
        first, relationship = _lock_session(session)
        refusal = change_refusal(session=first, relationship=relationship, membership=membership)
        if refusal:
            raise SessionRuleError(refusal)
        following = list(
            Session.objects.select_for_update(of=("self",))
            .filter(LIVE, series=first.series, relationship=relationship)
            .filter(starts_at__gte=first.starts_at)
            .order_by("starts_at", "id")
        )
        if not following:
            raise ConflictError("Nothing from this session on is still booked.")
        for occurrence in following:
            occurrence.relationship = relationship
            before = copy.copy(occurrence)
            _cancel(occurrence, relationship, actor=membership.user, reason=reason)
            _record(
                occurrence,
                relationship,
                before=before,
                kind=SessionChangeKind.CANCELLED,
                actor=membership.user,
                reason=reason,
            )
            cancelled.append(occurrence)
        booking_notices.series_cancelled(
            cancelled, relationship, actor_id=membership.user.pk, reason=reason
        )
    return cancelled


def session_cancel_booking(*, membership: Membership, session: Session, reason: str) -> Session:
    """The student cancels their own booking (a request or a booked session) before it starts,
    with a reason, as any cancellation: a booked session inside the center's late-cancellation
    window is charged per its policy (`selectors.late_cancellation_charged`), a request never;
    the provider is told, and a booked session's email carries the calendar cancel. One
    occurrence of a series at a time; a suspended student may still cancel."""
    if not reason.strip():
        raise SessionRuleError("Give a reason for the cancellation.", field="reason")
    with transaction.atomic():
        session, relationship = _lock_session(session)
        actor = _check_student(membership, session, CANCEL_BOOKING_ONLY_OWN)
        refusal = cancel_booking_refusal(session)
        if refusal:
            raise ConflictError(refusal)
        _cancel_and_tell(session, relationship, actor=actor, reason=reason)
    return session
