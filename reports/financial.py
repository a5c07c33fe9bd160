"""The Financial report's figures: packages sold and their revenue (shop orders and manual
grants from a package), refunds, and the value of the hours outstanding at a date.

Prices live on the grant, written at the sale (`Grant.price` for `Grant.sold_quantity` minutes
or sessions: a shop line's total, a package's price × count when an admin added it, the price an
admin typed for a custom quantity): every movement of a grant is valued at its own price per
unit, so a package's later price change re-values nothing. A package grant's credit counts
`credited ÷ package quantity` packages; a transfer's new grant carries its source's price per
unit. Grants without a price (custom quantities given unpriced, transfers from them) are
reported as "without a price", never valued. Every figure is one grouped SQL aggregate over
the ledger; each function runs one query whatever the amount of data, on PostgreSQL and on
SQLite. docs/reports.md, "Financial".
"""

from datetime import date
from decimal import Decimal
from typing import Any

from django.db import connection
from django.db.models import (
    Count,
    DecimalField,
    ExpressionWrapper,
    F,
    IntegerField,
    Q,
    QuerySet,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce

from grants.models import EntryKind, GrantEntry, GrantSource, Unit
from matchpal.models import Membership, Organization
from reports.ledger_scope import LedgerFilters, ledger_entries, require_admin, rows, unused_hours

MONEY = DecimalField(max_digits=14, decimal_places=2)
CENT = Decimal("0.01")
ZERO = Decimal("0.00")

_PACKAGE = {
    "package_id": F("grant__package__public_id"),
    "package": F("grant__package__name"),
    "unit": F("grant__unit"),
    "quantity": F("grant__package__quantity"),
}


def _valued(quantity: Any, grant: str = "grant__") -> "ExpressionWrapper[Any]":
    """`quantity` minutes (or sessions) of a grant at the grant's own price per unit (its price
    at sale ÷ the quantity sold); None for a grant without a price."""
    amount = quantity * F(grant + "price")
    if connection.vendor == "sqlite":
        # SQLite stores a whole price as an integer and divides integers exactly as integers:
        # in floating point there, rounded to the cent by `_money`. PostgreSQL's numeric is exact.
        amount = amount * Value(1.0)
    return ExpressionWrapper(amount / F(grant + "sold_quantity"), output_field=MONEY)


def _packages(quantity: str) -> "ExpressionWrapper[Any]":
    """How many packages `quantity` minutes (or sessions) are: exact for credits (a grant from
    a package credits a whole number of them)."""
    return ExpressionWrapper(F(quantity) / F("quantity"), output_field=IntegerField())


def _money(rows: list[dict[str, Any]], *fields: str) -> list[dict[str, Any]]:
    """Amounts to the cent (SQLite computes them in floating point)."""
    for row in rows:
        for field in fields:
            if row[field] is not None:
                row[field] = Decimal(row[field]).quantize(CENT)
    return rows


def _credits(organization: Organization, filters: LedgerFilters) -> QuerySet[GrantEntry]:
    start, end = filters.bounds(organization)
    return (
        ledger_entries(organization=organization, filters=filters)
        .filter(kind=EntryKind.CREDIT, created_at__gte=start, created_at__lt=end)
        .order_by()
    )


SHOP = Q(grant__source=GrantSource.WOOCOMMERCE)
PRICED = Q(grant__price__isnull=False)
OF_PACKAGE = Q(grant__package__isnull=False)


def _per_unit(field: Any, name: str, condition: Q | None = None) -> dict[str, Coalesce]:
    """`field` summed per unit: `<name>_minutes` and `<name>_sessions`."""
    return {
        f"{name}_{unit}": Coalesce(Sum(field, filter=Q(grant__unit=unit) & (condition or Q())), 0)
        for unit in Unit.values
    }


def packages_sold(
    *, organization: Organization, membership: Membership, filters: LedgerFilters
) -> list[dict[str, Any]]:
    """Per package credited in the range (and one row per unit for the priced custom
    quantities, without a package), split by where it was sold (the shop, or an admin adding it
    by hand): packages and revenue, each credit at its own grant's price."""
    require_admin(membership)
    found = rows(
        _credits(organization, filters)
        .filter(OF_PACKAGE | PRICED)
        .values(**_PACKAGE)
        .annotate(
            shop_credited=Coalesce(Sum("total_delta", filter=SHOP), 0),
            manual_credited=Coalesce(Sum("total_delta", filter=~SHOP), 0),
            credited=Sum("total_delta"),
            shop_revenue=Coalesce(_entry_value(SHOP), Value(ZERO), output_field=MONEY),
            manual_revenue=Coalesce(_entry_value(~SHOP), Value(ZERO), output_field=MONEY),
            revenue=_entry_value(),
        )
        .annotate(
            shop_packages=_packages("shop_credited"),
            manual_packages=_packages("manual_credited"),
            packages=_packages("credited"),
        )
        .order_by(F("grant__package__name").asc(nulls_last=True), "grant__package__public_id")
    )
    return _money(found, "shop_revenue", "manual_revenue", "revenue")


def _entry_value(condition: Q | None = None) -> Sum:
    """Each entry's `total_delta` at its grant's price per unit, summed (None when no entry
    has a price)."""
    return Sum(_valued(F("total_delta")), filter=condition)


def sales_totals(
    *, organization: Organization, membership: Membership, filters: LedgerFilters
) -> dict[str, Any]:
    """`packages_sold` over every package (one row), and the minutes and sessions credited in
    the range without a price."""
    require_admin(membership)
    packages = ExpressionWrapper(
        F("total_delta") / F("grant__package__quantity"), output_field=IntegerField()
    )
    totals = _credits(organization, filters).aggregate(
        shop_packages=Coalesce(Sum(packages, filter=OF_PACKAGE & SHOP), 0),
        manual_packages=Coalesce(Sum(packages, filter=OF_PACKAGE & ~SHOP), 0),
        packages=Coalesce(Sum(packages, filter=OF_PACKAGE), 0),
        shop_revenue=_entry_value(PRICED & SHOP),
        manual_revenue=_entry_value(PRICED & ~SHOP),
        revenue=_entry_value(PRICED),
        **_per_unit("total_delta", "unpriced", ~PRICED),
    )
    return _money([totals], "shop_revenue", "manual_revenue", "revenue")[0]


def _refund_entries(organization: Organization, filters: LedgerFilters) -> QuerySet[GrantEntry]:
    start, end = filters.bounds(organization)
    return (
        ledger_entries(organization=organization, filters=filters)
        .filter(kind=EntryKind.REFUND, created_at__gte=start, created_at__lt=end)
        .order_by()
    )


def refunds(
    *, organization: Organization, membership: Membership, filters: LedgerFilters
) -> list[dict[str, Any]]:
    """Per package (and one row for the grants without one): the refunds written in the range,
    the minutes and sessions taken back, and their value at each grant's price."""
    require_admin(membership)
    found = rows(
        _refund_entries(organization, filters)
        .values(**_PACKAGE)
        .annotate(
            refunds=Count("pk"),
            refunded=-Sum("total_delta"),
            **_per_unit(-F("total_delta"), "refunded"),
            value=Sum(_valued(-F("total_delta"))),
        )
        .order_by(F("grant__package__name").asc(nulls_last=True), "grant__unit")
    )
    return _money(found, "value")


def refund_totals(
    *, organization: Organization, membership: Membership, filters: LedgerFilters
) -> dict[str, Any]:
    require_admin(membership)
    totals = _refund_entries(organization, filters).aggregate(
        refunds=Count("pk"),
        **_per_unit(-F("total_delta"), "refunded"),
        value=_entry_value(),
    )
    if totals["value"] is not None:
        totals["value"] = -totals["value"]
    return _money([totals], "value")[0]


# Aliases that are no field of a grant (a grant has `package` and `unit`): renamed to the
# other tables' keys once read.
_RENAMED = {"of_package": "package_id", "package_name": "package", "of_unit": "unit"}


def _package_of(grant: str) -> dict[str, F]:
    return {
        "of_package": F(grant + "package__public_id"),
        "package_name": F(grant + "package__name"),
        "of_unit": F(grant + "unit"),
        "quantity": F(grant + "package__quantity"),
    }


def _per_unit_of(grant: str, amount: Any, name: str, condition: Q | None = None) -> dict[str, Any]:
    return {
        f"{name}_{unit}": Coalesce(
            Sum(amount, filter=Q(**{grant + "unit": unit}) & (condition or Q())), 0
        )
        for unit in Unit.values
    }


def outstanding_value(
    *, organization: Organization, membership: Membership, filters: LedgerFilters, day: date
) -> list[dict[str, Any]]:
    """Per package (and per unit without one): the hours outstanding at the close of `day`
    (the Usage report's `outstanding_at`, the same rule) and their value at each grant's
    price."""
    require_admin(membership)
    unused = unused_hours(organization=organization, filters=filters, day=day)
    grant = unused.grant
    found = rows(
        unused.rows.values(**_package_of(grant))
        .annotate(
            outstanding=Sum(unused.amount),
            **_per_unit_of(grant, unused.amount, "outstanding"),
            value=Sum(_valued(unused.amount, grant)),
        )
        .filter(outstanding__gt=0)
        .order_by(F(grant + "package__name").asc(nulls_last=True), grant + "unit")
    )
    for row in found:  # one row per package: their keys, not their figures
        for alias, key in _RENAMED.items():
            row[key] = row.pop(alias)
    return _money(found, "value")


def outstanding_value_totals(
    *, organization: Organization, membership: Membership, filters: LedgerFilters, day: date
) -> dict[str, Any]:
    require_admin(membership)
    unused = unused_hours(organization=organization, filters=filters, day=day)
    grant = unused.grant
    priced = Q(**{grant + "price__isnull": False})
    totals = unused.rows.aggregate(
        **_per_unit_of(grant, unused.amount, "outstanding"),
        **_per_unit_of(grant, unused.amount, "unpriced", ~priced),
        value=Sum(_valued(unused.amount, grant)),
    )
    return _money([totals], "value")[0]
