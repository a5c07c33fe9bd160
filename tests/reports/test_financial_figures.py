"""The Financial report's figures on the known history (tests/reports/ledger_history.py):
packages sold and revenue, refunds, value of the outstanding hours, each exactly."""

from datetime import date
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied

from grants.models import Unit
from reports import financial
from reports.ledger_scope import LedgerFilters
from tests.reports.ledger_history import History, build_history
from tests.support import Tenant, member

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("clock"), pytest.mark.sqlite]

MAY = LedgerFilters(start=date(2025, 5, 1), end=date(2025, 5, 31))


@pytest.fixture
def history(tenant_a: Tenant) -> History:
    return build_history(tenant_a)


def figures(history: History, function, filters: LedgerFilters = MAY, **kwargs):  # type: ignore[no-untyped-def]
    tenant = history.tenant
    return function(
        organization=tenant.organization,
        membership=member(tenant.admin, tenant.organization),
        filters=filters,
        **kwargs,
    )


def money(value: str) -> Decimal:
    return Decimal(value)


def test_packages_sold_and_revenue_by_package(history: History) -> None:
    rows = figures(history, financial.packages_sold)
    summary = [
        (
            row["package"],
            row["unit"],
            row["shop_packages"],
            row["manual_packages"],
            row["packages"],
            row["shop_revenue"],
            row["manual_revenue"],
            row["revenue"],
            row["credited"],
        )
        for row in rows
    ]
    assert summary == [
        (
            "Five sessions",
            Unit.SESSIONS,
            0,
            1,
            1,
            money("0.00"),
            money("200.00"),
            money("200.00"),
            5,
        ),
        (
            "Ten hours",
            Unit.MINUTES,
            2,
            1,
            3,
            money("900.00"),
            money("450.00"),
            money("1350.00"),
            1800,
        ),
        # Custom grants carry no price: G2, G5, G7.
        (None, Unit.MINUTES, None, None, None, None, None, None, 450),
    ]
    assert rows[1]["package_id"] == history.ten_hours.public_id


def test_refunds_and_their_value(history: History) -> None:
    rows = figures(history, financial.refunds)
    assert [(r["package"], r["unit"], r["refunds"], r["refunded"], r["value"]) for r in rows] == [
        ("Ten hours", Unit.MINUTES, 1, 300, money("225.00")),
        (None, Unit.MINUTES, 1, 120, None),
    ]


def test_value_of_the_outstanding_hours(history: History) -> None:
    rows = figures(history, financial.outstanding_value, day=date(2025, 5, 31))
    assert [(r["package"], r["unit"], r["outstanding"], r["value"]) for r in rows] == [
        ("Five sessions", Unit.SESSIONS, 3, money("120.00")),
        # G1 455 + G4 780 minutes at $450 for 600.
        ("Ten hours", Unit.MINUTES, 1235, money("926.25")),
        # G6, made by the transfer, has no package.
        (None, Unit.MINUTES, 100, None),
    ]


def test_a_student_filter_keeps_their_purchases(history: History) -> None:
    ada = history.g4.student
    rows = figures(
        history,
        financial.packages_sold,
        LedgerFilters(start=MAY.start, end=MAY.end, student=ada),
    )
    assert [(r["package"], r["packages"], r["revenue"]) for r in rows] == [
        ("Ten hours", 2, money("900.00")),
        (None, None, None),
    ]


def test_admins_only(history: History) -> None:
    tenant = history.tenant
    with pytest.raises(PermissionDenied):
        financial.packages_sold(
            organization=tenant.organization,
            membership=member(tenant.provider_user, tenant.organization),
            filters=MAY,
        )
