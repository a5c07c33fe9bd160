"""The Usage report's figures on a known history (tests/reports/ledger_history.py), each checked
exactly: per period, per service type, utilization, outstanding at a date, velocity."""

from datetime import date

import pytest
from django.core.exceptions import PermissionDenied
from django.db.models import F, Sum

from grants.models import Grant, Unit
from grants.reconcile import find_differences
from grants.selectors import student_balances
from reports import usage
from reports.ledger_scope import LedgerFilters, unused_hours
from tests.reports.ledger_history import History, build_history
from tests.support import Tenant, member, service_type

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("clock"), pytest.mark.sqlite]

MAY = LedgerFilters(start=date(2025, 5, 1), end=date(2025, 5, 31))
ZERO = {
    "purchased": 0,
    "adjusted": 0,
    "transferred": 0,
    "refunded": 0,
    "consumed": 0,
    "restored": 0,
    "net_consumed": 0,
    "expired": 0,
}
MAY_MINUTES = {
    "purchased": 600 + 300 + 1200 + 120 + 30,
    "adjusted": 60,
    "transferred": 0,
    "refunded": 120 + 300,
    "consumed": 60 + 30 + 120 + 90 + 60 + 60 + 45,
    "restored": 30 + 60,
    "net_consumed": 60 + 30 + 120 + 60 + 60 + 45,
    "expired": 180,
}
MAY_SESSIONS = {**ZERO, "purchased": 5, "consumed": 2, "net_consumed": 2}


@pytest.fixture
def history(tenant_a: Tenant) -> History:
    built = build_history(tenant_a)
    assert find_differences() == []
    return built


def figures(history: History, function, filters: LedgerFilters = MAY, **kwargs):  # type: ignore[no-untyped-def]
    tenant = history.tenant
    return function(
        organization=tenant.organization,
        membership=member(tenant.admin, tenant.organization),
        filters=filters,
        **kwargs,
    )


def test_purchased_against_consumed_over_the_month(history: History) -> None:
    assert figures(history, usage.flow_totals) == [
        {"unit": Unit.MINUTES, **MAY_MINUTES},
        {"unit": Unit.SESSIONS, **MAY_SESSIONS},
    ]
    may_first = date(2025, 5, 1)
    assert figures(history, usage.purchased_vs_consumed, unit=Unit.MINUTES) == [
        {"period": may_first, **MAY_MINUTES}
    ]
    assert figures(history, usage.purchased_vs_consumed, unit=Unit.SESSIONS) == [
        {"period": may_first, **MAY_SESSIONS}
    ]
    assert figures(history, usage.purchased_vs_consumed) == [
        {"period": may_first, "unit": Unit.MINUTES, **MAY_MINUTES},
        {"period": may_first, "unit": Unit.SESSIONS, **MAY_SESSIONS},
    ]


def test_per_week_in_the_centers_zone(history: History) -> None:
    weeks = figures(
        history,
        usage.purchased_vs_consumed,
        LedgerFilters(start=date(2025, 5, 12), end=date(2025, 5, 25), period="week"),
        unit=Unit.MINUTES,
    )
    # May 12–18: the 90 min session, its edit, the 60 min session and its cancellation.
    # May 19–25: G2 expires (180), the late cancellation charged (60), the shop refund (300).
    assert [row["period"] for row in weeks] == [date(2025, 5, 12), date(2025, 5, 19)]
    assert {k: weeks[0][k] for k in ZERO} == {
        **ZERO,
        "consumed": 150,
        "restored": 90,
        "net_consumed": 60,
    }
    assert {k: weeks[1][k] for k in ZERO} == {
        **ZERO,
        "consumed": 60,
        "net_consumed": 60,
        "refunded": 300,
        "expired": 180,
    }


def test_filters_keep_a_student_a_provider_and_a_service_type(history: History) -> None:
    sam = LedgerFilters(start=MAY.start, end=MAY.end, student=history.tenant.student)
    minutes, sessions = figures(history, usage.flow_totals, sam)
    assert {k: minutes[k] for k in ZERO} == {
        **ZERO,
        "purchased": 900,
        "adjusted": 60,
        "consumed": 60 + 90 + 60 + 60 + 45,
        "restored": 90,
        "net_consumed": 225,
        "expired": 180,
    }
    assert {k: sessions[k] for k in ZERO} == MAY_SESSIONS
    pat = LedgerFilters(start=MAY.start, end=MAY.end, provider=history.tenant.provider)
    # Purchases, refunds and expiries belong to no provider; Pat's relationships consumed.
    (minutes,) = figures(history, usage.flow_totals, pat)
    assert {k: minutes[k] for k in ZERO} == {
        **ZERO,
        "consumed": 465,
        "restored": 90,
        "net_consumed": 375,
    }
    advising = LedgerFilters(
        start=MAY.start,
        end=MAY.end,
        service_type=service_type(history.tenant.organization, "Advising"),
    )
    minutes, sessions = figures(history, usage.flow_totals, advising)
    # The transfer into G6 (Advising) counts there; G1's transfer out is Tutoring's.
    assert {k: minutes[k] for k in ZERO} == {**ZERO, "transferred": 100}
    assert {k: sessions[k] for k in ZERO} == MAY_SESSIONS


def test_usage_per_service_type(history: History) -> None:
    assert list(figures(history, usage.usage_by_service_type)) == [
        {
            "name": "Advising",
            "purchased_minutes": 0,
            "consumed_minutes": 0,
            "purchased_sessions": 5,
            "consumed_sessions": 2,
        },
        {
            "name": "Tutoring",
            "purchased_minutes": 2250,
            "consumed_minutes": 375,
            "purchased_sessions": 0,
            "consumed_sessions": 0,
        },
    ]


def test_utilization_of_the_grants_that_ended(history: History) -> None:
    none = {"grants_sessions": 0, "had_sessions": 0, "used_sessions": 0}
    assert figures(history, usage.grant_utilization) == [
        {"ending": "expired", "grants_minutes": 1, "had_minutes": 300, "used_minutes": 120, **none},
        {"ending": "refunded", "grants_minutes": 1, "had_minutes": 120, "used_minutes": 0, **none},
        {"ending": "used_up", "grants_minutes": 1, "had_minutes": 30, "used_minutes": 30, **none},
    ]
    assert figures(history, usage.utilization_totals) == {
        "grants_minutes": 3,
        "had_minutes": 450,
        "used_minutes": 150,
        **none,
    }
    # Only G2 ended after May 15.
    late_may = LedgerFilters(start=date(2025, 5, 15), end=date(2025, 5, 31))
    assert [row["ending"] for row in figures(history, usage.grant_utilization, late_may)] == [
        "expired"
    ]


def test_outstanding_at_a_date_from_the_ledger(history: History) -> None:
    end_of_may = figures(history, usage.outstanding_at, day=date(2025, 5, 31))
    # G1 560 − 105, G4 900 − 120, G6 100; G2 expired, G5 revoked, G7 used up. G3 5 − 2.
    assert end_of_may == [
        {"unit": Unit.MINUTES, "outstanding": 455 + 780 + 100},
        {"unit": Unit.SESSIONS, "outstanding": 3},
    ]
    # May 10: G1 600, G2 300 − 60, G4 1,200 − 120; G5 refunded, G7 used up. G3 5 − 2.
    assert figures(history, usage.outstanding_at, day=date(2025, 5, 10)) == [
        {"unit": Unit.MINUTES, "outstanding": 600 + 240 + 1080},
        {"unit": Unit.SESSIONS, "outstanding": 3},
    ]
    assert figures(history, usage.outstanding_at, day=date(2025, 4, 30)) == []
    per_student = figures(history, usage.outstanding_by_student, day=date(2025, 5, 31))
    assert [
        (row["student_name"], row["outstanding_minutes"], row["outstanding_sessions"])
        for row in per_student
    ] == [("Ada Shopper", 780, 0), ("Sam Student", 555, 3)]


def test_outstanding_today_is_the_sum_of_the_grants_balances(history: History) -> None:
    today = figures(history, usage.outstanding_at, day=date(2025, 6, 11))
    balances = (
        Grant.objects.usable()
        .values("unit")
        .annotate(outstanding=Sum(F("total") - F("used")))
        .order_by("unit")
    )
    assert today == list(balances)
    assert [row["outstanding"] for row in today] == [1335, 3]


@pytest.mark.parametrize("narrowed", ["everyone", "student", "Tutoring", "Advising"])
def test_today_the_ledger_and_the_grant_columns_agree(history: History, narrowed: str) -> None:
    """Today's figure is read from the grant columns (one row per grant); the ledger up to now
    says the same, whatever the filter."""
    org = history.tenant.organization
    filters = LedgerFilters(
        start=MAY.start,
        end=MAY.end,
        student=history.tenant.student if narrowed == "student" else None,
        service_type=service_type(org, narrowed) if narrowed in ("Tutoring", "Advising") else None,
    )

    def per_unit(from_ledger: bool) -> list[tuple[str, int]]:
        unused = unused_hours(
            organization=org, filters=filters, day=date(2025, 6, 11), from_ledger=from_ledger
        )
        return list(
            unused.rows.values_list(unused.grant + "unit")
            .annotate(outstanding=Sum(unused.amount))
            .order_by(unused.grant + "unit")
        )

    assert per_unit(from_ledger=True) == per_unit(from_ledger=False)
    assert per_unit(from_ledger=False)  # something to compare


def test_consumption_velocity_and_when_each_runs_out(history: History) -> None:
    def velocity(unit: str) -> list[dict[str, object]]:
        return figures(history, usage.consumption_velocity, unit=unit)  # type: ignore[no-any-return]

    def summary(unit: str) -> list[tuple[object, ...]]:
        return [
            (row["student_name"], row["consumed"], row["free"], row["days_left"], row["runs_out"])
            for row in velocity(unit)
        ]

    # Lee consumed all of his: nothing free, not listed.
    assert summary(Unit.MINUTES) == [
        # 360 free (G1 260, G6 100) at 225 a month of 31 days: 49 days.
        ("Sam Student", 225, 360, 49, date(2025, 7, 30)),
        # 300 free on G4 at 120 in 31 days: 77 days.
        ("Ada Shopper", 120, 300, 77, date(2025, 8, 27)),
    ]
    assert summary(Unit.SESSIONS) == []
    both = figures(history, usage.consumption_velocity)
    assert [(row["unit"], row["student_name"]) for row in both] == [
        (Unit.MINUTES, "Sam Student"),
        (Unit.MINUTES, "Ada Shopper"),
    ]
    assert velocity(Unit.MINUTES)[0]["per_week"] == pytest.approx(225 * 7 / 31)


def test_admins_only(history: History) -> None:
    tenant = history.tenant
    for user in (tenant.provider_user, tenant.student_user):
        with pytest.raises(PermissionDenied):
            usage.flow_totals(
                organization=tenant.organization,
                membership=member(user, tenant.organization),
                filters=MAY,
            )


def test_another_centers_ledger_never_counts(history: History, tenant_b: Tenant) -> None:
    build_history(tenant_b)
    assert figures(history, usage.flow_totals) == [
        {"unit": Unit.MINUTES, **MAY_MINUTES},
        {"unit": Unit.SESSIONS, **MAY_SESSIONS},
    ]
    assert figures(history, usage.outstanding_at, day=date(2025, 5, 31)) == [
        {"unit": Unit.MINUTES, "outstanding": 1335},
        {"unit": Unit.SESSIONS, "outstanding": 3},
    ]


def test_velocity_of_one_service_type_counts_the_hours_free_for_it(history: History) -> None:
    tutoring = LedgerFilters(
        start=MAY.start,
        end=MAY.end,
        service_type=service_type(history.tenant.organization, "Tutoring"),
    )
    rows = figures(history, usage.consumption_velocity, tutoring, unit=Unit.MINUTES)
    # Sam's G6 (100 min) covers Advising only: 260 free for Tutoring, 35 days at his pace.
    assert [(r["student_name"], r["consumed"], r["free"], r["days_left"]) for r in rows] == [
        ("Sam Student", 225, 260, 35),
        ("Ada Shopper", 120, 300, 77),
    ]


def test_outstanding_today_per_type_is_the_students_balance_page(history: History) -> None:
    """For a student and a service type, today's outstanding hours are the balance page's
    remaining hours (Free to book + Reserved) of that type and unit."""
    sam = history.tenant.student
    org = history.tenant.organization
    page = {
        (balance.service_type.name, balance.unit): balance.remaining
        for balance in student_balances(student=sam)
    }
    assert page == {
        ("Advising", Unit.MINUTES): 100,
        ("Advising", Unit.SESSIONS): 3,
        ("Tutoring", Unit.MINUTES): 455,
    }
    report = {}
    for name in ("Advising", "Tutoring"):
        narrowed = LedgerFilters(
            start=MAY.start, end=MAY.end, student=sam, service_type=service_type(org, name)
        )
        for row in figures(history, usage.outstanding_at, narrowed, day=date(2025, 6, 11)):
            report[(name, row["unit"])] = row["outstanding"]
    assert report == page
