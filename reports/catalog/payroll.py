"""The Payroll report: provider earnings and client amounts per period (docs/reports.md,
"Payroll"). The figures are `reports.payroll`'s, SQL aggregates over each session's money."""

from decimal import Decimal
from functools import cached_property
from typing import Any

from django.db.models import DateField, F
from django.db.models.functions import Trunc

from matchpal.models import Role
from reports import payroll
from reports.charts import bar_chart
from reports.framework import Column, Kind, Report, Table, period_label, register
from sessions_app.models import sql_amount

AMOUNT = Kind.MONEY

PROVIDER = Column("provider", "Provider", Kind.TEXT)
SESSIONS = Column("sessions", "Sessions")
COMPLETED = Column("completed", "Completed")
LATE = Column("late_cancelled", "Late cancelled")
STUDENT_NO_SHOWS = Column("student_no_shows", "Student no-shows")
PROVIDER_NO_SHOWS = Column("provider_no_shows", "Provider no-shows")
CHARGED = Column("minutes_charged", "Hours charged", Kind.MINUTES)
PAID = Column("minutes_paid", "Hours paid", Kind.MINUTES)
EARNINGS = Column("earnings", "Earnings", AMOUNT)
PENDING = Column("pending_sessions", "Pending sessions")
PENDING_MINUTES = Column("minutes_pending", "Hours pending", Kind.MINUTES)
PENDING_EARNINGS = Column("pending_earnings", "Earnings pending", AMOUNT)
CLIENT = Column("client_total", "Client amount", AMOUNT)


def _short(label: str) -> str:
    return label.removeprefix("Week of ").rsplit(",", 1)[0]


@register
class PayrollReport(Report):
    name = "payroll"
    title = "Payroll"
    summary = (
        "Provider earnings and client amounts per period, following what was charged, the "
        "rates of each session and the confirmation rule."
    )
    template = "reports/report_payroll.html"
    content_template = "reports/content/payroll.html"
    roles = frozenset({Role.ADMIN, Role.PROVIDER})

    @cached_property
    def totals(self) -> dict[str, Any]:
        """The figures over the whole scope: the summary and every table's totals (one query)."""
        return payroll.payroll_totals(self.scope)

    @property
    def requires_confirmation(self) -> bool:
        return self.scope.organization.require_student_confirmation

    @property
    def shows_client_amount(self) -> bool:
        return payroll.shows_client_amount(self.scope)

    def context(self) -> dict[str, Any]:
        return {
            "figures": self.totals,
            "requires_confirmation": self.requires_confirmation,
            "shows_client_amount": self.shows_client_amount,
        }

    def _money_columns(self) -> list[Column]:
        columns = [CHARGED, PAID, EARNINGS]
        if self.requires_confirmation:
            columns += [PENDING, PENDING_MINUTES, PENDING_EARNINGS]
        if self.shows_client_amount:
            columns.append(CLIENT)
        return columns

    def tables(self) -> list[Table]:
        tables = [self.providers(), self.periods()]
        if self.scope.membership.is_admin:
            tables.append(self.provider_periods())
        if self.requires_confirmation:
            tables.append(self.pending())
        return tables

    def providers(self) -> Table:
        rows = payroll.payroll_by_provider(self.scope)
        columns = [
            PROVIDER,
            SESSIONS,
            COMPLETED,
            LATE,
            STUDENT_NO_SHOWS,
            PROVIDER_NO_SHOWS,
            *self._money_columns(),
        ]
        return Table("providers", "Per provider", columns, rows, totals=self.totals)

    def periods(self) -> Table:
        scope = self.scope
        found = {row["period_start"]: row for row in payroll.payroll_by_period(scope)}
        # A period without sessions: every figure zero, amounts to the cent.
        empty = {
            key: payroll.ZERO if isinstance(value, Decimal) else 0
            for key, value in self.totals.items()
        }
        rows = [
            {**empty, **found.get(first, {}), "period": period_label(first, scope.period)}
            for first in scope.period_starts()
        ]
        chart = bar_chart(
            title=f"Provider earnings per {scope.period}",
            points=[(row["period"], int(row["earnings"] * 100)) for row in rows],
            fmt=lambda cents: f"{cents / 100:,.2f}",
            short=_short,
        )
        columns = [
            Column("period", scope.period.capitalize(), Kind.TEXT),
            SESSIONS,
            *self._money_columns(),
        ]
        return Table(
            "periods",
            f"Per {scope.period}",
            columns,
            rows,
            totals=self.totals,
            limit=None,
            chart=chart,
        )

    def provider_periods(self) -> Table:
        rows = payroll.payroll_rows(self.scope)
        columns = [
            PROVIDER,
            Column("period_start", f"{self.scope.period.capitalize()} from", Kind.TEXT),
            SESSIONS,
            *self._money_columns(),
        ]
        return Table(
            "provider_periods",
            f"Per provider and {self.scope.period}",
            columns,
            rows,
            totals=self.totals,
        )

    def pending(self) -> Table:
        rows = (
            payroll.pending_sessions(self.scope)
            .annotate(
                earnings_pending=payroll.Cents(sql_amount("money_minutes", "provider_pay_rate")),
                day=Trunc("starts_at", "day", output_field=DateField(), tzinfo=self.scope.tz),
            )
            .values(
                "day",
                "earnings_pending",
                student=F("relationship__student__name"),
                provider=F("relationship__provider__name"),
                minutes=F("money_minutes"),
            )
        )
        columns = [
            Column("day", "Date", Kind.TEXT),
            PROVIDER,
            Column("student", "Student", Kind.TEXT),
            Column("minutes", "Hours", Kind.MINUTES),
            Column("earnings_pending", "Earnings once confirmed", AMOUNT),
        ]
        return Table(
            "pending",
            "Waiting for the student's confirmation",
            columns,
            rows,
            note=(
                "Completed sessions the students have not confirmed yet: not paid until they "
                "are (the center requires confirmation), oldest first."
            ),
        )
