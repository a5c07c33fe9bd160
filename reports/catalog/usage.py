"""The Usage report: where the center's hours went (docs/reports.md, "Usage"). Admins only.

The figures are `reports.usage`'s, each an SQL aggregate over the ledger: hours purchased
against consumed per period, per service type, the utilization of the grants that ended, the
hours outstanding at the range's last day per student (the center's liability), and how fast
each student consumes. Minutes and sessions are never added: each has its tables or columns.
"""

from functools import cached_property
from typing import Any, cast

from django.db.models import QuerySet

from grants.models import Unit
from matchpal.models import Role
from matchpal.quantities import format_minutes, format_quantity
from reports import usage
from reports.charts import bar_chart
from reports.framework import Column, Kind, Report, Scope, Table, period_label, register
from reports.ledger_scope import LedgerFilters, Period

FLOWS = (
    ("purchased", "Purchased"),
    ("adjusted", "Adjusted"),
    ("transferred", "Transferred"),
    ("refunded", "Refunded"),
    ("expired", "Expired unused"),
    ("consumed", "Consumed"),
    ("restored", "Restored"),
    ("net_consumed", "Consumed, net"),
)
UNIT_KIND: dict[str, str] = {Unit.MINUTES: Kind.MINUTES, Unit.SESSIONS: Kind.SESSIONS}
UNIT_WORD: dict[str, str] = {Unit.MINUTES: "Hours", Unit.SESSIONS: "Sessions"}
ENDINGS = {
    usage.ENDED_EXPIRED: "Expired",
    usage.ENDED_REFUNDED: "Refunded in full",
    usage.ENDED_USED_UP: "Used up",
}


def ledger_filters(scope: Scope) -> LedgerFilters:
    return LedgerFilters(
        start=scope.start,
        end=scope.end,
        period=cast(Period, scope.period),
        service_type=scope.service_type,
        provider=scope.provider,
        student=scope.student,
    )


class LedgerReport(Report):
    """What the reports over the ledger (Usage, Financial) share: the scope as the ledger
    queries' filters, and the arguments every one of `reports.usage`'s and
    `reports.financial`'s functions takes."""

    @cached_property
    def ledger(self) -> LedgerFilters:
        return ledger_filters(self.scope)

    def _ask(self) -> dict[str, Any]:
        scope = self.scope
        return {
            "organization": scope.organization,
            "membership": scope.membership,
            "filters": self.ledger,
        }


def utilization_columns(unit: str) -> list[Column]:
    """The utilization table's four columns of one unit (minutes and sessions never add up)."""
    word, kind = UNIT_WORD[unit], UNIT_KIND[unit]
    return [
        Column(f"grants_{unit}", f"Grants ({word.lower()})"),
        Column(f"had_{unit}", f"{word} they had", kind),
        Column(f"used_{unit}", f"{word} used", kind),
        Column(
            f"utilization_{unit}",
            f"Utilization ({word.lower()})",
            Kind.PERCENT,
            ratio=(f"used_{unit}", f"had_{unit}"),
        ),
    ]


@register
class UsageReport(LedgerReport):
    name = "usage"
    title = "Usage"
    summary = (
        "Hours purchased against hours consumed per period and per service type, how much of "
        "the grants that ended was used, the hours outstanding, and when each student runs out."
    )
    template = "reports/report_usage.html"
    content_template = "reports/content/usage.html"
    moment = True  # free to book now, owed now: a day not over closes now (`ledger_scope`)
    roles = frozenset({Role.ADMIN})
    order = 20  # after the Sessions report on the index

    @cached_property
    def flow_totals(self) -> dict[str, dict[str, Any]]:
        """The range's flows per unit: the summary and the two tables' totals, added up from
        the period rows (the periods partition the range: at most a few hundred aggregate rows),
        which saves a second scan of the range's entries, as the Sessions report's summary."""
        totals = {unit: dict.fromkeys((name for name, _ in FLOWS), 0) for unit in Unit.values}
        for (unit, _), row in self.per_period.items():
            for name, _label in FLOWS:
                totals[unit][name] += row[name]
        return totals

    @cached_property
    def outstanding(self) -> dict[str, int]:
        """Minutes and sessions outstanding at the close of the range's last day (one query)."""
        found = {
            row["unit"]: row["outstanding"]
            for row in usage.outstanding_at(**self._ask(), day=self.scope.end)
        }
        return {f"outstanding_{unit}": found.get(unit, 0) for unit in Unit.values}

    def context(self) -> dict[str, Any]:
        return {"flows": self.flow_totals, "outstanding": self.outstanding}

    def tables(self) -> list[Table]:
        return [
            self.flows(Unit.MINUTES),
            self.flows(Unit.SESSIONS),
            self.service_types(),
            self.utilization(),
            self.outstanding_per_student(),
            self.velocity(Unit.MINUTES),
            self.velocity(Unit.SESSIONS),
        ]

    @cached_property
    def per_period(self) -> dict[tuple[str, Any], dict[str, Any]]:
        """Both units' flows per period, in one pass over the range's entries."""
        return {
            (row.pop("unit"), row.pop("period")): row
            for row in usage.purchased_vs_consumed(**self._ask())
        }

    def flows(self, unit: str) -> Table:
        scope = self.scope
        found = {period: row for (of, period), row in self.per_period.items() if of == unit}
        nothing = dict.fromkeys((name for name, _ in FLOWS), 0)
        rows = [
            {**nothing, **found.get(first, {}), "period": period_label(first, scope.period)}
            for first in scope.period_starts()
        ]
        kind = UNIT_KIND[unit]
        columns = [
            Column("period", scope.period.capitalize(), Kind.TEXT),
            *(Column(key, label, kind) for key, label in FLOWS),
        ]
        fmt = format_minutes if unit == Unit.MINUTES else (lambda n: format_quantity(n, unit))
        chart = bar_chart(
            title=f"{UNIT_WORD[unit]} consumed (net) per {scope.period}",
            points=[(row["period"], row["net_consumed"]) for row in rows],
            fmt=fmt,
        )
        what = "hours" if unit == Unit.MINUTES else "sessions (of session packages)"
        return Table(
            f"flows_{unit}",
            f"{UNIT_WORD[unit]} purchased and consumed per {scope.period}",
            columns,
            rows,
            totals=self.flow_totals[unit],
            limit=None,
            chart=chart,
            note=f"Every change to the {what} on the students' accounts, dated when the ledger "
            "recorded it. Consumed, net = consumed − restored (cancellations, shorter edits).",
        )

    def service_types(self) -> Table:
        columns = [
            Column("name", "Service type", Kind.TEXT),
            Column("purchased_minutes", "Hours purchased", Kind.MINUTES),
            Column("consumed_minutes", "Hours consumed, net", Kind.MINUTES),
            Column("purchased_sessions", "Sessions purchased", Kind.SESSIONS),
            Column("consumed_sessions", "Sessions consumed, net", Kind.SESSIONS),
        ]
        return Table(
            "service_types",
            "Usage by service type",
            columns,
            usage.usage_by_service_type(**self._ask()),
            limit=None,
            note="A grant covering several service types counts its purchase under each, so "
            "this table has no total; consumption counts under the pairing's service type.",
        )

    def utilization(self) -> Table:
        rows = usage.grant_utilization(**self._ask())
        # The ways of ending partition the grants that ended: their total is the sum of the
        # (at most three) rows, not a second search for those grants.
        figures = [key for key in rows[0] if key != "ending"] if rows else []
        totals = {key: sum(row[key] for row in rows) for key in figures}
        for row in rows:
            row["ending"] = ENDINGS[row["ending"]]
        columns = [
            Column("ending", "How the grant ended", Kind.TEXT),
            *(column for unit in Unit.values for column in utilization_columns(unit)),
        ]
        return Table(
            "utilization",
            "Utilization of the grants that ended",
            columns,
            rows,
            totals=totals or None,
            limit=None,
            note="Grants that expired, were refunded in full or were used up in the range (and "
            "have not been extended or restored since): what they used of what they had before "
            "refunds.",
        )

    def outstanding_per_student(self) -> Table:
        rows: QuerySet[Any, Any] = usage.outstanding_by_student(**self._ask(), day=self.scope.end)
        columns = [
            Column("student_name", "Student", Kind.TEXT),
            Column("outstanding_minutes", "Hours outstanding", Kind.MINUTES),
            Column("outstanding_sessions", "Sessions outstanding", Kind.SESSIONS),
        ]
        return Table(
            "outstanding",
            f"Outstanding at the close of {self.scope.end:%b} {self.scope.end.day}, "
            f"{self.scope.end.year}",
            columns,
            rows,
            totals=self.outstanding,
            note="Unused hours (free to book and reserved) of the grants valid on that day, from "
            "the ledger up to its end: what the center still owes its students.",
        )

    @cached_property
    def velocity_rows(self) -> list[dict[str, Any]]:
        """Both units' velocity tables, in one pass (the first rows of each unit)."""
        return usage.consumption_velocity(**self._ask())

    def velocity(self, unit: str) -> Table:
        rows = [row for row in self.velocity_rows if row["unit"] == unit]
        for row in rows:
            row["runs_out"] = f"{row['runs_out']:%b} {row['runs_out'].day}, {row['runs_out'].year}"
            if unit == Unit.SESSIONS:
                row["per_week"] = round(row["per_week"], 1)
        kind = UNIT_KIND[unit]
        columns = [
            Column("student_name", "Student", Kind.TEXT),
            Column("consumed", "Consumed, net", kind),
            Column("per_week", "Per week", Kind.AVERAGE if unit == Unit.MINUTES else Kind.COUNT),
            Column("free", "Free to book now", kind),
            Column("days_left", "Days left at that pace"),
            Column("runs_out", "Runs out about", Kind.TEXT),
        ]
        return Table(
            f"velocity_{unit}",
            f"Consumption velocity ({UNIT_WORD[unit].lower()})",
            columns,
            rows,
            limit=None,
            note=f"The {usage.VELOCITY_ROWS} students with hours free to book who run out soonest "
            "at their pace over the range: what they have free today over what they consumed "
            "per day. Those with nothing free are on the home page's low-balance list.",
        )
