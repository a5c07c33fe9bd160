"""Payroll: what each provider earned and what their clients were charged, per period.

Every figure is an SQL aggregate over `Session.objects.with_money()`, the one definition of a
session's money (docs/rules.md, "Money"): the minutes charged, the minutes paid (the
confirmation rule, charged late cancellations and student no-shows per the center's setting),
and the amounts at the rates stored on each session when it was charged (a later rate change
does not reprice it). docs/reports.md, "Payroll", defines each column.

The sessions are the report scope's (`reports.framework.Scope.sessions`): those the member sees,
starting in the range, narrowed by the filters. Each function is one query whatever the data.
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

from reports.framework import Scope
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


def _first_day(scope: Scope) -> Trunc:
    """The first day of the session's period (day, week from Monday, month), in the center's
    zone."""
    return Trunc("starts_at", scope.period, output_field=DateField(), tzinfo=scope.tz)


def payroll_rows(scope: Scope) -> QuerySet[Any, Any]:
    """One row per provider and period (`first_day`: the period's first day), by provider name
    then period."""
    rows: QuerySet[Any, Any] = (
        payroll_sessions(scope)
        .annotate(first_day=_first_day(scope))
        .values(
            "first_day",
            provider=F("relationship__provider__name"),
            provider_id=F("relationship__provider__public_id"),
        )
        .annotate(**_row_figures(scope))
        .order_by("provider", "provider_id", "first_day")
    )
    return rows


def payroll_by_provider(scope: Scope) -> QuerySet[Any, Any]:
    """One row per provider over the whole range, by name."""
    rows: QuerySet[Any, Any] = (
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
    """One row per period with sessions (`first_day`), every provider the member sees
    together."""
    rows: QuerySet[Any, Any] = (
        payroll_sessions(scope)
        .annotate(first_day=_first_day(scope))
        .values("first_day")
        .annotate(**_row_figures(scope))
        .order_by("first_day")
    )
    return rows


def payroll_totals(scope: Scope) -> dict[str, Any]:
    """The figures over the whole scope: one query."""
    return {**payroll_sessions(scope).aggregate(**_figures(scope)), **_constants(scope)}


def pending_sessions(scope: Scope) -> SessionQuerySet:
    """The completed sessions still waiting for the student's confirmation, oldest first: not
    paid until confirmed (the center's confirmation rule)."""
    return payroll_sessions(scope).filter(pending(scope)).order_by("starts_at", "id")
