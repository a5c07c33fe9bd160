"""Tenant-scoped reads of sessions, narrowed to what the member's role may see."""

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, Final

from django.core.paginator import Page
from django.db.models import Aggregate, Count, Exists, OuterRef, Q, QuerySet, Subquery, Sum
from django.http import Http404, HttpRequest
from django.utils import timezone

from matchpal.compiled import Compiled, stand_in
from matchpal.models import Charge, Membership, Organization, Role, User
from matchpal.pagination import CompiledList
from providers.models import Provider
from relationships.models import Relationship, RelationshipStatus
from relationships.selectors import acts_for
from relationships.selectors import visible_to as relationship_visible_to
from sessions_app.models import (
    DISPUTE_OPEN,
    LIVE_STATUSES,
    Session,
    SessionChange,
    SessionQuerySet,
    SessionStatus,
)
from sessions_app.rules import week_bounds
from students.models import Student

DISPUTE_NOT_COMPLETED: Final = "Only a completed session can be disputed."
CHANGE_ONLY_OWN: Final = "Only this relationship's provider or an admin can change its sessions."
CHANGE_NOT_PAIRED: Final = (
    "This relationship is no longer paired: only an admin can change its sessions."
)
CHANGE_MISSED: Final = "This session was missed: only an admin can change it now."


def change_window_passed(organization: Organization) -> str:
    return (
        f"Sessions can be changed up to {organization.logging_grace_hours} hours after they "
        "start; ask an admin to change this one."
    )


def change_refusal(
    *, session: Session, relationship: Relationship, membership: Membership | None
) -> str | None:
    """Why this member may not edit, cancel, reschedule or mark a no-show on the session, or
    None. Admins always may; a provider only on their own paired relationship (`acts_for`),
    within the grace window of logging (`logging_grace_hours` after the start). The pages ask
    it too, so they offer only the buttons that work."""
    if not acts_for(membership, relationship):
        return CHANGE_ONLY_OWN
    assert membership is not None
    if membership.is_admin:
        return None
    if relationship.status != RelationshipStatus.PAIRED:
        return CHANGE_NOT_PAIRED
    # Missed is an admin's whatever the window says now: a center that lengthens its grace
    # period later does not hand the session back to its provider.
    if session.status == SessionStatus.MISSED:
        return CHANGE_MISSED
    grace = timedelta(hours=relationship.organization.logging_grace_hours)
    if timezone.now() > session.starts_at + grace:
        return change_window_passed(relationship.organization)
    return None


CANCEL_BOOKING_ONLY_OWN: Final = "Only the session's student can cancel their booking."
CANCEL_BOOKING_STARTED: Final = (
    "This session has already started: ask your provider or the center to record what happened."
)


def cancel_booking_refusal(session: Session) -> str | None:
    """Why the student may not cancel their own booking, or None: only a request or a booked
    session (live), before it starts. The service checks that it is theirs; the pages ask this
    too, so they offer the button only where it works."""
    if session.status not in LIVE_STATUSES:
        return (
            "Only a requested or booked session can be cancelled; this one is "
            f"{session.get_status_display().lower()}."
        )
    if session.starts_at <= timezone.now():
        return CANCEL_BOOKING_STARTED
    return None


def late_cancellation_charged(session: Session, relationship: Relationship) -> bool:
    """Whether cancelling the session now is charged by the center's late-cancellation rule: a
    booked (scheduled) session of a paired relationship, less than the window before its start,
    where the center charges in full. A request (pending) never is: nothing was confirmed.
    `services._cancel` applies it; the student's cancel page warns with it."""
    org = relationship.organization
    late = session.starts_at - timezone.now() < timedelta(hours=org.late_cancellation_window_hours)
    return (
        session.status == SessionStatus.SCHEDULED
        and late
        and org.late_cancellation_charge == Charge.FULL
        and relationship.status == RelationshipStatus.PAIRED
    )


DISPUTE_ALREADY_OPEN: Final = "You already disputed this session; the center will answer."
DISPUTE_ALREADY_RESOLVED: Final = "The center already resolved a dispute about this session."


def dispute_window_passed(session: Session, organization: Organization) -> str:
    return (
        f"Sessions can be disputed up to {organization.dispute_window_days} days after they "
        f"take place; this one was on "
        f"{timezone.localtime(session.starts_at, organization.tz):%b %d}. Contact the center."
    )


def dispute_refusal(session: Session, organization: Organization) -> str | None:
    """Why the student may not dispute the session, or None: a completed session, inside the
    center's window after it, not already disputed (open or resolved). The pages ask it too."""
    if session.status != SessionStatus.COMPLETED:
        return DISPUTE_NOT_COMPLETED
    if session.dispute_resolved_at:
        return DISPUTE_ALREADY_RESOLVED
    if session.disputed_at:
        return DISPUTE_ALREADY_OPEN
    if timezone.now() > session.starts_at + timedelta(days=organization.dispute_window_days):
        return dispute_window_passed(session, organization)
    return None


def confirmation_offered(session: Session, organization: Organization) -> bool:
    """Confirm is offered only where it counts (the center requires it for earnings), on a
    completed session the student has not confirmed yet."""
    return (
        organization.require_student_confirmation
        and session.status == SessionStatus.COMPLETED
        and session.student_confirmed_at is None
    )


def sees_client_amount(membership: Membership, organization: Organization) -> bool:
    """Admins see what the client is charged; providers only where the center allows it."""
    if membership.is_admin:
        return True
    return membership.is_provider and organization.providers_see_client_amount


def visible_to(membership: Membership) -> Q:
    if membership.is_admin:
        return Q()
    if membership.is_provider:
        return Q(relationship__provider__user_id=membership.user_id)
    return Q(relationship__student__user_id=membership.user_id)


def dispute_open() -> Q:
    """Disputed by the student and not resolved by an admin (`Session.dispute_open`), as the
    partial index `session_dispute_open` holds them."""
    return DISPUTE_OPEN


def session_list(*, organization: Organization, membership: Membership) -> SessionQuerySet:
    return (
        Session.objects.filter(visible_to(membership), organization=organization)
        .select_related(
            "relationship__student",
            "relationship__provider",
            "relationship__service_type",
            "relationship__organization",
        )
        .order_by("-starts_at", "-id")
    )


def session_rows(*, organization: Organization, membership: Membership) -> SessionQuerySet:
    """The sessions list's rows: `session_list` joined to the relationship's student, provider
    and service type but not to its organization, which is the request's own
    (`with_organization`). The organization's 28 columns made the page's join a six-table one,
    planned on every request (docs/performance.md, "Per-request cost")."""
    if membership.is_provider:
        # The provider's own sessions, read from `session_org_provider_starts` in the list's
        # order: the page's 25 rows and a count over the index alone, where reading them
        # through the provider's relationships gathered and sorted every one of their sessions
        # (thousands, from all over the table) on each request (docs/indexes.md).
        visible = Session.objects.filter(
            organization=organization, calendar_provider_id=own_provider_id(membership)
        ).order_by("-starts_at", "-id")
    else:
        visible = session_list(organization=organization, membership=membership)
    return visible.select_related(None).select_related(
        "relationship__student", "relationship__provider", "relationship__service_type"
    )


def _rows_of(organization: int, user: int, role: str) -> SessionQuerySet:
    """`session_rows` for the member with login `user` and `role`, built from values
    (stand-ins) for the statements compiled below."""
    member = stand_in(Membership, 0, organization_id=organization, user_id=user, role=role)
    return session_rows(organization=stand_in(Organization, organization), membership=member)


# The list unfiltered, as an admin and as a provider opens it, compiled once (per-request
# work built once: docs/performance.md, "The lists and the provider's home within 15x").
_unfiltered = {
    Role.ADMIN: CompiledList(
        lambda organization: _rows_of(organization, 0, Role.ADMIN), organization=int
    ),
    Role.PROVIDER: CompiledList(
        lambda organization, user: _rows_of(organization, user, Role.PROVIDER),
        organization=int,
        user=int,
    ),
}


def unfiltered_page(request: HttpRequest, *, membership: Membership) -> Page[Any]:
    """The page of the unfiltered sessions list the member (an admin or a provider) asked
    for: the page `paginate` gives for `session_rows`."""
    if membership.is_admin:
        return _unfiltered[Role.ADMIN].paginate(request, organization=membership.organization_id)
    assert membership.is_provider
    return _unfiltered[Role.PROVIDER].paginate(
        request, organization=membership.organization_id, user=membership.user_id
    )


# What a relationship's page shows of each session to its student (`relationship_tags
# .relationship_session_row`): no money, so neither the money's annotations nor the columns.
RELATIONSHIP_PAGE_FIELDS = (
    "public_id",
    "starts_at",
    "duration_minutes",
    "kind",
    "status",
    "disputed_at",
    "dispute_resolved_at",
)


def _of_relationship(organization: int, relationship: int, money: bool) -> SessionQuerySet:
    """A relationship's sessions, newest first; with their money (`with_money`) for staff."""
    rows = Session.objects.filter(
        organization_id=organization, relationship_id=relationship
    ).order_by("-starts_at", "-id")
    return rows.with_money() if money else rows.only(*RELATIONSHIP_PAGE_FIELDS)


# The relationship page's sessions, compiled once, with and without their money: built by the
# ORM on every request, the page's count and rows (the money's expressions resolved again each
# time) were most of the page's Python (docs/performance.md, "The pairing's page and the
# homes' rows").
_of_relationship_lists = {
    money: CompiledList(
        lambda organization, relationship, money=money: _of_relationship(
            organization, relationship, money
        ),
        organization=int,
        relationship=int,
    )
    for money in (False, True)
}


def relationship_sessions_page(
    request: HttpRequest, *, relationship: Relationship, membership: Membership
) -> Page[Any]:
    """The page of the relationship's sessions the member asked for (`?page=`), newest first:
    the page `paginate` gives. Staff's rows carry `with_money`'s amounts; a student's only
    `RELATIONSHIP_PAGE_FIELDS` (the page shows a student no money)."""
    return _of_relationship_lists[not membership.is_student].paginate(
        request, organization=relationship.organization_id, relationship=relationship.pk
    )


def own_provider_id(membership: Membership) -> Subquery:
    """The provider record of a provider's membership, as a scalar subquery: PostgreSQL runs it
    once, first, and compares `provider_id` with its value, so an index leading with the
    provider serves the rows in its order. A session's provider is its relationship's (the key
    `session_relationship_provider`), so these are the sessions `visible_to` gives a provider;
    one record per user in an organization (`provider_one_record_per_user`)."""
    return Subquery(
        Provider.objects.filter(
            organization_id=membership.organization_id, user_id=membership.user_id
        )
        .order_by()
        .values("pk")[:1]
    )


def with_organization(sessions: Iterable[Session], organization: Organization) -> list[Session]:
    """`sessions` (of `organization`) with their and their relationships' organization set to
    that row, as `session_get` does: the rows' action buttons read its settings (the composite
    tenant keys make a session's organization its relationship's)."""
    rows = list(sessions)
    for session in rows:
        session.organization = organization
        session.relationship.organization = organization
    return rows


def of_relationships(sessions: QuerySet[Session], **lookup: object) -> QuerySet[Session]:
    """The sessions of the relationships matching `lookup` (a student, a provider), asked as
    `relationship_id IN (those relationships)`: the person's few relationships are found first,
    their sessions through the relationship's index, then sorted. Asked as a join filter
    instead, the planner may walk the organization's sessions in the list's order looking for
    the person's, through every one of them for a person without sessions (docs/indexes.md)."""
    return sessions.filter(relationship__in=Relationship.objects.filter(**lookup).values("pk"))


def session_get(
    *, organization: Organization, membership: Membership, public_id: uuid.UUID
) -> Session:
    """The session with its relationship's student, provider and service type: six tables, no
    more. Joining the organization and the four users too (`session_people`) made PostgreSQL
    plan a ten-table join, 6-14 ms of planning for a 0.3 ms lookup (docs/performance.md,
    "Per-request cost")."""
    session = (
        Session.objects.filter(visible_to(membership), organization=organization)
        .select_related(
            "relationship__student", "relationship__provider", "relationship__service_type"
        )
        .filter(public_id=public_id)
        .first()
    )
    if session is None:
        raise Http404("No such session.")
    # The same row as the request's organization (the composite tenant keys make the
    # relationship's organization the session's): its settings price the session (`money()`)
    # and time its windows without another query or join.
    session.organization = organization
    session.relationship.organization = organization
    return session


SESSION_PEOPLE: Final = (
    "logged_by",
    "internal_note_author",
    "report_sent_by",
    "dispute_resolved_by",
)


def session_people(session: Session) -> None:
    """Loads who logged the session, wrote its internal note, sent its report and resolved its
    dispute, in one query of the users (none when nobody did), for the detail page that shows
    them by name."""
    ids = {getattr(session, f"{field}_id") for field in SESSION_PEOPLE} - {None}
    users = User.objects.in_bulk(ids) if ids else {}
    for field in SESSION_PEOPLE:
        user_id = getattr(session, f"{field}_id")
        if user_id is not None:
            setattr(session, field, users[user_id])


def internal_note_visible(session: Session, membership: Membership) -> bool:
    """Admins and the note's author (DESIGN §2): not the session's provider as such."""
    return membership.is_admin or session.internal_note_author_id == membership.user_id


def internal_note_editable(session: Session, membership: Membership) -> bool:
    """Who may see it, or any of the session's staff while there is none to overwrite."""
    if membership.is_student:
        return False
    return not session.internal_note or internal_note_visible(session, membership)


def due_to_log(now: datetime | None = None) -> Q:
    """Scheduled sessions whose start has passed (by `now`, this moment by default): the
    provider still has to log them. Only on paired relationships: an ended one's sessions can
    no longer be logged."""
    return Q(
        status=SessionStatus.SCHEDULED,
        starts_at__lte=now or timezone.now(),
        relationship__status=RelationshipStatus.PAIRED,
    )


def home_sessions(*, organization: Organization, membership: Membership) -> SessionQuerySet:
    """The sessions a home lists (to log, requests, coming up): `session_list`'s rows joined to
    the relationship's student and provider but not to its organization, which
    is the request's own (`with_organization`). A provider's are read by the session's own
    provider column (`own_provider_id`), so the partial index `session_provider_live` (a
    provider's pending and scheduled sessions by start) serves them in order; through the
    relationships' provider it was a six-table join whose planning (2-7 ms a statement, three
    statements a home) outweighed running it (docs/performance.md, "The lists and the
    provider's home within 15x")."""
    if membership.is_provider:
        visible = Session.objects.filter(
            organization=organization, calendar_provider_id=own_provider_id(membership)
        )
    else:
        visible = Session.objects.filter(visible_to(membership), organization=organization)
    # Not the service type: no home shows it on a session, and each table joined added to
    # the planning of all three statements (docs/performance.md, "The provider's home, again").
    return visible.select_related("relationship__student", "relationship__provider")


def to_log(
    *, organization: Organization, membership: Membership, now: datetime | None = None
) -> QuerySet[Session]:
    """The sessions the member sees that are still to log (`due_to_log`), oldest first, without
    their organization (`home_sessions`)."""
    return (
        home_sessions(organization=organization, membership=membership)
        .filter(due_to_log(now))
        .order_by("starts_at")
    )


REQUESTS_SHOWN = 20
COMING_UP_SHOWN = 10


def requests_query(
    *, organization: Organization, membership: Membership, limit: int = REQUESTS_SHOWN
) -> QuerySet[Session]:
    """Booking requests (pending) the member sees, soonest first: the provider's to answer
    (without their organization, `home_sessions`)."""
    return (
        home_sessions(organization=organization, membership=membership)
        .filter(status=SessionStatus.PENDING)
        .order_by("starts_at", "id")[:limit]
    )


def requests_to_answer(
    *, organization: Organization, membership: Membership, limit: int = REQUESTS_SHOWN
) -> list[Session]:
    rows = requests_query(organization=organization, membership=membership, limit=limit)
    return with_organization(rows, organization)


def coming_up_query(
    *,
    organization: Organization,
    membership: Membership,
    now: datetime | None = None,
    limit: int = COMING_UP_SHOWN,
) -> QuerySet[Session]:
    """Scheduled sessions still to come (after `now`, this moment by default) that the member
    sees, soonest first (without their organization, `home_sessions`)."""
    return (
        home_sessions(organization=organization, membership=membership)
        .filter(status=SessionStatus.SCHEDULED, starts_at__gt=now or timezone.now())
        .order_by("starts_at", "id")[:limit]
    )


def coming_up(
    *, organization: Organization, membership: Membership, limit: int = COMING_UP_SHOWN
) -> list[Session]:
    rows = coming_up_query(organization=organization, membership=membership, limit=limit)
    return with_organization(rows, organization)


def delivered_in(start: datetime, end: datetime) -> Q:
    """Delivered between `start` and `end`: completed sessions and charged absences (a late
    cancellation or a student's no-show that consumed hours) starting in that span. Their
    minutes are those charged, `money_minutes` of `Session.objects.with_money`."""
    return Q(starts_at__gte=start, starts_at__lt=end) & (
        Q(status=SessionStatus.COMPLETED)
        | Q(
            status__in=[SessionStatus.CANCELLED, SessionStatus.NO_SHOW],
            charged_minutes__gt=0,
        )
    )


def delivered_totals(start: datetime, end: datetime) -> dict[str, Aggregate]:
    """How many sessions were delivered between `start` and `end` (`delivered_in`) and the
    minutes they were charged: aggregates over sessions annotated by `with_money()`, so a page
    can add them to an aggregate of its own."""
    delivered = delivered_in(start, end)
    return {
        "sessions": Count("pk", filter=delivered),
        "minutes": Sum("money_minutes", filter=delivered),
    }


def this_week(organization: Organization) -> tuple[datetime, datetime]:
    """The organization's current week, Monday to Sunday in its zone."""
    return week_bounds(timezone.now(), organization)


@dataclass(frozen=True)
class Earnings:
    minutes: int
    amount: Decimal


def earnings(*, organization: Organization, membership: Membership, since: datetime) -> Earnings:
    """What the sessions the member sees since `since` earned their providers: the minutes
    paid and the amount, by `Session.objects.with_money` (docs/rules.md, "Money")."""
    (totals,) = earnings_since(organization=organization, membership=membership, starts=[since])
    return totals


def earnings_rows(
    *,
    organization: Organization,
    membership: Membership,
    starts: Sequence[datetime],
    since: datetime | None = None,
) -> QuerySet[Any, Any]:
    """The sums behind `earnings_since`, one row (none without sessions): since each of
    `starts`, the minutes paid (`m0`, `m1`…) and the amount (`a0`, `a1`…), over the sessions
    since `since` (the earliest of `starts` unless given, as a compiled statement must: it
    cannot compare its values). Grouped by the organization, the one the rows are filtered to,
    so the statement is a queryset (which can be compiled once) rather than an `aggregate`."""
    aggregates: dict[str, Aggregate] = {}
    for n, start in enumerate(starts):
        within = Q(starts_at__gte=start)
        aggregates[f"m{n}"] = Sum("paid_minutes", filter=within)
        aggregates[f"a{n}"] = Sum("provider_earnings", filter=within)
    return (
        session_list(organization=organization, membership=membership)
        .filter(starts_at__gte=since or min(starts))
        .with_money()
        .order_by()
        .values("organization")
        .annotate(**aggregates)
    )


def earnings_of(rows: Sequence[Mapping[str, Any]], periods: int) -> list[Earnings]:
    """`earnings_rows`' row (or none) as one `Earnings` per period."""
    totals: Mapping[str, Any] = rows[0] if rows else {}
    return [
        Earnings(minutes=totals.get(f"m{n}") or 0, amount=totals.get(f"a{n}") or Decimal("0.00"))
        for n in range(periods)
    ]


def earnings_since(
    *, organization: Organization, membership: Membership, starts: Sequence[datetime]
) -> list[Earnings]:
    """`earnings` since each of `starts` (a week's and a month's), in one query over the
    sessions since the earliest: each period's sums are filtered aggregates of the same rows,
    so the page reads them once and plans one statement."""
    rows = list(earnings_rows(organization=organization, membership=membership, starts=starts))
    return earnings_of(rows, len(starts))


def week_and_month_starts(organization: Organization) -> tuple[datetime, datetime]:
    """When the organization's current week (Monday) and month began, in its zone."""
    week, _ = this_week(organization)
    local = timezone.localtime(timezone.now(), organization.tz).replace(
        day=1, hour=0, minute=0, second=0, microsecond=0
    )
    return week, local


def session_history(*, session: Session) -> list[SessionChange]:
    """The session's changes, oldest first, with who made them: one query."""
    return list(SessionChange.objects.filter(session=session).select_related("actor"))


@dataclass(frozen=True)
class SessionActions:
    """What a member may do to a session, as the services decide it: the pages offer exactly
    these buttons, on every page alike."""

    complete: bool = False
    edit: bool = False
    cancel: bool = False
    no_show: bool = False
    reschedule: bool = False
    resolve_dispute: bool = False
    confirm: bool = False
    dispute: bool = False
    check_in: bool = False
    answer_request: bool = False
    cancel_following: bool = False
    cancel_booking: bool = False


def session_actions(session: Session, membership: Membership) -> SessionActions:
    """Reads only the session and its relationship (with its provider and organization,
    loaded by `session_list`): no query per row."""
    relationship = session.relationship
    if membership.is_student:
        return SessionActions(
            confirm=confirmation_offered(session, relationship.organization),
            dispute=dispute_refusal(session, relationship.organization) is None,
            # Visible sessions are the student's own (`visible_to`).
            cancel_booking=cancel_booking_refusal(session) is None,
        )
    now = timezone.now()
    started = session.starts_at <= now
    may_change = (
        change_refusal(session=session, relationship=relationship, membership=membership) is None
    )
    # Logging a scheduled session: paired only, and a provider within the grace window.
    may_log = relationship.status == RelationshipStatus.PAIRED and (
        membership.is_admin
        or now <= session.starts_at + timedelta(hours=relationship.organization.logging_grace_hours)
    )
    live = session.status in (SessionStatus.COMPLETED, SessionStatus.SCHEDULED)
    # A missed session (not logged within the window) is an admin's to log, cancel or mark.
    to_log = session.status == SessionStatus.SCHEDULED or (
        session.status == SessionStatus.MISSED and membership.is_admin
    )
    return SessionActions(
        complete=to_log and started and may_log,
        check_in=to_log and started and may_log,
        edit=may_change and live,
        cancel=may_change and session.status != SessionStatus.CANCELLED,
        no_show=may_change and (live or session.status == SessionStatus.MISSED) and started,
        # A scheduled session of a pairing moves; a completed one's date only an admin corrects.
        reschedule=may_change
        and (
            (
                session.status == SessionStatus.SCHEDULED
                and relationship.status == RelationshipStatus.PAIRED
            )
            or (session.status == SessionStatus.COMPLETED and membership.is_admin)
        ),
        resolve_dispute=membership.is_admin and session.dispute_open,
        # A request (booking awaiting the provider): its provider or an admin answers it.
        answer_request=session.status == SessionStatus.PENDING
        and acts_for(membership, relationship),
        cancel_following=may_change
        and session.series is not None
        and session.status in (SessionStatus.PENDING, SessionStatus.SCHEDULED),
    )


PICK_ROWS = 20


def relationships_to_log(
    *, organization: Organization, membership: Membership, query: str = ""
) -> list[Relationship]:
    """Paired relationships to log or schedule a session of, matching `query` on the student's
    or the provider's name: the first PICK_ROWS + 1 (one more says "search to narrow") by
    student name, provider name and id, never every relationship of the center."""
    return list(
        relationships_to_log_rows(organization=organization, membership=membership, query=query)
    )


def relationships_to_log_rows(
    *, organization: Organization, membership: Membership, query: str = ""
) -> "QuerySet[Relationship]":
    """`relationships_to_log`'s query. Ordering every paired relationship by a joined name
    sorts the whole center however few rows are shown, so the unsearched list is first bounded
    by its students (`_last_student_name_to_log`, one more short query). A search keeps the
    plain order: its matches are found by a scan either way, and walking the students for a
    rare name would probe every one. The page shows no hours, so no sums over allocations."""
    paired = paired_to_log(organization=organization, membership=membership, query=query)
    if not query.strip():
        last_name = _last_student_name_to_log(organization=organization, paired=paired)
        if last_name is not None:
            # The student's organization is the relationship's (a constraint holds it); named
            # here, it lets the planner take those few students from the same index.
            paired = paired.filter(student__organization=organization, student__name__lte=last_name)
    return paired.select_related("student", "provider", "service_type").order_by(
        "student__name", "provider__name", "id"
    )[: PICK_ROWS + 1]


def paired_to_log(
    *, organization: Organization, membership: Membership, query: str = ""
) -> "QuerySet[Relationship]":
    """The member's paired relationships, matching `query` on either name; unordered."""
    paired = Relationship.objects.filter(
        relationship_visible_to(membership),
        organization=organization,
        status=RelationshipStatus.PAIRED,
    )
    if query.strip():
        paired = paired.filter(
            Q(student__name__icontains=query.strip()) | Q(provider__name__icontains=query.strip())
        )
    return paired


def students_to_log(
    *, organization: Organization, paired: "QuerySet[Relationship]"
) -> "QuerySet[Student]":
    """The students with a relationship in `paired`, in name order: walked through the
    students' (organization, name, id) index, each probed for a pairing, so reading the first
    few reads only a few more students than that."""
    return Student.objects.filter(
        Exists(paired.filter(student=OuterRef("pk"))), organization=organization
    ).order_by("name", "id")


def _last_student_name_to_log(
    *, organization: Organization, paired: "QuerySet[Relationship]"
) -> str | None:
    """The name of the (PICK_ROWS + 1)th student with a relationship in `paired`, or None when
    fewer students have one (then there is nothing to bound).

    Each of those students holds at least one row, so the first PICK_ROWS + 1 rows all belong
    to students named up to this one (`<=` keeps the ties in the name). Read as a literal, not
    a subquery, so that the planner sees how few students the rows' query keeps."""
    students = students_to_log(organization=organization, paired=paired)
    return students.values_list("name", flat=True)[PICK_ROWS : PICK_ROWS + 1].first()


WEEK_MAX_SESSIONS: Final = 500


@dataclass(frozen=True, slots=True)
class Person:
    name: str


@dataclass(frozen=True, slots=True)
class Pair:
    student: Person
    provider: Person


@dataclass(frozen=True, slots=True)
class WeekSession:
    """A session of a provider's or a student's own week: what `session_tags.week_session`
    writes, read as values (`WEEK_FIELDS`), not as a session, its relationship and their
    people, four instances of every column a row (docs/performance.md, "The pairing's page
    and the homes' rows")."""

    pk: int
    public_id: uuid.UUID
    starts_at: datetime
    duration_minutes: int
    status: str
    relationship: Pair

    def get_status_display(self) -> str:
        return str(SessionStatus(self.status).label)


@dataclass(frozen=True, slots=True)
class StudentOf:
    student: Person


@dataclass(frozen=True, slots=True)
class HomeSession:
    """A session of the provider home's booking requests or "Coming up": what
    `session_tags.request_row` and `coming_up_row` write, read as values (`HOME_LINE_FIELDS`,
    `home_lines`) rather than as a session, its relationship and its student."""

    pk: int
    public_id: uuid.UUID
    starts_at: datetime
    topic: str
    series: uuid.UUID | None
    relationship: StudentOf


# A `HomeSession`'s values, in its fields' order.
HOME_LINE_FIELDS = (
    "pk",
    "public_id",
    "starts_at",
    "topic",
    "series",
    "relationship__student__name",
)


def home_lines(rows: list[Any]) -> list[HomeSession]:
    """The `HomeSession` of each row of a query's `values_list(*HOME_LINE_FIELDS)`."""
    return [
        HomeSession(pk, public_id, starts_at, topic, series, StudentOf(Person(student)))
        for pk, public_id, starts_at, topic, series, student in rows
    ]


@dataclass(frozen=True)
class WeekDay:
    day: date
    sessions: list[Session] | list[WeekSession]


@dataclass(frozen=True)
class Week:
    days: list[WeekDay]
    # More sessions than a page shows (a whole large center's week): pick a provider.
    more: bool


def _week_of(sessions: SessionQuerySet, start: datetime, end: datetime) -> SessionQuerySet:
    return (
        sessions.filter(starts_at__gte=start, starts_at__lt=end)
        .exclude(status=SessionStatus.CANCELLED)
        .order_by("starts_at", "id")
    )


# What the week shows of each session (`session_tags.week_session`), a `WeekSession`'s fields.
WEEK_FIELDS = (
    "pk",
    "public_id",
    "starts_at",
    "duration_minutes",
    "status",
    "relationship__student__name",
    "relationship__provider__name",
)

# A provider's and a student's own week, compiled once (`matchpal.compiled`), reading only
# WEEK_FIELDS as values: the ORM built the statement, and PostgreSQL planned its five-table
# join, on every request, and each row was five instances of every column (docs/performance.md,
# "The pairing's page and the homes' rows").
_own_week: dict[str, Compiled] = {
    role: Compiled(
        lambda organization, user, start, end, role=role: _week_of(
            _rows_of(organization, user, role), start, end
        ).values_list(*WEEK_FIELDS)[: WEEK_MAX_SESSIONS + 1],
        organization=int,
        user=int,
        start=datetime,
        end=datetime,
    )
    for role in (Role.PROVIDER, Role.STUDENT)
}


def week_days(
    *,
    organization: Organization,
    membership: Membership,
    start: datetime,
    end: datetime,
    provider: Provider | None = None,
) -> Week:
    """The member's sessions from `start` to `end` (a local week), not cancelled, grouped by
    the center's local day; at most `WEEK_MAX_SESSIONS` (one query, through the sessions'
    organization-and-start index, or the provider's relationships for one provider)."""
    rows: list[Session] | list[WeekSession]
    if provider is None and not membership.is_admin:
        rows = [
            WeekSession(pk, public_id, at, minutes, status, Pair(Person(student), Person(by)))
            for pk, public_id, at, minutes, status, student, by in _own_week[membership.role].rows(
                organization=organization.pk, user=membership.user_id, start=start, end=end
            )
        ]
    else:
        sessions: QuerySet[Session] = _week_of(
            session_rows(organization=organization, membership=membership), start, end
        )
        if provider is not None:
            sessions = of_relationships(sessions, provider=provider)
        rows = with_organization(sessions[: WEEK_MAX_SESSIONS + 1], organization)
    tz = organization.tz
    first = timezone.localtime(start, tz).date()
    by_day: dict[date, list[Any]] = {first + timedelta(days=n): [] for n in range(7)}
    for session in rows[:WEEK_MAX_SESSIONS]:
        by_day.setdefault(timezone.localtime(session.starts_at, tz).date(), []).append(session)
    return Week(
        days=[WeekDay(day=day, sessions=items) for day, items in sorted(by_day.items())],
        more=len(rows) > WEEK_MAX_SESSIONS,
    )
