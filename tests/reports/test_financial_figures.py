"""The Financial report's figures on the known history (tests/reports/ledger_history.py):
packages sold and revenue, refunds, value of the outstanding hours, each exactly."""

from datetime import date
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied

from grants import services as ledger
from grants.models import GrantSource, Package
from integrations.woocommerce.services.payload import line_total
from reports import financial
from reports.ledger_scope import LedgerFilters
from tests.factories import make_grant
from tests.reports.ledger_history import MAY, History, build_history, figures
from tests.support import Tenant, make_package, member

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("clock"), pytest.mark.sqlite]


@pytest.fixture
def history(tenant_a: Tenant) -> History:
    return build_history(tenant_a)


def money(value: str) -> Decimal:
    return Decimal(value)


def test_packages_sold_and_revenue_by_package(history: History) -> None:
    rows = figures(history, financial.packages_sold)
    summary = [
        (
            row["package"],
            row["shop_packages"],
            row["manual_packages"],
            row["packages"],
            row["shop_revenue"],
            row["manual_revenue"],
            row["revenue"],
        )
        for row in rows
    ]
    assert summary == [
        ("Five sessions", 0, 1, 1, money("0.00"), money("200.00"), money("200.00")),
        ("Ten hours", 2, 1, 3, money("900.00"), money("450.00"), money("1350.00")),
    ]
    assert rows[1]["package_id"] == history.ten_hours.public_id
    # Custom grants carry no price: G2, G5, G7 (450 minutes).
    assert figures(history, financial.sales_totals) == {
        "shop_packages": 2,
        "manual_packages": 2,
        "packages": 4,
        "shop_revenue": money("900.00"),
        "manual_revenue": money("650.00"),
        "revenue": money("1550.00"),
        "unpriced_minutes": 450,
        "unpriced_sessions": 0,
    }


def test_refunds_and_their_value(history: History) -> None:
    rows = figures(history, financial.refunds)
    assert [
        (r["package"], r["refunds"], r["refunded_minutes"], r["refunded_sessions"], r["value"])
        for r in rows
    ] == [
        ("Ten hours", 1, 300, 0, money("225.00")),
        (None, 1, 120, 0, None),
    ]
    assert figures(history, financial.refund_totals) == {
        "refunds": 2,
        "refunded_minutes": 420,
        "refunded_sessions": 0,
        "value": money("225.00"),
    }


def test_value_of_the_outstanding_hours(history: History) -> None:
    rows = figures(history, financial.outstanding_value, day=date(2025, 5, 31))
    assert [
        (r["package"], r["outstanding_minutes"], r["outstanding_sessions"], r["value"])
        for r in rows
    ] == [
        ("Five sessions", 0, 3, money("120.00")),
        # G1 455 + G4 780 minutes at $450 for 600.
        ("Ten hours", 1235, 0, money("926.25")),
        # G6, made by the transfer, has no package; its 100 minutes came from G1 at $450
        # for 600 and keep that price.
        (None, 100, 0, money("75.00")),
    ]
    assert figures(history, financial.outstanding_value_totals, day=date(2025, 5, 31)) == {
        "outstanding_minutes": 1335,
        "outstanding_sessions": 3,
        "unpriced_minutes": 0,
        "unpriced_sessions": 0,
        "value": money("1121.25"),
    }


def test_a_student_filter_keeps_their_purchases(history: History) -> None:
    ada = history.g4.student
    rows = figures(
        history,
        financial.packages_sold,
        LedgerFilters(start=MAY.start, end=MAY.end, student=ada),
    )
    assert [(r["package"], r["packages"], r["revenue"]) for r in rows] == [
        ("Ten hours", 2, money("900.00")),
    ]


def test_admins_only(history: History) -> None:
    tenant = history.tenant
    with pytest.raises(PermissionDenied):
        financial.packages_sold(
            organization=tenant.organization,
            membership=member(tenant.provider_user, tenant.organization),
            filters=MAY,
        )


def test_a_sale_keeps_its_price_whatever_the_package_becomes(tenant_a: Tenant) -> None:
    """The price lives on the grant, written at the sale: the admin's form's price or the
    package's price then, a shop line's own total, a custom quantity's typed price."""
    org, admin = tenant_a.organization, tenant_a.admin
    package = make_package(org)  # 600 minutes at 450.00
    by_hand = ledger.grant_from_package(
        actor=admin, student=tenant_a.student, package=package, count=2
    )
    discounted = ledger.grant_from_package(
        actor=None,
        student=tenant_a.student,
        package=package,
        source=GrantSource.WOOCOMMERCE,
        price=line_total({"total": "399.50"}),
    )
    typed = ledger.grant_from_package(
        actor=admin, student=tenant_a.student, package=package, price=Decimal("0")
    )
    make_grant(student=tenant_a.student, minutes=120, price=Decimal("80.00"))
    make_grant(student=tenant_a.student, minutes=60)  # given without a price
    Package.objects.filter(pk=package.pk).update(price=Decimal("999.00"), quantity=60)
    assert [(g.price, g.sold_quantity) for g in (by_hand, discounted, typed)] == [
        (Decimal("900.00"), 1200),
        (Decimal("399.50"), 600),
        (Decimal("0"), 600),
    ]
    ledger.grant_refund(actor=admin, grant=by_hand, quantity=300, reason="Back")

    june = LedgerFilters(start=date(2025, 6, 1), end=date(2025, 6, 30))
    ask = {"organization": org, "membership": member(admin, org), "filters": june}
    assert [
        (row["package"], row["shop_revenue"], row["manual_revenue"], row["revenue"])
        for row in financial.packages_sold(**ask)
    ] == [
        ("Ten hours", money("399.50"), money("900.00"), money("1299.50")),
        (None, money("0.00"), money("80.00"), money("80.00")),
    ]
    totals = financial.sales_totals(**ask)
    assert (totals["revenue"], totals["unpriced_minutes"]) == (money("1379.50"), 60)
    # 300 of the 1,200 minutes sold for 900.00.
    assert financial.refund_totals(**ask)["value"] == money("225.00")


@pytest.mark.parametrize(
    ("line", "price"),
    [
        ({"total": "45.00"}, Decimal("45.00")),
        ({"total": "12.345"}, Decimal("12.35")),
        ({"total": 30}, Decimal("30.00")),
        ({"total": "-1.00"}, None),
        ({"total": "NaN"}, None),
        ({"total": "Infinity"}, None),
        ({"total": "1e12"}, None),
        ({"total": "lots"}, None),
        ({"total": True}, None),
        ({}, None),
    ],
)
def test_a_shop_line_s_total_is_read_to_the_cent_or_not_at_all(line: dict, price: object) -> None:  # type: ignore[type-arg]
    assert line_total(line) == price
