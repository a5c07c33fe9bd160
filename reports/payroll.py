"""Payroll: what each provider earned and what their clients were charged, per period.

Every figure is an SQL aggregate over `Session.objects.with_money()`, the one definition of a
session's money (docs/rules.md, "Money"): the minutes charged, the minutes paid (the
confirmation rule, charged late cancellations and student no-shows per the center's setting),
and the amounts at the rates stored on each session when it was charged (a later rate change
does not reprice it). docs/reports.md, "Payroll", defines each column.

A fixed number of queries whatever the data: the rows (provider × period), the providers'
subtotals, the grand total, and the pending sessions (their count and the first of them).
"""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, Final

from django.core.exceptions import PermissionDenied
from django.db.models import (
    Count,
    DecimalField,
    IntegerField,
    Q,
    QuerySet,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce, TruncDay, TruncMonth, TruncWeek

from matchpal.models import Membership, Organization, ServiceType
from providers.models import Provider
from sessions_app import selectors as sessions
from sessions_app.models import (
    NoShowParty,
    Session,
    SessionQuerySet,
    SessionStatus,
    sql_amount,
)
from students.models import Student

PERIODS: Final = {"day": TruncDay, "week": TruncWeek, "month": TruncMonth}
PENDING_ROWS: Final = 50

STUDENTS_SEE_NO_PAYROLL: Final = "Payroll is for the center's staff."


def local_range(organization: Organization, start: date, end: date) -> tuple[datetime, datetime]:
    """The instants bounding the days `start` to `end` (both included) in the center's zone."""
    tz = organization.tz
    return (
        datetime.combine(start, time.min, tzinfo=tz),
        datetime.combine(end + timedelta(days=1), time.min, tzinfo=tz),
    )


# A session the provider will be paid for once the student confirms it: completed, in a center
# that requires confirmation, not confirmed yet (`Session.counts_for_earnings` is its negation
# for completed sessions).
PENDING: Final = Q(
    status=SessionStatus.COMPLETED,
    organization__require_student_confirmation=True,
    student_confirmed_at__isnull=True,
)
COMPLETED: Final = Q(status=SessionStatus.COMPLETED)
# A late cancellation or a student's no-show that consumed hours (`charged_minutes` > 0).
LATE_CANCELLED: Final = Q(status=SessionStatus.CANCELLED, charged_minutes__gt=0)
STUDENT_NO_SHOW: Final = Q(
    status=SessionStatus.NO_SHOW, no_show_party=NoShowParty.STUDENT, charged_minutes__gt=0
)
PROVIDER_NO_SHOW: Final = Q(status=SessionStatus.NO_SHOW, no_show_party=NoShowParty.PROVIDER)

SCHEDULED_OR_FREE: Final = Q(status=SessionStatus.SCHEDULED) | Q(
    status=SessionStatus.CANCELLED, charged_minutes=0
)

MONEY: Final = DecimalField(max_digits=14, decimal_places=2)
ZERO: Final = Decimal("0.00")


def _pending_earnings() -> Any:
    """A pending session's earnings once confirmed: its minutes at its own pay rate, to the cent
    per session, as `with_money` prices a paid one."""
    return sql_amount("money_minutes", "provider_pay_rate")


def _figures(*, client_amount: bool) -> dict[str, Any]:
    """The aggregates of one payroll row, over sessions annotated by `with_money()`."""
    figures: dict[str, Any] = {
        "sessions": Count("pk", filter=COMPLETED | LATE_CANCELLED | STUDENT_NO_SHOW),
        "completed": Count("pk", filter=COMPLETED),
        "late_cancelled": Count("pk", filter=LATE_CANCELLED),
        "student_no_shows": Count("pk", filter=STUDENT_NO_SHOW),
        "provider_no_shows": Count("pk", filter=PROVIDER_NO_SHOW),
        "minutes_charged": Coalesce(Sum("money_minutes"), 0, output_field=IntegerField()),
        "minutes_paid": Coalesce(Sum("paid_minutes"), 0, output_field=IntegerField()),
        "pending_sessions": Count("pk", filter=PENDING),
        "minutes_pending": Coalesce(
            Sum("money_minutes", filter=PENDING), 0, output_field=IntegerField()
        ),
        "earnings": Coalesce(Sum("provider_earnings"), Value(ZERO), output_field=MONEY),
        "pending_earnings": Coalesce(
            Sum(_pending_earnings(), filter=PENDING), Value(ZERO), output_field=MONEY
        ),
    }
    if client_amount:
        figures["client_total"] = Coalesce(Sum("client_amount"), Value(ZERO), output_field=MONEY)
    return figures


@dataclass(frozen=True)
class PayrollQuery:
    """What a payroll covers: the organization, who asks, the days and the filters."""

    organization: Organization
    membership: Membership
    start: date
    end: date
    period: str = "month"
    service_type: ServiceType | None = None
    provider: Provider | None = None
    student: Student | None = None

    @property
    def shows_client_amount(self) -> bool:
        return sessions.sees_client_amount(self.membership, self.organization)


def payroll_sessions(query: PayrollQuery) -> SessionQuerySet:
    """The sessions the payroll adds up, with their money: those the member sees (a provider
    only their own, `sessions.visible_to`), starting in the range, narrowed by the filters.
    Scheduled sessions (worth nothing yet) and cancellations that charged nothing are left
    out; a provider's no-show stays, counted and worth nothing."""
    if query.membership.is_student:
        raise PermissionDenied(STUDENTS_SEE_NO_PAYROLL)
    start, end = local_range(query.organization, query.start, query.end)
    rows = Session.objects.filter(
        sessions.visible_to(query.membership),
        organization=query.organization,
        starts_at__gte=start,
        starts_at__lt=end,
    ).exclude(SCHEDULED_OR_FREE)
    if query.service_type is not None:
        rows = rows.filter(relationship__service_type=query.service_type)
    if query.provider is not None:
        rows = rows.filter(relationship__provider=query.provider)
    if query.student is not None:
        rows = rows.filter(relationship__student=query.student)
    return rows.with_money()


def _period(query: PayrollQuery) -> Any:
    trunc = PERIODS.get(query.period, TruncMonth)
    return trunc("starts_at", tzinfo=query.organization.tz)


PROVIDER_FIELDS: Final = (
    "relationship__provider_id",
    "relationship__provider__public_id",
    "relationship__provider__name",
)


def payroll_rows(query: PayrollQuery) -> QuerySet[Any, Any]:
    """One row per provider and period (`period`: the period's first instant, local time), by
    provider name then period."""
    rows: QuerySet[Any, Any] = (
        payroll_sessions(query)
        .annotate(period=_period(query))
        .order_by()
        .values(*PROVIDER_FIELDS, "period")
        .annotate(**_figures(client_amount=query.shows_client_amount))
        .order_by("relationship__provider__name", "relationship__provider_id", "period")
    )
    return rows


def payroll_by_provider(query: PayrollQuery) -> QuerySet[Any, Any]:
    """One row per provider over the whole range, by name."""
    rows: QuerySet[Any, Any] = (
        payroll_sessions(query)
        .order_by()
        .values(*PROVIDER_FIELDS)
        .annotate(**_figures(client_amount=query.shows_client_amount))
        .order_by("relationship__provider__name", "relationship__provider_id")
    )
    return rows


def payroll_by_period(query: PayrollQuery) -> QuerySet[Any, Any]:
    """One row per period, every provider the member sees together (the chart's figures)."""
    return (
        payroll_sessions(query)
        .annotate(period=_period(query))
        .order_by()
        .values("period")
        .annotate(**_figures(client_amount=query.shows_client_amount))
        .order_by("period")
    )


def payroll_totals(query: PayrollQuery) -> dict[str, Any]:
    """The figures over the whole range and every provider the member sees: one query."""
    return payroll_sessions(query).aggregate(**_figures(client_amount=query.shows_client_amount))


def pending_sessions(query: PayrollQuery) -> SessionQuerySet:
    """The completed sessions still waiting for the student's confirmation, oldest first: not
    paid until confirmed (the center's confirmation rule)."""
    return (
        payroll_sessions(query)
        .filter(PENDING)
        .select_related("relationship__student", "relationship__provider")
        .order_by("starts_at", "id")
    )


@dataclass(frozen=True)
class Payroll:
    """A payroll page's figures, read."""

    rows: list[dict[str, Any]]
    providers: list[dict[str, Any]]
    periods: list[dict[str, Any]]
    totals: dict[str, Any]
    pending: list[Session]
    shows_client_amount: bool
    requires_confirmation: bool

    @property
    def pending_count(self) -> int:
        return int(self.totals["pending_sessions"])


def payroll(query: PayrollQuery) -> Payroll:
    """Every figure of the payroll page: five queries whatever the data."""
    return Payroll(
        rows=list(payroll_rows(query)),
        providers=list(payroll_by_provider(query)),
        periods=list(payroll_by_period(query)),
        totals=payroll_totals(query),
        pending=list(pending_sessions(query)[:PENDING_ROWS]),
        shows_client_amount=query.shows_client_amount,
        requires_confirmation=query.organization.require_student_confirmation,
    )
