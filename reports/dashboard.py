"""The admin home's figures for the whole center (docs/rules.md, "The admin home"): the hours
per service type, sessions this week and this month with their rates, the usage trend, and
the warning signs. Each reads a small summary kept by the writes (`CenterBalance`,
`PairingActivity`, `ShortSession`, and the Sessions report's `SessionHour`) or a bounded range
through an index, so the page costs the same whatever the center's history: five queries,
pinned with the page's.

On SQLite (`make run`) there are no triggers and the summaries stay empty: the hours and the
sessions' figures are computed there from the grants, the ledger's credits and the sessions
instead (`*_from_base`, the same figures; a demo center is small), and the warning signs'
summaries are rewritten from the sessions before they are read (`refresh_signs`)."""

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, NamedTuple

from django.core.paginator import Page
from django.db import DEFAULT_DB_ALIAS, connection
from django.db.models import (
    BooleanField,
    Count,
    Expression,
    F,
    IntegerField,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce, TruncDate
from django.http import HttpRequest
from django.utils import timezone

from grants.models import CenterBalance, EntryKind, Grant, GrantEntry, GrantServiceType, GrantStatus
from matchpal import prebuilt
from matchpal.compiled import available, stand_in
from matchpal.models import Organization
from matchpal.pagination import CompiledByIds
from matchpal.quantities import format_minutes
from relationships.models import Relationship, RelationshipStatus
from reports.charts import BarChart, bar_chart
from reports.models import SessionHour
from sessions_app.models import PairingActivity, Session, SessionStatus, ShortSession
from sessions_app.rollups import rebuild_from_base

TREND_WEEKS = 12
TREND_MONTHS = 12


# Center hours per service type ------------------------------------------------------------


@dataclass(frozen=True)
class ServiceHours:
    service_type: str
    unit: str
    purchased: int
    used: int
    reserved: int
    free: int


def _not_usable_available(organization: Organization) -> dict[tuple[int, str], int]:
    """What the active grants not usable now (not valid yet, or past their expiry before the
    daily job marked them) have free, per service type and unit. Two small queries: the
    grants, through the partial index `grant_active_valid_from` and the index on (status,
    expires_at), then their service types by grant id. (Joined in one query, PostgreSQL
    misjudged the grants as tens of thousands — status and expiry are correlated — and hashed
    every grant's service types: 400 ms on the large center.)"""
    now = timezone.now()
    grants = {
        pk: (unit, off)
        for pk, unit, off in Grant.objects.filter(
            Q(valid_from__gt=now) | Q(expires_at__lte=now),
            organization=organization,
            status=GrantStatus.ACTIVE,
        )
        .order_by()
        .values_list("pk", "unit", F("total") - F("used") - F("held"))
    }
    # Always asked (an id no grant has when there is none), so the page's queries stay fixed.
    covered = GrantServiceType.objects.filter(
        organization=organization, grant_id__in=list(grants) or [0]
    ).values_list("grant_id", "service_type_id")
    off: dict[tuple[int, str], int] = {}
    for grant_id, service_type_id in covered:
        unit, amount = grants[grant_id]
        off[service_type_id, unit] = off.get((service_type_id, unit), 0) + amount
    return off


def center_hours(organization: Organization) -> list[ServiceHours]:
    """Per service type and unit: purchased (the credits), used, reserved and free to book now,
    summed over every grant covering the type (a grant covering two counts under each, as on
    a student's hours page). Three queries: the center's few summary rows, and the few grants
    not usable now with their service types."""
    if not summaries_kept():
        return center_hours_from_base(organization)
    off = _not_usable_available(organization)
    rows = (
        CenterBalance.objects.filter(organization=organization)
        .values_list(
            "service_type_id",
            "service_type__name",
            "unit",
            "purchased",
            "used",
            "held",
            "active_available",
        )
        .order_by("service_type__name", "unit")
    )
    return [
        ServiceHours(name, unit, purchased, used, held, available - off.get((pk, unit), 0))
        for pk, name, unit, purchased, used, held, available in rows
    ]


def summaries_kept() -> bool:
    """Whether the triggers keep the summaries: PostgreSQL only."""
    return connection.vendor == "postgresql"


def center_hours_from_base(organization: Organization) -> list[ServiceHours]:
    """`center_hours` from the grants and their credits rather than `CenterBalance` (SQLite,
    where no trigger keeps it): per service type and unit, the credits, the grants' used and
    held, and the available hours of the grants usable now. Two grouped queries."""
    now = timezone.now()
    usable = Q(grant__status=GrantStatus.ACTIVE, grant__valid_from__lte=now) & (
        Q(grant__expires_at__isnull=True) | Q(grant__expires_at__gt=now)
    )
    purchased = {
        (pk, unit): amount
        for pk, unit, amount in GrantEntry.objects.filter(
            organization=organization, kind=EntryKind.CREDIT
        )
        .order_by()
        .values_list("grant__grantservicetype__service_type_id", "grant__unit")
        .annotate(Sum("total_delta"))
    }
    rows = (
        GrantServiceType.objects.filter(organization=organization)
        .values_list("service_type_id", "service_type__name", "grant__unit")
        .annotate(
            used=Sum("grant__used"),
            held=Sum("grant__held"),
            free=Coalesce(
                Sum(F("grant__total") - F("grant__used") - F("grant__held"), filter=usable), 0
            ),
        )
        .order_by("service_type__name", "grant__unit")
    )
    return [
        ServiceHours(name, unit, purchased.get((pk, unit), 0), used, held, free)
        for pk, name, unit, used, held, free in rows
    ]


# Sessions this week and this month, and the trend -------------------------------------------


@dataclass
class Outcomes:
    """The sessions of a period (by their start on the center's clock, as the Sessions report
    counts them): all of them, per outcome, and the minutes of the completed ones (hours
    delivered)."""

    label: str
    start: date
    sessions: int = 0
    completed: int = 0
    cancelled: int = 0
    no_shows: int = 0
    scheduled: int = 0
    delivered_minutes: int = 0

    @property
    def ended(self) -> int:
        return self.completed + self.cancelled + self.no_shows

    def _rate(self, n: int) -> float | None:
        return 100 * n / self.ended if self.ended else None

    @property
    def completion_rate(self) -> float | None:
        return self._rate(self.completed)

    @property
    def cancellation_rate(self) -> float | None:
        return self._rate(self.cancelled)

    @property
    def no_show_rate(self) -> float | None:
        return self._rate(self.no_shows)


@dataclass(frozen=True)
class Trend:
    name: str  # the chart's element ids
    title: str
    periods: list[Outcomes]
    chart: BarChart


def _months_back(first: date, n: int) -> date:
    month = first.year * 12 + first.month - 1 - n
    return date(month // 12, month % 12 + 1, 1)


def _days(organization: Organization, since: date) -> list[dict[str, Any]]:
    """The sessions of each day since `since` (through the end of this week and month), summed
    from the Sessions report's roll-up per day and hour (`SessionHour`, docs/reports.md
    "Roll-ups"): a year is a few thousand narrow rows through its key, grouped in SQL, one row
    a day back."""
    if not summaries_kept():
        return _days_from_base(organization, since)
    rows = (
        SessionHour.objects.filter(organization=organization, day__gte=since)
        .values("day")
        .annotate(
            n=Sum("sessions"),
            done=Sum("completed"),
            off=Sum("cancelled"),
            absent=Sum("no_shows"),
            ahead=Sum("scheduled"),
            minutes=Sum("delivered_minutes"),
        )
        .order_by()
    )
    return [dict(row) for row in rows]


def _periods(
    days: list[dict[str, Any]], period_of: Callable[[date], date], starts: list[date], label: str
) -> list[Outcomes]:
    """The sessions of each period starting at `starts` (through the last one's end: this week
    or month), added up from `days`; `period_of` gives a day's period start."""
    periods = {start: Outcomes(label=start.strftime(label), start=start) for start in starts}
    for row in days:
        period = periods.get(period_of(row["day"]))
        if period is None:  # sessions planned beyond this week or month, or before the first
            continue
        period.sessions += row["n"]
        period.completed += row["done"]
        period.cancelled += row["off"]
        period.no_shows += row["absent"]
        period.scheduled += row["ahead"]
        period.delivered_minutes += row["minutes"]
    return list(periods.values())


def _week_of(day: date) -> date:
    return day - timedelta(days=day.weekday())


def _month_of(day: date) -> date:
    return day.replace(day=1)


def _days_from_base(organization: Organization, since: date) -> list[dict[str, Any]]:
    """`_days`' rows from the sessions themselves (SQLite, where no trigger keeps
    `SessionHour`): the center's sessions from `since`'s midnight on its clock, per day of
    their start there."""
    tz = organization.tz
    outcome = {
        "done": SessionStatus.COMPLETED,
        "off": SessionStatus.CANCELLED,
        "absent": SessionStatus.NO_SHOW,
        "ahead": SessionStatus.SCHEDULED,
    }
    rows = (
        Session.objects.filter(
            organization=organization, starts_at__gte=datetime.combine(since, time.min, tzinfo=tz)
        )
        .annotate(day=TruncDate("starts_at", tzinfo=tz))
        .values("day")
        .annotate(
            n=Count("pk"),
            **{name: Count("pk", filter=Q(status=value)) for name, value in outcome.items()},
            minutes=Coalesce(Sum("duration_minutes", filter=Q(status=SessionStatus.COMPLETED)), 0),
        )
        .order_by()
    )
    return [dict(row) for row in rows]


def _trend(name: str, title: str, periods: list[Outcomes]) -> Trend:
    chart = bar_chart(
        title=title,
        points=[(p.label, p.delivered_minutes) for p in periods],
        fmt=format_minutes,
    )
    return Trend(name, title, periods, chart)


def current_periods(organization: Organization, now: datetime | None = None) -> tuple[date, date]:
    """The first days of this week (Monday) and this month on the center's clock, at `now`
    (this moment by default): what the week's, the month's and the trends' figures depend on
    the moment through (`reports.home_cache` keeps them under it)."""
    today = timezone.localdate(now or timezone.now(), organization.tz)
    return _week_of(today), _month_of(today)


def session_figures(organization: Organization) -> dict[str, Any]:
    """This week (Monday to Sunday) and this month on the center's clock, and the trend of hours
    delivered: per week over the last `TREND_WEEKS` weeks and per month over the last
    `TREND_MONTHS` months, both ending with the current one. One query."""
    this_week, this_month = current_periods(organization)
    week_starts = [this_week - timedelta(weeks=n) for n in range(TREND_WEEKS - 1, -1, -1)]
    month_starts = [_months_back(this_month, n) for n in range(TREND_MONTHS - 1, -1, -1)]
    # Both trends from one read of the days since the earlier of their first periods.
    days = _days(organization, min(week_starts[0], month_starts[0]))
    weeks = _periods(days, _week_of, week_starts, "%b %-d")
    months = _periods(days, _month_of, month_starts, "%b %Y")
    return {
        "week": weeks[-1],
        "month": months[-1],
        "weekly": _trend("trend-weekly", "Hours delivered per week", weeks),
        "monthly": _trend("trend-monthly", "Hours delivered per month", months),
    }


# Warning signs ----------------------------------------------------------------------------


SIGNS = ("short", "long_gap", "irregular", "idle", "repeated_cancellations")


@dataclass(frozen=True)
class Thresholds:
    """The moments and figures the signs compare with, from the center's settings."""

    now: datetime
    gap_since: datetime  # a pairing with no completed session since then has a long gap
    short_since: datetime  # very short sessions are counted from then on
    cancellations_since: datetime
    short_percent: int
    minimum_minutes: int
    irregular_percent: int
    cancellations: int

    @classmethod
    def of(cls, organization: Organization, now: datetime | None = None) -> "Thresholds":
        now = now or timezone.now()
        return cls(
            now=now,
            gap_since=now - timedelta(days=organization.warning_gap_days),
            short_since=now - timedelta(days=organization.warning_short_session_days),
            cancellations_since=now - timedelta(days=organization.warning_cancellation_days),
            short_percent=organization.warning_short_session_percent,
            minimum_minutes=organization.min_session_minutes,
            irregular_percent=organization.warning_irregular_percent,
            cancellations=organization.warning_cancellations,
        )


def refresh_signs(organization: Organization) -> None:
    """Where no trigger keeps the warning signs' summaries (SQLite, `make run`), rewrite the
    center's `PairingActivity` and `ShortSession` rows from its relationships and sessions
    (`sessions_app.rollups.rebuild_from_base`, the triggers' definitions) before they are read:
    every sign then reads the same rows on both databases. Nothing on PostgreSQL."""
    if not summaries_kept():
        rebuild_from_base(organization)


def _paired(organization: Organization) -> QuerySet[PairingActivity]:
    """The paired relationships' activity rows (`PairingActivity`, the status mirrored)."""
    return PairingActivity.objects.filter(
        organization=organization, status=RelationshipStatus.PAIRED
    )


def short_sessions(organization: Organization, limits: Thresholds) -> QuerySet[Session]:
    """Completed sessions starting in the window that lasted under the center's minimum, or
    under `short_percent` % of their pairing's usual length (the average of its completed
    sessions, this one included): the window's rows of `ShortSession`, kept by the triggers
    with the center's thresholds, through `short_session_starts`."""
    short = ShortSession.objects.filter(
        organization=organization, starts_at__gte=limits.short_since, starts_at__lte=limits.now
    )
    return Session.objects.filter(organization=organization, pk__in=short.values("session"))


def long_gaps(organization: Organization, limits: Thresholds) -> QuerySet[PairingActivity]:
    """Paired relationships that had a completed session, the latest before `gap_since`
    (`pairing_paired_last_order`)."""
    return _paired(organization).filter(completed__gt=0, last_session_at__lt=limits.gap_since)


def irregular(organization: Organization, limits: Thresholds) -> QuerySet[PairingActivity]:
    """Paired relationships still meeting (their latest completed session after `gap_since`:
    not a long gap) whose gaps between their last six completed sessions vary by
    `irregular_percent` % of their mean or more. A gap variation needs four completed
    sessions: `completed > 0` changes no row and makes the sign a range of the completed
    pairings' index in the list's order (`pairing_paired_last_order`, the variation in it)."""
    return _paired(organization).filter(
        completed__gt=0,
        gap_variation__gte=limits.irregular_percent,
        last_session_at__gte=limits.gap_since,
    )


def idle(organization: Organization, limits: Thresholds) -> QuerySet[PairingActivity]:
    """Paired relationships paired before `gap_since` that never had a completed session
    (`pairing_paired_never_met`)."""
    return _paired(organization).filter(completed=0, paired_at__lt=limits.gap_since)


def _cancelling(organization: Organization, limits: Thresholds) -> QuerySet[Any]:
    """The keys of the relationships with at least `cancellations` sessions cancelled among
    those starting in the window: the window's entries of `session_org_cancelled`, which hold
    the relationship, grouped (an index-only scan: `COUNT(*)`, no column of the session)."""
    return (
        Session.objects.filter(
            organization=organization,
            status=SessionStatus.CANCELLED,
            starts_at__gte=limits.cancellations_since,
            starts_at__lte=limits.now,
        )
        .order_by()
        .values("relationship")
        .annotate(n=Count("*"))
        .filter(n__gte=limits.cancellations)
        .values("relationship")
    )


def repeated_cancellations(
    organization: Organization, limits: Thresholds
) -> QuerySet[Relationship]:
    """Relationships with at least `cancellations` sessions cancelled among those starting
    in the window (any status of the pairing, as the sign has always counted)."""
    return Relationship.objects.filter(
        organization=organization, pk__in=_cancelling(organization, limits)
    )


def sign_rows(organization: Organization, sign: str, limits: Thresholds) -> QuerySet[Any]:
    """The rows behind a sign, as counted: sessions for `short`, activity rows for the
    pairings' signs, relationships for repeated cancellations."""
    finder = {
        "short": short_sessions,
        "long_gap": long_gaps,
        "irregular": irregular,
        "idle": idle,
        "repeated_cancellations": repeated_cancellations,
    }[sign]
    return finder(organization, limits)


SIGN_TITLES = {
    "short": "Very short sessions",
    "long_gap": "Pairings with a long gap",
    "irregular": "Pairings meeting irregularly",
    "idle": "Idle pairings",
    "repeated_cancellations": "Pairings with repeated cancellations",
}


@dataclass(frozen=True)
class SignList:
    """A sign's list page as `matchpal.pagination.paginate_by_ids` reads it: `ids`, the keys of
    its rows in the list's order from the sign's summary (`ShortSession`, `PairingActivity`)
    through the index that has that order, and `rows`, what the page shows for them (sessions
    or relationships, joined to their student, provider, service type and activity), in the
    same order."""

    ids: QuerySet[Any]
    rows: QuerySet[Any]


def sign_list(organization: Organization, sign: str, limits: Thresholds) -> SignList:
    """A sign's rows for its list page, in the order that shows the worst first: sessions
    newest first; pairings by their last session, oldest first (never met: by pairing date).
    The same rows as `sign_rows`, read from the summaries alone up to the page's keys: joined
    to what the page shows before being sorted and counted, the large center's lists read and
    sorted every row of the sign (docs/performance.md, "The warning lists")."""
    refresh_signs(organization)
    return _sign_list(organization, sign, limits)


def _sign_list(organization: Organization, sign: str, limits: Thresholds) -> SignList:
    if sign == "short":
        # Newest first: `short_session_starts` read backwards, its keys in its entries.
        ids = (
            ShortSession.objects.filter(
                organization=organization,
                starts_at__gte=limits.short_since,
                starts_at__lte=limits.now,
            )
            .order_by("-starts_at", "-session_id")
            .values_list("session_id", flat=True)
        )
        sessions = Session.objects.filter(organization=organization).select_related(
            "relationship__student",
            "relationship__provider",
            "relationship__service_type",
            "relationship__activity",
        )
        return SignList(ids, sessions.order_by("-starts_at", "-id"))
    order: list[Any] = ["paired_at", "relationship_id"]
    if sign == "repeated_cancellations":
        # Any status of the pairing, as the sign counts; the few pairings found by the
        # grouped cancellations, then their activity rows by key. One never met has no last
        # session: first. The keys are the center's sessions' relationships, so the center's
        # (the composite keys): filtered by the organization again, the generic plan of the
        # prepared statement walked the center's 29,000 activity rows testing each key.
        activity: QuerySet[PairingActivity] = PairingActivity.objects.filter(
            AnyOf("relationship_id", _cancelling(organization, limits))
        )
        order.insert(0, F("last_session_at").asc(nulls_first=True))
    else:
        activity = sign_rows(organization, sign, limits)
        if sign != "idle":
            # Every row met (`completed > 0`), so none lacks a last session: the order is the
            # one `pairing_paired_last_order` holds, read in it up to the page.
            order.insert(0, "last_session_at")
    pairings = activity.order_by(*order).values_list("relationship_id", flat=True)
    relationships = Relationship.objects.filter(organization=organization).select_related(
        "student", "provider", "service_type", "activity"
    )
    return SignList(
        pairings,
        relationships.order_by(
            F("activity__last_session_at").asc(nulls_first=True), "activity__paired_at", "id"
        ),
    )


# The moments and figures of `Thresholds` each sign's list is filtered by (the others are not
# in its statements).
_SIGN_VALUES: dict[str, dict[str, type]] = {
    "short": {"short_since": datetime, "now": datetime},
    "long_gap": {"gap_since": datetime},
    "irregular": {"gap_since": datetime, "irregular_percent": int},
    "idle": {"gap_since": datetime},
    "repeated_cancellations": {
        "cancellations_since": datetime,
        "now": datetime,
        "cancellations": int,
    },
}
_UNUSED = datetime(2000, 1, 1, tzinfo=UTC)


def _compiled_list(sign: str) -> CompiledByIds:
    def build(organization: int, **values: Any) -> tuple[QuerySet[Any], QuerySet[Any]]:
        limits = Thresholds(
            **{
                "now": _UNUSED,
                "gap_since": _UNUSED,
                "short_since": _UNUSED,
                "cancellations_since": _UNUSED,
                "short_percent": 0,
                "minimum_minutes": 0,
                "irregular_percent": 0,
                "cancellations": 0,
                **values,
            }
        )
        listed = _sign_list(stand_in(Organization, organization), sign, limits)
        shown = SHORT_VALUES if sign == "short" else PAIRING_VALUES
        return listed.ids, listed.rows.values_list(*shown)

    return CompiledByIds(build, organization=int, **_SIGN_VALUES[sign])


class ShortRow(NamedTuple):
    """What the very short sessions' list shows of a session (read as values: a page of
    sessions with their relationship, student, provider, service type and activity was 125
    model instances)."""

    pk: int
    public_id: uuid.UUID
    starts_at: datetime
    duration_minutes: int
    student: str
    provider: str
    service_type: str
    completed: int | None
    minutes: int | None

    @property
    def usual_minutes(self) -> int | None:
        """The pairing's usual length, as `PairingActivity.usual_minutes`."""
        return (
            round(self.minutes / self.completed)
            if self.completed and self.minutes is not None
            else None
        )


SHORT_VALUES = (
    "pk",
    "public_id",
    "starts_at",
    "duration_minutes",
    "relationship__student__name",
    "relationship__provider__name",
    "relationship__service_type__name",
    "relationship__activity__completed",
    "relationship__activity__minutes",
)


class PairingRow(NamedTuple):
    """What a pairings' sign list shows of a relationship and its activity."""

    pk: int
    public_id: uuid.UUID
    student: str
    provider: str
    service_type: str
    status: str
    paired_at: datetime | None
    completed: int | None
    last_session_at: datetime | None
    gap_variation: int | None

    @property
    def status_label(self) -> str:
        return str(RelationshipStatus(self.status).label)


PAIRING_VALUES = (
    "pk",
    "public_id",
    "student__name",
    "provider__name",
    "service_type__name",
    "status",
    "paired_at",
    "activity__completed",
    "activity__last_session_at",
    "activity__gap_variation",
)


# Each list's two statements (its capped count and a page of its rows), compiled once: per
# request, binding the center's values (docs/performance.md, "The warning lists compiled").
_SIGN_LISTS = {sign: _compiled_list(sign) for sign in SIGNS}


# Repeated cancellations' count and page in one statement, the cancelling pairings found once
# (PostgreSQL). The compiled pair (`_SIGN_LISTS`) grouped the window's cancelled sessions in
# each of its two statements, about 2 ms each at the large center (3,290 sessions, 2,841
# pairings): here the grouping and the activity rows it names are materialized once, counted
# (up to the cap) and sliced in the list's order, and only the slice is joined to what the page
# shows; one row of nulls carries the count when the slice is empty. The same rows, order and
# count as `sign_list` (tests/reports/test_warning_lists.py compares every page).
_REPEATED_CANCELLATIONS = """
WITH cancelling AS MATERIALIZED (
    SELECT s.relationship_id FROM sessions_app_session s
    WHERE s.organization_id = %s AND s.status = 'cancelled'
      AND s.starts_at >= %s AND s.starts_at <= %s
    GROUP BY s.relationship_id HAVING COUNT(*) >= %s
), listed AS MATERIALIZED (
    SELECT a.relationship_id, a.last_session_at, a.paired_at
    FROM sessions_app_pairingactivity a
    WHERE a.relationship_id = ANY(ARRAY(SELECT relationship_id FROM cancelling))
), page AS (
    SELECT relationship_id FROM listed
    ORDER BY last_session_at ASC NULLS FIRST, paired_at, relationship_id
    OFFSET %s LIMIT %s
)
SELECT counted.n, r.id, r.public_id, st.name, p.name, t.name, r.status, r.paired_at,
       a.completed, a.last_session_at, a.gap_variation
FROM (SELECT COUNT(*) AS n FROM (SELECT 1 FROM listed LIMIT %s) capped) counted
LEFT JOIN (page
    JOIN relationships_relationship r ON r.id = page.relationship_id
    JOIN students_student st ON st.id = r.student_id
    JOIN providers_provider p ON p.id = r.provider_id
    JOIN matchpal_servicetype t ON t.id = r.service_type_id
    JOIN sessions_app_pairingactivity a ON a.relationship_id = r.id) ON true
ORDER BY a.last_session_at ASC NULLS FIRST, a.paired_at, r.id
"""


def _repeated_cancellations_read(
    organization: Organization, limits: Thresholds
) -> Callable[[int, int, int], tuple[int, list[Any]]]:
    def read(offset: int, limit: int, cap: int) -> tuple[int, list[Any]]:
        found = prebuilt.fetch(
            _REPEATED_CANCELLATIONS,
            [
                organization.pk,
                limits.cancellations_since,
                limits.now,
                limits.cancellations,
                offset,
                limit,
                cap,
            ],
        )
        return int(found[0][0]), [row[1:] for row in found if row[1] is not None]

    return read


def sign_page(
    request: HttpRequest, organization: Organization, sign: str, limits: Thresholds
) -> Page[Any]:
    """The page of `sign_list(organization, sign, limits)` the request asks for
    (`?page=`), as `paginate_by_ids` gives it, from the compiled statements (repeated
    cancellations: one statement of its own, `_REPEATED_CANCELLATIONS`): its rows as
    `ShortRow`s or `PairingRow`s."""
    refresh_signs(organization)
    values = {name: getattr(limits, name) for name in _SIGN_VALUES[sign]}
    together_read = (
        _repeated_cancellations_read(organization, limits)
        if sign == "repeated_cancellations" and available(DEFAULT_DB_ALIAS)
        else None
    )
    page = _SIGN_LISTS[sign].paginate(
        request, organization=organization.pk, together_read=together_read, **values
    )
    row: type[ShortRow | PairingRow] = ShortRow if sign == "short" else PairingRow
    page.object_list = [row(*values) for values in page.object_list]
    return page


class AnyOf(Expression):
    """`column = ANY(ARRAY(subquery))` on PostgreSQL: the subquery runs once, first, and the
    rows are found by their keys in its result (an index lookup each). Written `column IN
    (subquery)`, the planner may join the subquery's few rows to every row of the table by
    hashing (its estimate of a grouped subquery's rows is a guess). `IN` elsewhere."""

    output_field = BooleanField()
    conditional = True

    def __init__(self, column: str, values: QuerySet[Any]) -> None:
        super().__init__()
        self.column: Any = F(column)
        self.values: Any = Subquery(values)

    def get_source_expressions(self) -> list[Any]:
        return [self.column, self.values]

    def set_source_expressions(self, exprs: Sequence[Any]) -> None:
        self.column, self.values = exprs

    def as_sql(self, compiler: Any, connection: Any) -> Any:
        column, column_params = compiler.compile(self.column)
        values, values_params = compiler.compile(self.values)
        return f"{column} IN {values}", (*column_params, *values_params)

    def as_postgresql(self, compiler: Any, connection: Any) -> Any:
        column, column_params = compiler.compile(self.column)
        values, values_params = compiler.compile(self.values)
        return f"{column} = ANY(ARRAY{values})", (*column_params, *values_params)


def _count(rows: QuerySet[Any]) -> Coalesce:
    grouped = rows.order_by().values("organization").annotate(n=Count("pk")).values("n")
    return Coalesce(Subquery(grouped, output_field=IntegerField()), Value(0))


def warning_counts(organization: Organization, limits: Thresholds) -> dict[str, int]:
    """Every sign's count in one query, each its own subquery."""
    refresh_signs(organization)
    figures = {sign: _count(sign_rows(organization, sign, limits)) for sign in SIGNS}
    counts = Organization.objects.filter(pk=organization.pk).order_by().values(**figures)
    row: dict[str, Any] = dict(counts.get())
    return {sign: int(row[sign]) for sign in SIGNS}


def center_dashboard(organization: Organization) -> dict[str, Any]:
    limits = Thresholds.of(organization)
    return {
        "center_hours": center_hours(organization),
        **session_figures(organization),
        "warnings": warning_counts(organization, limits),
        "limits": limits,
    }
