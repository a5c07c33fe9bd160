"""The Sessions report: what happened to the sessions of a range (docs/reports.md, "Sessions").

Every figure is one of `METRICS`, an SQL aggregate over the scope's sessions, and every table
is the same aggregates grouped by its key (one query each). The summary is the sum of the
period rows (the periods partition the range, and counts and sums add up exactly), which saves
reading the range's sessions once more; a table's totals are the summary's figures.

- "Hours delivered" are the durations of completed sessions.
- "Consumed" is what the ledger charged (`charged_minutes`, net of restores): minutes for
  relationships counted in minutes, whole sessions for those counted in sessions. The two are
  never added: a sessions-unit grant's session is not a number of minutes.
- Rates are over the sessions that ended (completed, cancelled or no-show), never over
  scheduled ones, which have not happened yet.

An admin's report of the whole center (or of one service type) reads the same figures from the
roll-ups PostgreSQL keeps per day (`reports.models`, docs/reports.md, "Roll-ups"): the periods,
the summary and the heat map from the hours of the center, the grouped tables from each
relationship's months and days. A provider or student filter, a provider's or a student's own
report and SQLite read the sessions: a person's sessions are few and found through their
relationships.
"""

from datetime import date
from functools import cached_property
from typing import Any

from django.db.models import Count, DateField, F, IntegerField, Q, QuerySet, Sum
from django.db.models.functions import Coalesce, ExtractHour, ExtractIsoWeekDay, Trunc

from matchpal.quantities import format_minutes
from relationships.models import Unit
from reports import rollups
from reports.charts import WEEKDAYS, bar_chart, heat_map
from reports.framework import (
    Column,
    Kind,
    Report,
    Table,
    period_label,
    register,
)
from reports.models import FIGURES, RELATIONSHIP_GRAINS, RelationshipPeriod, SessionHour
from sessions_app.models import NoShowParty, SessionStatus

COMPLETED = Q(status=SessionStatus.COMPLETED)
CHARGED = ~Q(status=SessionStatus.SCHEDULED)


def _count(condition: Q | None = None) -> Count:
    return Count("pk", filter=condition)


def _sum(field: str, condition: Q) -> Coalesce:
    return Coalesce(Sum(field, filter=condition), 0, output_field=IntegerField())


# One home per figure: the summary, every table and the CSV export aggregate these.
METRICS: dict[str, Any] = {
    "sessions": _count(),
    "scheduled": _count(Q(status=SessionStatus.SCHEDULED)),
    "completed": _count(COMPLETED),
    "cancelled": _count(Q(status=SessionStatus.CANCELLED)),
    "late_charged": _count(Q(status=SessionStatus.CANCELLED, charged_minutes__gt=0)),
    "no_shows": _count(Q(status=SessionStatus.NO_SHOW)),
    "student_no_shows": _count(Q(status=SessionStatus.NO_SHOW, no_show_party=NoShowParty.STUDENT)),
    "ended": _count(CHARGED),
    "delivered_minutes": _sum("duration_minutes", COMPLETED),
    "consumed_minutes": _sum("charged_minutes", CHARGED & Q(relationship__unit=Unit.MINUTES)),
    "consumed_sessions": _sum("charged_minutes", CHARGED & Q(relationship__unit=Unit.SESSIONS)),
}


# The same figures summed over roll-up rows, which hold each of them per day (`reports.models`).
ROLLED_UP: dict[str, Any] = {
    name: Coalesce(Sum(name), 0, output_field=IntegerField()) for name in FIGURES
}
assert ROLLED_UP.keys() == METRICS.keys(), "every figure has its roll-up column"


def metrics(*names: str, rolled_up: bool = False) -> dict[str, Any]:
    source = ROLLED_UP if rolled_up else METRICS
    return {name: source[name] for name in names}


def metrics_of(columns: list[Column], *, rolled_up: bool = False) -> dict[str, Any]:
    """The `METRICS` a table's columns show: each figure column's own, and a rate's or an
    average's two (a column's key that is no metric, as a name, is the table's group)."""
    names: dict[str, None] = {}
    for column in columns:
        for key in column.ratio or (column.key,):
            if key in METRICS:
                names[key] = None
    return metrics(*names, rolled_up=rolled_up)


SESSIONS = Column("sessions", "Sessions")
COMPLETED_COLUMN = Column("completed", "Completed")
CANCELLED = Column("cancelled", "Cancelled")
NO_SHOWS = Column("no_shows", "No-shows")
DELIVERED = Column("delivered_minutes", "Hours delivered", Kind.MINUTES)
AVERAGE = Column(
    "average_minutes", "Average duration", Kind.AVERAGE, ratio=("delivered_minutes", "completed")
)
CONSUMED_MINUTES = Column("consumed_minutes", "Hours consumed", Kind.MINUTES)
CONSUMED_SESSIONS = Column("consumed_sessions", "Sessions consumed", Kind.SESSIONS)
ENDED = Column("ended", "Ended")
COMPLETION = Column("completion", "Completion rate", Kind.PERCENT, ratio=("completed", "ended"))
STUDENT_NO_SHOWS = Column("student_no_shows", "No-shows by the student")
NO_SHOW_RATE = Column(
    "no_show_rate", "No-show rate", Kind.PERCENT, ratio=("student_no_shows", "ended")
)


def _short_label(label: str) -> str:
    """A period label under its bar: without the year and the weekday."""
    label = label.removeprefix("Week of ")
    parts = label.replace(",", "").split()
    if len(parts) == 2:  # "October 2026"
        return parts[0][:3]
    return " ".join(parts[-3:-1]) if len(parts) >= 3 else label


@register
class SessionsReport(Report):
    name = "sessions"
    title = "Sessions"
    summary = (
        "Sessions and hours per period, per provider, per student and per pairing; completion, "
        "cancellation and no-show rates; popular days and times."
    )
    template = "reports/report_sessions.html"
    content_template = "reports/content/sessions.html"

    @cached_property
    def rolled_up(self) -> bool:
        """Are the figures read from the roll-ups? An admin's report of the whole center or of
        a service type, on PostgreSQL; the sessions themselves otherwise."""
        scope = self.scope
        return (
            rollups.available()
            and scope.membership.is_admin
            and scope.provider is None
            and scope.student is None
        )

    def hours(self) -> QuerySet[SessionHour]:
        """The center's roll-up hours of the range's days (the center's), narrowed by the
        service type."""
        scope = self.scope
        rows = SessionHour.objects.filter(
            organization=scope.organization, day__gte=scope.start, day__lte=scope.end
        )
        if scope.service_type is not None:
            rows = rows.filter(service_type=scope.service_type)
        return rows.order_by()

    def relationship_periods(self) -> QuerySet[RelationshipPeriod]:
        """The relationships' roll-up rows that make up the range, each day once: whole years
        and quarters, whole months, then days (`reports.rollups.cover`)."""
        scope = self.scope
        rows = RelationshipPeriod.objects.filter(
            rollups.cover(scope.start, scope.end, RELATIONSHIP_GRAINS),
            organization=scope.organization,
        )
        if scope.service_type is not None:
            rows = rows.filter(of_service_type=scope.service_type)
        return rows.order_by()

    @cached_property
    def by_period(self) -> dict[date, Any]:
        """`METRICS` per period that has sessions, by the period's first day (one query)."""
        scope = self.scope
        rows: QuerySet[Any, Any]
        if self.rolled_up:
            first_day = Trunc("day", scope.period, output_field=DateField())
            rows = self.hours().annotate(first_day=first_day).values("first_day")
            rows = rows.annotate(**ROLLED_UP)
        else:
            first_day = Trunc("starts_at", scope.period, output_field=DateField(), tzinfo=scope.tz)
            rows = scope.sessions().annotate(first_day=first_day).values("first_day")
            rows = rows.annotate(**METRICS)
        return {row["first_day"]: row for row in rows.order_by()}

    @cached_property
    def figures(self) -> dict[str, Any]:
        """`METRICS` over the whole scope: the summary and every table's totals, added up from
        the periods (a handful of rows, no query of their own)."""
        totals = dict.fromkeys(METRICS, 0)
        for row in self.by_period.values():
            for name in METRICS:
                totals[name] += row[name]
        return totals

    def context(self) -> dict[str, Any]:
        return {"figures": self.figures, "average": AVERAGE}

    def tables(self) -> list[Table]:
        membership = self.scope.membership
        figures = self.figures
        tables = [self.periods(figures), self.outcomes(figures)]
        if membership.is_admin:
            tables.append(self.providers(figures))
        if membership.is_admin or membership.is_provider:
            tables.append(self.students(figures))
        tables.append(self.relationships(figures))
        if membership.is_admin or membership.is_provider:
            tables.append(self.no_shows())
        tables.append(self.heat())
        return tables

    # --- The tables ------------------------------------------------------------------------------

    def periods(self, figures: dict[str, Any]) -> Table:
        scope = self.scope
        found = self.by_period
        empty = dict.fromkeys(METRICS, 0)
        rows: list[dict[str, Any]] = [
            {
                **empty,
                **found.get(first, {}),
                "period": period_label(first, scope.period),
                "first_day": first,
            }
            for first in scope.period_starts()
        ]
        columns = [
            Column("period", scope.period.capitalize(), Kind.TEXT),
            SESSIONS,
            COMPLETED_COLUMN,
            CANCELLED,
            NO_SHOWS,
            DELIVERED,
            CONSUMED_MINUTES,
            CONSUMED_SESSIONS,
        ]
        chart = bar_chart(
            title=f"Hours delivered per {scope.period}",
            points=[(row["period"], row["delivered_minutes"]) for row in rows],
            fmt=format_minutes,
            short=_short_label,
        )
        return Table(
            "periods",
            f"Sessions per {scope.period}",
            columns,
            rows,
            totals=figures,
            limit=None,
            chart=chart,
        )

    def outcomes(self, figures: dict[str, Any]) -> Table:
        rows = [
            {"outcome": "Completed", "sessions": figures["completed"]},
            {"outcome": "Cancelled", "sessions": figures["cancelled"]},
            {
                "outcome": "of which charged (late cancellations)",
                "sessions": figures["late_charged"],
            },
            {"outcome": "No-show", "sessions": figures["no_shows"]},
            {"outcome": "of which by the student", "sessions": figures["student_no_shows"]},
            {"outcome": "Scheduled (not yet held)", "sessions": figures["scheduled"]},
        ]
        for row in rows:
            row["ended"] = figures["ended"]
        rows[-1]["ended"] = 0  # scheduled sessions have no rate: they have not ended
        columns = [
            Column("outcome", "Outcome", Kind.TEXT),
            SESSIONS,
            Column("share", "Share of ended sessions", Kind.PERCENT, ratio=("sessions", "ended")),
        ]
        chart = bar_chart(
            title="Outcomes of the sessions that ended",
            points=[
                ("Completed", figures["completed"]),
                ("Cancelled", figures["cancelled"]),
                ("No-show", figures["no_shows"]),
            ],
            fmt=lambda n: f"{n} sessions",
        )
        return Table(
            "outcomes",
            "Completion, cancellation and no-shows",
            columns,
            rows,
            totals=None,
            limit=None,
            chart=chart,
        )

    def grouped(self, columns: list[Column], *order: Any, **group: str) -> QuerySet[Any, Any]:
        """The scope's sessions grouped by `group` (names of the relationship's fields: its
        `public_id`, `provider__name`…), with the `METRICS` the columns show, in `order` (one
        query: every per-provider, per-student and per-pairing table). A roll-up row is there
        only while a session counts in it, so its groups are the sessions' groups; it has the
        relationship's provider, student and service type itself."""
        figures = metrics_of(columns, rolled_up=self.rolled_up)
        if self.rolled_up:
            own = ("provider__", "student__", "service_type__")
            rows: QuerySet[Any, Any] = self.relationship_periods().values(
                **{
                    name: F(f"of_{path}" if path.startswith(own) else f"relationship__{path}")
                    for name, path in group.items()
                }
            )
        else:
            rows = self.scope.sessions().values(
                **{name: F(f"relationship__{path}") for name, path in group.items()}
            )
        grouped: QuerySet[Any, Any] = rows.annotate(**figures).order_by(*order)
        return grouped

    def providers(self, figures: dict[str, Any]) -> Table:
        columns = [
            Column("provider", "Provider", Kind.TEXT),
            SESSIONS,
            COMPLETED_COLUMN,
            DELIVERED,
            AVERAGE,
            CANCELLED,
            NO_SHOWS,
            COMPLETION,
        ]
        rows = self.grouped(
            columns,
            F("delivered_minutes").desc(),
            "provider",
            "provider_id",
            provider="provider__name",
            provider_id="provider__public_id",
        )
        return Table("providers", "Hours delivered per provider", columns, rows, totals=figures)

    def students(self, figures: dict[str, Any]) -> Table:
        columns = [
            Column("student", "Student", Kind.TEXT),
            SESSIONS,
            COMPLETED_COLUMN,
            CONSUMED_MINUTES,
            CONSUMED_SESSIONS,
            DELIVERED,
            STUDENT_NO_SHOWS,
        ]
        rows = self.grouped(
            columns,
            F("consumed_minutes").desc(),
            F("consumed_sessions").desc(),
            "student",
            "student_id",
            student="student__name",
            student_id="student__public_id",
        )
        return Table("students", "Hours consumed per student", columns, rows, totals=figures)

    def relationships(self, figures: dict[str, Any]) -> Table:
        columns = [
            Column("student", "Student", Kind.TEXT),
            Column("provider", "Provider", Kind.TEXT),
            Column("service", "Service", Kind.TEXT),
            SESSIONS,
            COMPLETED_COLUMN,
            DELIVERED,
            AVERAGE,
            CANCELLED,
            NO_SHOWS,
        ]
        rows = self.grouped(
            columns,
            F("sessions").desc(),
            "student",
            "provider",
            "pairing",
            pairing="public_id",
            student="student__name",
            provider="provider__name",
            service="service_type__name",
        )
        return Table("relationships", "Sessions per relationship", columns, rows, totals=figures)

    def no_shows(self) -> Table:
        columns = [
            Column("student", "Student", Kind.TEXT),
            ENDED,
            STUDENT_NO_SHOWS,
            NO_SHOW_RATE,
        ]
        rows = self.grouped(
            columns,
            F("student_no_shows").desc(),
            "student",
            "student_id",
            student="student__name",
            student_id="student__public_id",
        ).filter(Q(student_no_shows__gt=0))
        return Table(
            "no_shows",
            "No-shows per student",
            columns,
            rows,
            note="Students who missed at least one session in the range, most first.",
        )

    def heat(self) -> Table:
        tz = self.scope.tz
        found: QuerySet[Any, Any]
        if self.rolled_up:
            found = (
                self.hours()
                .values("hour", weekday=ExtractIsoWeekDay("day"))
                .annotate(completed=Sum("completed"))
                .filter(completed__gt=0)  # an hour of only scheduled or cancelled sessions
                .order_by("weekday", "hour")
            )
        else:
            found = (
                self.scope.sessions()
                .filter(COMPLETED)
                .annotate(
                    weekday=ExtractIsoWeekDay("starts_at", tzinfo=tz),
                    hour=ExtractHour("starts_at", tzinfo=tz),
                )
                .values("weekday", "hour")
                .annotate(completed=Count("pk"))
                .order_by("weekday", "hour")
            )
        counts = {(int(row["weekday"]), int(row["hour"])): row["completed"] for row in found}
        hours = sorted({hour for _, hour in counts})
        rows = []
        for day, name in enumerate(WEEKDAYS, start=1):
            row: dict[str, Any] = {"weekday": name}
            for hour in hours:
                row[f"h{hour:02d}"] = counts.get((day, hour), 0)
            row["completed"] = sum(counts.get((day, hour), 0) for hour in hours)
            rows.append(row)
        columns = [
            Column("weekday", "Day", Kind.TEXT),
            *(Column(f"h{hour:02d}", f"{hour:02d}:00") for hour in hours),
            Column("completed", "All hours"),
        ]
        chart = heat_map(
            title="Completed sessions by weekday and starting hour",
            counts=counts,
            noun="sessions",
        )
        return Table(
            "popular_times",
            "Popular days and times",
            columns,
            rows,
            limit=None,
            chart=chart,
            note="Completed sessions by the weekday and hour they started, in the center's time.",
        )
