"""The reports framework: what every report at `/o/<slug>/reports/<name>/` shares.

A report is a subclass of `Report` in its own module (`reports/catalog/<name>.py`), registered
with `@register`, with one template (`templates/reports/report_<name>.html`). It receives a
`Scope` (the organization, the member, the date range in the center's time zone, the period
grouping and the chosen filters) and answers `tables()`: named `Table`s, each a query of
aggregate rows and the columns to show of them. The page shows the first `PAGE_ROWS` rows of each
table with its totals; the CSV export (`reports/exports.py`) streams every row of the same
queries. Nothing here sums or counts in Python: every figure is an SQL aggregate, and the number
of queries of a page is the number of its tables, whatever the data (docs/reports.md).
"""

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import cached_property
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

from django.db.models import QuerySet
from django.http import Http404

from matchpal.models import Membership, Organization, Role, ServiceType
from providers.models import Provider
from sessions_app.models import Session
from sessions_app.selectors import of_relationships, visible_to
from students.models import Student

# Rows of a grouped table shown on the page; the CSV export has every row.
PAGE_ROWS = 25
# Rows fetched per round trip when an export streams a table.
CHUNK_ROWS = 2000


class Period:
    DAY = "day"
    WEEK = "week"
    MONTH = "month"
    CHOICES = ((DAY, "Day"), (WEEK, "Week"), (MONTH, "Month"))


# --- The scope: who asks, for which days, narrowed by which filters ------------------------------


@dataclass(frozen=True)
class Scope:
    """What a report is asked for: `start` and `end` are the first and last days of the range
    (both included), in the organization's time zone."""

    organization: Organization
    membership: Membership
    start: date
    end: date
    period: str = Period.DAY
    service_type: ServiceType | None = None
    provider: Provider | None = None
    student: Student | None = None

    @property
    def tz(self) -> ZoneInfo:
        return self.organization.tz

    @property
    def starts(self) -> datetime:
        """The range's first instant: midnight of `start` in the center's time zone."""
        return datetime.combine(self.start, time(), tzinfo=self.tz)

    @property
    def ends(self) -> datetime:
        """The instant after the range: midnight after `end` in the center's time zone."""
        return datetime.combine(self.end + timedelta(days=1), time(), tzinfo=self.tz)

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def sessions(self) -> QuerySet[Session]:
        """The sessions the member may see that start in the range, narrowed by the filters.

        As a range of `starts_at` (the center's midnights), so the index on the organization
        and the start serves it (docs/indexes.md); the student and provider filters go through
        the person's relationships first (`of_relationships`)."""
        rows: QuerySet[Session] = Session.objects.filter(
            visible_to(self.membership),
            organization=self.organization,
            starts_at__gte=self.starts,
            starts_at__lt=self.ends,
        )
        if self.service_type is not None:
            rows = rows.filter(relationship__service_type=self.service_type)
        people = {
            name: value
            for name, value in (("provider", self.provider), ("student", self.student))
            if value is not None
        }
        if people:
            rows = of_relationships(rows, **people)
        return rows.order_by()

    def period_starts(self) -> list[date]:
        """The first day of every period the range touches, in order (the first and last may be
        partly outside the range). Bounded by the form, which refuses days over more than a
        year."""
        first = period_start(self.start, self.period)
        starts = []
        while first <= self.end:
            starts.append(first)
            first = next_period(first, self.period)
        return starts


def period_start(day: date, period: str) -> date:
    if period == Period.WEEK:
        return day - timedelta(days=day.weekday())  # ISO weeks start on Monday
    if period == Period.MONTH:
        return day.replace(day=1)
    return day


def next_period(first: date, period: str) -> date:
    if period == Period.WEEK:
        return first + timedelta(days=7)
    if period == Period.MONTH:
        return (first.replace(day=28) + timedelta(days=4)).replace(day=1)
    return first + timedelta(days=1)


def period_label(first: date, period: str) -> str:
    if period == Period.WEEK:
        return f"Week of {first:%b} {first.day}, {first.year}"
    if period == Period.MONTH:
        return f"{first:%B %Y}"
    return f"{first:%a %b} {first.day}, {first.year}"


# --- Tables: aggregate rows and their columns -----------------------------------------------------


class Kind:
    """How a column's value reads on the page (and in the CSV, see `reports/exports.py`)."""

    TEXT = "text"
    COUNT = "count"
    MINUTES = "minutes"  # integer minutes: "4 h 30 min" on the page, minutes in the CSV
    SESSIONS = "sessions"  # whole sessions of a sessions-unit grant
    PERCENT = "percent"  # `ratio` of two other keys of the row
    AVERAGE = "average"  # `ratio` of two keys, in minutes (a total over a count)
    MONEY = "money"  # a Decimal amount in the center's currency, to the cent


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    kind: str = Kind.COUNT
    # For PERCENT and AVERAGE: the keys of the numerator and the denominator in the row.
    ratio: tuple[str, str] | None = None

    def value(self, row: Mapping[str, Any]) -> Any:
        """The column's value in `row`: the stored figure, or the ratio (None over zero)."""
        if self.ratio is None:
            return row.get(self.key)
        numerator, denominator = (row.get(key) or 0 for key in self.ratio)
        if not denominator:
            return None
        if self.kind == Kind.PERCENT:
            return 100 * numerator / denominator
        return numerator / denominator

    @property
    def numeric(self) -> bool:
        return self.kind != Kind.TEXT


@dataclass
class Table:
    """A report's table: `rows` (a query of dicts, or a list already built from one), the
    columns shown of them, and `totals` (the same figures over the whole scope, one row; None
    when a total would not mean anything)."""

    name: str
    title: str
    columns: list[Column]
    rows: QuerySet[Any, Any] | list[dict[str, Any]]
    totals: Mapping[str, Any] | None = None
    # Rows shown on the page; None: all of them (a table bounded by construction, e.g. periods).
    limit: int | None = PAGE_ROWS
    note: str = ""
    chart: Any = None  # a chart of `reports.charts` drawn beside the table

    @cached_property
    def _page(self) -> list[dict[str, Any]]:
        rows = self.rows
        if self.limit is None:
            return list(rows)
        return list(rows[: self.limit + 1])

    @property
    def shown(self) -> list[dict[str, Any]]:
        """The rows on the page (one query, evaluated once)."""
        return self._page[: self.limit] if self.limit is not None else self._page

    @property
    def more(self) -> bool:
        """More rows than the page shows: the CSV export has them all."""
        return self.limit is not None and len(self._page) > self.limit

    def stream(self) -> Iterator[Mapping[str, Any]]:
        """Every row, from a server-side cursor `CHUNK_ROWS` at a time (memory stays flat)."""
        if isinstance(self.rows, QuerySet):
            return self.rows.iterator(chunk_size=CHUNK_ROWS)
        return iter(self.rows)


# --- Reports and their registry ------------------------------------------------------------------


class Report:
    """One report. Subclasses set the class attributes and implement `tables()` (and
    `context()` for anything else their template shows)."""

    name: ClassVar[str]  # the URL segment: /o/<slug>/reports/<name>/
    title: ClassVar[str]
    summary: ClassVar[str]  # one sentence on the index
    template: ClassVar[str]  # the page: the form, the export links (`reports/report_base.html`)
    # The content under the form: the summary and the tables (`reports/report_content.html`),
    # rendered once per key and kept in the cache (`reports.report_cache`).
    content_template: ClassVar[str]
    # Does the content depend on the moment, not only on the data and the center's date (what
    # is free to book now, what is owed now)? Only through the grants usable now, which is all
    # `reports.report_cache` allows for: it is kept until one of the center's grants becomes
    # valid or expires.
    moment: ClassVar[bool] = False
    roles: ClassVar[frozenset[str]] = frozenset(Role.values)
    # Which filters the form offers (each also limited by role, see `reports/forms.py`).
    filters: ClassVar[frozenset[str]] = frozenset({"service_type", "provider", "student"})
    # Does the report group by period (the form offers day/week/month)?
    periodic: ClassVar[bool] = True
    # Where the index lists it: lower first, then in registration order (the catalog's modules
    # are imported in the file system's order, which is no order at all).
    order: ClassVar[int] = 0
    # Templates get the class itself (its title, name): they must not call it.
    do_not_call_in_templates: ClassVar[bool] = True

    def __init__(self, scope: Scope) -> None:
        self.scope = scope

    def tables(self) -> list[Table]:
        raise NotImplementedError

    def context(self) -> dict[str, Any]:
        """What the template shows besides the tables."""
        return {}


REPORTS: dict[str, type[Report]] = {}


def register(report: type[Report]) -> type[Report]:
    if report.name in REPORTS:
        raise ValueError(f"Two reports are named {report.name!r}.")
    REPORTS[report.name] = report
    return report


def reports_for(membership: Membership) -> list[type[Report]]:
    """The reports the member's role may open, by `order`, then in registration order."""
    mine = [report for report in REPORTS.values() if membership.role in report.roles]
    return sorted(mine, key=lambda report: report.order)


def report_named(name: str) -> type[Report]:
    try:
        return REPORTS[name]
    except KeyError:
        raise Http404("No such report.") from None


def tables_by_name(tables: Iterable[Table]) -> dict[str, Table]:
    return {table.name: table for table in tables}
