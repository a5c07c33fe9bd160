"""Each center's session rules (docs/sessions.md, "Each center's rules"), checked in order,
each with its own message, and what a session is charged. The services call `check_rules`
on locked rows; nothing here writes."""

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from django.db.models import Aggregate, Count, Q, Sum
from django.utils import timezone

from matchpal.bounds import check_date
from matchpal.errors import DomainError
from matchpal.models import Organization, Role
from matchpal.quantities import format_minutes
from relationships.models import Relationship
from sessions_app.models import Session, SessionKind, SessionStatus

REVIEW_TIME_ONLY_FOR_REVISIONS: Final = "Only a revision records a review time."
DUPLICATE_START: Final = "A session of this relationship at this start time already exists."


class SessionRuleError(DomainError):
    """A center's rule refused the session; the message names the rule."""


def review_time_out_of_range(organization: Organization) -> str:
    return (
        f"A review time is between 1 minute and {format_minutes(organization.max_session_minutes)}."
    )


def week_bounds(moment: datetime, organization: Organization) -> tuple[datetime, datetime]:
    """The organization's week (Monday to Sunday, local time) holding `moment`."""
    local = timezone.localtime(moment, organization.tz)
    start = (local - timedelta(days=local.weekday())).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    return start, start + timedelta(days=7)


def day_bounds(moment: datetime, organization: Organization) -> tuple[datetime, datetime]:
    """The organization's local day holding `moment`."""
    local = timezone.localtime(moment, organization.tz)
    start = local.replace(hour=0, minute=0, second=0, microsecond=0)
    return start, start + timedelta(days=1)


def charge_for(
    *, organization: Organization, kind: str, duration: int, review_minutes: int | None = None
) -> int:
    """Minutes a completed session consumes: its duration, or for a revision its recorded
    review time, else the policy's fixed value."""
    if kind == SessionKind.REVISION:
        return review_minutes or organization.revision_minutes
    return duration


@dataclass(frozen=True)
class _Change:
    """Which rules a write meets: all of them for a new session (`changed` None), only those
    of the fields it changes for a stored one."""

    changed: Collection[str] | None
    completing: bool

    def touches(self, field: str) -> bool:
        return self.changed is None or field in self.changed

    @property
    def logging(self) -> bool:
        """The session becomes completed by this write (a new log, or completing it)."""
        return self.completing and self.touches("status")


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
    review_minutes: int | None = None,
    changed: Collection[str] | None = None,
    duplicate_by_constraint: bool = False,
) -> None:
    """Every rule of the organization's policy, each with its own message.

    A new session (`changed` None) meets every rule. A change to a stored one (`exclude`) meets
    the rules of what it changes (`changed`: "starts_at", "duration", "review_minutes", "notes",
    "status" when it is being logged): a rule set after the session was logged does not refuse
    an edit that leaves the value it governs alone.

    The counting rules (3 to 5) read one aggregate (`_tally`), and none when the policy sets no
    limit. `duplicate_by_constraint`: the caller's write meets the unique constraint on the
    start (`session_log` inserts and turns its violation into `DUPLICATE_START`), so the
    duplicate is not queried on its own; when a limit is counted it comes along in the same
    aggregate, keeping the rules' order.
    """
    change = _Change(changed=changed, completing=completing)
    if change.touches("starts_at"):
        check_date(starts_at, field="date", error=SessionRuleError)
    if change.touches("duration"):
        _check_duration(organization, duration)
    if review_minutes is not None and change.touches("review_minutes"):
        _check_review_time(organization, kind, review_minutes)
    if completing and (change.logging or change.touches("starts_at")):
        _check_completed_start(organization, relationship, starts_at)
    if completing and (change.logging or change.touches("notes")):
        _check_notes(organization, notes)
    if change.logging and role != Role.ADMIN:
        _check_logging_grace(organization, starts_at)
    moved = change.touches("starts_at")
    # Only a change that adds minutes to a week can break its maximum.
    longer = change.touches("duration") and (exclude is None or duration > exclude.duration_minutes)
    if not (moved or longer):
        return
    tally = _tally(
        organization,
        relationship,
        starts_at,
        exclude,
        duplicate=not duplicate_by_constraint,
        moved=moved,
    )
    if moved:
        _check_duplicate(tally)
        _check_pair_per_day(organization, tally)
    _check_student_week(organization, relationship, duration, tally)
    _check_provider_week(organization, relationship, duration, tally)


def _check_duration(org: Organization, duration: int) -> None:
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


def _check_review_time(org: Organization, kind: str, review_minutes: int) -> None:
    if kind != SessionKind.REVISION:
        raise SessionRuleError(REVIEW_TIME_ONLY_FOR_REVISIONS)
    # Actual time, so not in the duration's steps; bounded like a session.
    if not 1 <= review_minutes <= org.max_session_minutes:
        raise SessionRuleError(review_time_out_of_range(org))


def _check_completed_start(
    org: Organization, relationship: Relationship, starts_at: datetime
) -> None:
    """A completed session took place: not in the future, not before the pairing."""
    if starts_at > timezone.now():
        raise SessionRuleError(
            "A session in the future cannot be logged as completed; schedule it instead."
        )
    if relationship.paired_at and starts_at < relationship.paired_at:
        raise SessionRuleError(
            "This session starts before the relationship was paired "
            f"({timezone.localtime(relationship.paired_at, org.tz):%b %d, %Y %H:%M})."
        )


def _check_notes(org: Organization, notes: str) -> None:
    if len(notes.strip()) < org.notes_min_length:
        raise SessionRuleError(
            f"The notes need at least {org.notes_min_length} characters "
            f"({len(notes.strip())} so far)."
        )


def _check_logging_grace(org: Organization, starts_at: datetime) -> None:
    """Past the grace period after its start, only an admin may log a session."""
    if starts_at < timezone.now() - timedelta(hours=org.logging_grace_hours):
        raise SessionRuleError(
            f"Sessions can be logged up to {org.logging_grace_hours} hours after they "
            "start; ask an admin to log this one."
        )


@dataclass(frozen=True)
class _Tally:
    """What the counting rules read, all in one aggregate over the sessions that count (not
    cancelled, not the one being changed) in the week of the start. A figure nobody asked for
    is None."""

    duplicates: int | None = None
    pair_today: int | None = None
    student_week: int | None = None
    provider_week: int | None = None


def _tally(
    org: Organization,
    relationship: Relationship,
    starts_at: datetime,
    exclude: Session | None,
    *,
    duplicate: bool,
    moved: bool,
) -> _Tally:
    """One query for every count the policy asks for (none when it asks for none): a session
    at the same start of the relationship (rule 3), the pair's sessions that day (rule 4), the
    student's minutes of the service type and the provider's minutes that week (rule 5). The
    day lies inside the week, so the week bounds every row read."""
    figures: dict[str, Aggregate] = {}
    rows = Q()
    if moved and org.max_sessions_per_pair_per_day:
        day_start, day_end = day_bounds(starts_at, org)
        pair = Q(
            relationship__student_id=relationship.student_id,
            relationship__provider_id=relationship.provider_id,
            starts_at__gte=day_start,
            starts_at__lt=day_end,
        )
        figures["pair_today"] = Count("pk", filter=pair)
        rows |= pair
    if org.weekly_max_minutes_per_student_service:
        student = Q(
            relationship__student_id=relationship.student_id,
            relationship__service_type_id=relationship.service_type_id,
        )
        figures["student_week"] = Sum("duration_minutes", filter=student, default=0)
        rows |= student
    if org.weekly_max_minutes_per_provider:
        provider = Q(relationship__provider_id=relationship.provider_id)
        figures["provider_week"] = Sum("duration_minutes", filter=provider, default=0)
        rows |= provider
    # The duplicate comes first among the rules: counted whenever the start moves and anything
    # is read at all, so a duplicate is never refused by a later rule's message.
    if moved and (duplicate or figures):
        same = Q(relationship_id=relationship.pk, starts_at=starts_at)
        figures["duplicates"] = Count("pk", filter=same)
        rows |= same
    if not figures:
        return _Tally()
    week_start, week_end = week_bounds(starts_at, org)
    live = Session.objects.filter(
        rows, organization_id=org.pk, starts_at__gte=week_start, starts_at__lt=week_end
    ).exclude(status=SessionStatus.CANCELLED)
    if exclude is not None:
        live = live.exclude(pk=exclude.pk)
    return _Tally(**live.aggregate(**figures))


def _check_duplicate(tally: _Tally) -> None:
    if tally.duplicates:
        raise SessionRuleError(DUPLICATE_START)


def _check_pair_per_day(org: Organization, tally: _Tally) -> None:
    maximum = org.max_sessions_per_pair_per_day
    if not maximum or tally.pair_today is None:
        return
    if tally.pair_today >= maximum:
        raise SessionRuleError(
            f"At most {org.max_sessions_per_pair_per_day} session(s) per student and "
            "provider per day."
        )


def _check_student_week(
    org: Organization, relationship: Relationship, duration: int, tally: _Tally
) -> None:
    maximum, booked = org.weekly_max_minutes_per_student_service, tally.student_week
    if not maximum or booked is None:
        return
    if booked + duration > maximum:
        raise SessionRuleError(
            f"This week the student already has {format_minutes(booked)} of "
            f"{relationship.service_type.name.lower()}; the weekly maximum is "
            f"{format_minutes(maximum)}."
        )


def _check_provider_week(
    org: Organization, relationship: Relationship, duration: int, tally: _Tally
) -> None:
    maximum, booked = org.weekly_max_minutes_per_provider, tally.provider_week
    if not maximum or booked is None:
        return
    if booked + duration > maximum:
        raise SessionRuleError(
            f"This week {relationship.provider.name} already has {format_minutes(booked)}; "
            f"the weekly maximum is {format_minutes(maximum)}."
        )
