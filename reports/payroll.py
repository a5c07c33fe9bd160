"""Payroll: what each provider earned and what their clients were charged, per period.

Every figure is an SQL aggregate over `Session.objects.with_money()`, the one definition of a
session's money (docs/rules.md, "Money"): the minutes charged, the minutes paid (the
confirmation rule, charged late cancellations and student no-shows per the center's setting),
and the amounts at the rates stored on each session when it was charged (a later rate change
does not reprice it). docs/reports.md, "Payroll", defines each column.

The sessions are the report scope's (`reports.framework.Scope.sessions`): those the member sees,
starting in the range, narrowed by the filters. Each function is one query whatever the data.

An admin's payroll without a student filter, on PostgreSQL, reads the same figures from the
roll-up the triggers keep per provider, service type and day, week, month, quarter and year
(`reports.models.PayrollPeriod`, docs/reports.md, "Roll-ups"): the center's confirmation and
absence settings are applied to its kept-apart sums here, as `with_money` applies them to each
session. The tables' rows are the `period_start` of their period.
"""

from decimal import Decimal
from typing import Any, Final

from django.core.exceptions import PermissionDenied
from django.db.models import (
    Count,
    DateField,
    DecimalField,
    F,
    Func,
    IntegerField,
    Q,
    QuerySet,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce, Trunc

from reports import rollups
from reports.framework import Period, Scope
from reports.models import PAYROLL_GRAINS, Grain, PayrollPeriod
from sessions_app import selectors as sessions
from sessions_app.models import NoShowParty, SessionQuerySet, SessionStatus, sql_amount

STUDENTS_SEE_NO_PAYROLL: Final = "Payroll is for the center's staff."

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
CENT: Final = Decimal("0.01")


def _to_cents(value: Any, expression: Any, connection: Any) -> Decimal | None:
    return None if value is None else Decimal(value).quantize(CENT)


class Cents(Func):
    """An amount, read to the cent. PostgreSQL answers a sum of numerics with their scale;
    SQLite answers a float, which Django turns into Decimal("250") rather than "250.00", and
    the page and the CSV would write it so."""

    template = "%(expressions)s"
    output_field = MONEY

    def get_db_converters(self, connection: Any) -> list[Any]:
        return [*super().get_db_converters(connection), _to_cents]


def _amount_sum(amount: Any, **filters: Any) -> Cents:
    return Cents(Coalesce(Sum(amount, **filters), Value(ZERO), output_field=MONEY))


def pending(scope: Scope) -> Q:
    """A session the provider will be paid for once the student confirms it: completed, not
    confirmed yet, in a center that requires confirmation (`Session.counts_for_earnings` is its
    negation for completed sessions); none elsewhere."""
    if not scope.organization.require_student_confirmation:
        return Q(pk__isnull=True)
    return Q(status=SessionStatus.COMPLETED, student_confirmed_at__isnull=True)


def _pending_figures(scope: Scope) -> dict[str, Any]:
    """What waits for the students' confirmation, in a center that requires it (elsewhere the
    figures are `NOTHING_PENDING`, not sums over the sessions)."""
    if not scope.organization.require_student_confirmation:
        return {}
    waiting = pending(scope)
    return {
        "pending_sessions": Count("pk", filter=waiting),
        "minutes_pending": Coalesce(
            Sum("money_minutes", filter=waiting), 0, output_field=IntegerField()
        ),
        # What the pending sessions will earn once confirmed: each one's minutes at its own pay
        # rate, to the cent, as `with_money` prices a paid one.
        "pending_earnings": _amount_sum(
            sql_amount("money_minutes", "provider_pay_rate"), filter=waiting
        ),
    }


NOTHING_PENDING: Final = {"pending_sessions": 0, "minutes_pending": 0, "pending_earnings": ZERO}


def _constants(scope: Scope) -> dict[str, Any]:
    """The figures that are constants in this scope (nothing pending without confirmation)."""
    if scope.organization.require_student_confirmation:
        return {}
    return dict(NOTHING_PENDING)


def _row_figures(scope: Scope) -> dict[str, Any]:
    """`_figures` and `_constants` as the columns of a grouped query."""
    constants = {
        name: Cents(Value(value)) if isinstance(value, Decimal) else Value(value)
        for name, value in _constants(scope).items()
    }
    return {**_figures(scope), **constants}


def _figures(scope: Scope) -> dict[str, Any]:
    """The aggregates of one payroll row, over sessions annotated by `with_money()`."""
    figures: dict[str, Any] = {
        "sessions": Count("pk", filter=COMPLETED | LATE_CANCELLED | STUDENT_NO_SHOW),
        "completed": Count("pk", filter=COMPLETED),
        "late_cancelled": Count("pk", filter=LATE_CANCELLED),
        "student_no_shows": Count("pk", filter=STUDENT_NO_SHOW),
        "provider_no_shows": Count("pk", filter=PROVIDER_NO_SHOW),
        "minutes_charged": Coalesce(Sum("money_minutes"), 0, output_field=IntegerField()),
        "minutes_paid": Coalesce(Sum("paid_minutes"), 0, output_field=IntegerField()),
        "earnings": _amount_sum("provider_earnings"),
        **_pending_figures(scope),
    }
    if shows_client_amount(scope):
        figures["client_total"] = _amount_sum("client_amount")
    return figures


def rolled_up(scope: Scope) -> bool:
    """Are the figures read from the roll-up? An admin's payroll without a student filter, on
    PostgreSQL; the sessions with their money otherwise."""
    return rollups.available() and scope.membership.is_admin and scope.student is None


def _int_sum(expression: Any) -> Coalesce:
    return Coalesce(Sum(expression), 0, output_field=IntegerField())


def _rolled_figures(scope: Scope) -> dict[str, Any]:
    """`_figures` over roll-up rows: the settings pick which kept sums are paid."""
    org = scope.organization
    paid_minutes: Any = F("minutes_confirmed")
    earnings: Any = F("earnings_confirmed")
    if not org.require_student_confirmation:
        paid_minutes += F("minutes_unconfirmed")
        earnings += F("earnings_unconfirmed")
    if org.pay_providers_for_charged_absences:
        paid_minutes += F("minutes_absent")
        earnings += F("earnings_absent")
    figures: dict[str, Any] = {
        name: _int_sum(name)
        for name in (
            "sessions",
            "completed",
            "late_cancelled",
            "student_no_shows",
            "provider_no_shows",
            "minutes_charged",
        )
    }
    figures["minutes_paid"] = _int_sum(paid_minutes)
    figures["earnings"] = _amount_sum(earnings)
    if org.require_student_confirmation:
        figures["pending_sessions"] = _int_sum("unconfirmed")
        figures["minutes_pending"] = _int_sum("minutes_unconfirmed")
        figures["pending_earnings"] = _amount_sum("earnings_unconfirmed")
    if shows_client_amount(scope):
        figures["client_total"] = _amount_sum("client_total")
    return figures


# The grains whose rows lie inside one period of each grouping.
_PERIOD_GRAINS = {
    Period.DAY: (Grain.DAY,),
    Period.WEEK: (Grain.WEEK, Grain.DAY),
    Period.MONTH: (Grain.MONTH, Grain.DAY),
}


def payroll_periods(scope: Scope, grains: tuple[str, ...] = PAYROLL_GRAINS) -> QuerySet[Any]:
    """The roll-up rows that make up the scope's range (the fewest of `grains`, each day once),
    narrowed by the service type and provider filters."""
    if scope.membership.is_student:
        raise PermissionDenied(STUDENTS_SEE_NO_PAYROLL)
    rows = PayrollPeriod.objects.filter(
        rollups.cover(scope.start, scope.end, grains), organization=scope.organization
    )
    if scope.service_type is not None:
        rows = rows.filter(of_service_type=scope.service_type)
    if scope.provider is not None:
        rows = rows.filter(of_provider=scope.provider)
    return rows.order_by()


def _rolled_rows(scope: Scope) -> dict[str, Any]:
    """`_rolled_figures` and `_constants` as the columns of a grouped query."""
    constants = {
        name: Cents(Value(value)) if isinstance(value, Decimal) else Value(value)
        for name, value in _constants(scope).items()
    }
    return {**_rolled_figures(scope), **constants}


def _by_period(scope: Scope) -> QuerySet[Any, Any]:
    """The roll-up rows of the range that each lie inside one period, with their period's first
    day as `period_start`."""
    rows: QuerySet[Any, Any] = payroll_periods(scope, _PERIOD_GRAINS[scope.period]).annotate(
        period_start=Trunc("first_day", scope.period, output_field=DateField())
    )
    return rows


def shows_client_amount(scope: Scope) -> bool:
    """Admins see the client amount; providers only where the center lets them."""
    return sessions.sees_client_amount(scope.membership, scope.organization)


def payroll_sessions(scope: Scope) -> SessionQuerySet:
    """The sessions the payroll adds up, with their money: the scope's (those the member sees,
    a provider only their own, starting in the range, narrowed by the filters). Scheduled
    sessions (worth nothing yet) and cancellations that charged nothing are left out; a
    provider's no-show stays, counted and worth nothing."""
    if scope.membership.is_student:
        raise PermissionDenied(STUDENTS_SEE_NO_PAYROLL)
    rows = scope.sessions().exclude(SCHEDULED_OR_FREE)
    assert isinstance(rows, SessionQuerySet)
    return rows.with_money(organization=scope.organization)


def _period_start(scope: Scope) -> Trunc:
    """The first day of the session's period (day, week from Monday, month), in the center's
    zone."""
    return Trunc("starts_at", scope.period, output_field=DateField(), tzinfo=scope.tz)


_PROVIDER = {"provider": F("of_provider__name"), "provider_id": F("of_provider__public_id")}


def payroll_rows(scope: Scope) -> QuerySet[Any, Any]:
    """One row per provider and period (`period_start`: the period's first day), by provider
    name then period."""
    order = ("provider", "provider_id", "period_start")
    rows: QuerySet[Any, Any]
    if rolled_up(scope):
        rows = _by_period(scope).values("period_start", **_PROVIDER)
        rows = rows.annotate(**_rolled_rows(scope)).order_by(*order)
        return rows
    rows = (
        payroll_sessions(scope)
        .annotate(period_start=_period_start(scope))
        .values(
            "period_start",
            provider=F("relationship__provider__name"),
            provider_id=F("relationship__provider__public_id"),
        )
        .annotate(**_row_figures(scope))
        .order_by(*order)
    )
    return rows


def payroll_by_provider(scope: Scope) -> QuerySet[Any, Any]:
    """One row per provider over the whole range, by name."""
    rows: QuerySet[Any, Any]
    if rolled_up(scope):
        rows = payroll_periods(scope).values(**_PROVIDER).annotate(**_rolled_rows(scope))
        return rows.order_by("provider", "provider_id")
    rows = (
        payroll_sessions(scope)
        .values(
            provider=F("relationship__provider__name"),
            provider_id=F("relationship__provider__public_id"),
        )
        .annotate(**_row_figures(scope))
        .order_by("provider", "provider_id")
    )
    return rows


def payroll_by_period(scope: Scope) -> QuerySet[Any, Any]:
    """One row per period with sessions (`period_start`), every provider the member sees
    together."""
    rows: QuerySet[Any, Any]
    if rolled_up(scope):
        rows = _by_period(scope).values("period_start").annotate(**_rolled_rows(scope))
        return rows.order_by("period_start")
    rows = (
        payroll_sessions(scope)
        .annotate(period_start=_period_start(scope))
        .values("period_start")
        .annotate(**_row_figures(scope))
        .order_by("period_start")
    )
    return rows


def payroll_totals(scope: Scope) -> dict[str, Any]:
    """The figures over the whole scope: one query."""
    if rolled_up(scope):
        figures = payroll_periods(scope).aggregate(**_rolled_figures(scope))
    else:
        figures = payroll_sessions(scope).aggregate(**_figures(scope))
    return {**figures, **_constants(scope)}


def pending_sessions(scope: Scope) -> SessionQuerySet:
    """The completed sessions still waiting for the student's confirmation, oldest first: not
    paid until confirmed (the center's confirmation rule)."""
    return payroll_sessions(scope).filter(pending(scope)).order_by("starts_at", "id")
