"""The payroll's figures on a known history, checked to the cent (docs/reports.md, "Payroll"):
what was charged, at the rates stored on each session, per the confirmation rule and the
center's setting for charged absences; a provider's own figures only."""

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied

from relationships import services as rel_services
from relationships.models import Relationship
from reports.framework import Scope
from reports.payroll import (
    payroll_by_period,
    payroll_by_provider,
    payroll_rows,
    payroll_totals,
    pending_sessions,
)
from sessions_app import services
from sessions_app.models import Session
from tests.support import (
    NY,
    Tenant,
    at,
    log_as_admin,
    member,
    other_provider,
    paired,
    past_grant,
    service_type,
    set_policy,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("clock")]

JUNE = (date(2025, 6, 1), date(2025, 6, 30))


def june(tenant: Tenant, user=None, **kwargs) -> Scope:  # type: ignore[no-untyped-def]
    return Scope(
        organization=tenant.organization,
        membership=member(user or tenant.admin, tenant.organization),
        start=JUNE[0],
        end=JUNE[1],
        **kwargs,
    )


@dataclass
class Payroll:
    rows: list[dict]  # type: ignore[type-arg]
    providers: list[dict]  # type: ignore[type-arg]
    periods: list[dict]  # type: ignore[type-arg]
    totals: dict  # type: ignore[type-arg]
    pending: list[Session]


def payroll(scope: Scope) -> Payroll:
    """Every figure of the scope's payroll, read."""
    return Payroll(
        rows=list(payroll_rows(scope)),
        providers=list(payroll_by_provider(scope)),
        periods=list(payroll_by_period(scope)),
        totals=payroll_totals(scope),
        pending=list(pending_sessions(scope).select_related("relationship")),
    )


def by_provider(rows: list[dict], history: "History") -> tuple[dict, dict]:  # type: ignore[type-arg]
    """(Amara's row, the other provider's row), whatever their names' order."""
    found = {row["provider_id"]: row for row in rows}
    assert len(found) == len(rows) == 2
    return found[history.rel.provider.public_id], found[history.other_rel.provider.public_id]


def figures(row: dict) -> tuple:  # type: ignore[type-arg]
    """(sessions, charged, paid, pending sessions, pending minutes, earnings, pending earnings,
    client amount or None)."""
    return (
        row["sessions"],
        row["minutes_charged"],
        row["minutes_paid"],
        row["pending_sessions"],
        row["minutes_pending"],
        row["earnings"],
        row["pending_earnings"],
        row.get("client_total"),
    )


class History:
    """Two providers of one student, with every case the payroll must price."""

    def __init__(self, tenant: Tenant) -> None:
        org = set_policy(
            tenant.organization, late_cancellation_charge="full", no_show_charge="full"
        )
        admin = member(tenant.admin, org)
        past_grant(tenant.student, 3000)
        self.rel: Relationship = paired(
            tenant,
            quantity=1200,
            provider_pay_rate=Decimal("40.00"),
            client_rate=Decimal("50.00"),
        )
        self.other_user, other = other_provider(tenant)
        self.other_rel: Relationship = paired(
            tenant,
            quantity=1200,
            provider=other,
            provider_pay_rate=Decimal("30.00"),
            client_rate=Decimal("45.00"),
        )
        # Amara's month: an hour; 90 minutes edited to 45; the rates go up; 30 minutes at the
        # new rates; a late cancellation charged in full at the new rates.
        self.first = log_as_admin(tenant, self.rel, at(2, 10), 60)
        edited = log_as_admin(tenant, self.rel, at(3, 10), 90)
        services.session_edit(membership=admin, session=edited, duration=45, reason="Ended early")
        rel_services.relationship_change_rates(
            membership=admin,
            relationship=self.rel,
            provider_pay_rate=Decimal("60.00"),
            client_rate=Decimal("80.00"),
            reason="New school year",
        )
        self.rel.refresh_from_db()
        log_as_admin(tenant, self.rel, at(4, 10), 30)
        late = log_as_admin(tenant, self.rel, at(12, 10), 60, scheduled=True)
        services.session_cancel(membership=admin, session=late, reason="Ill")
        # Not charged: cancelled well ahead; still scheduled; and July, outside the range.
        early = log_as_admin(tenant, self.rel, at(20, 10), 60, scheduled=True)
        services.session_cancel(membership=admin, session=early, reason="Holiday")
        log_as_admin(tenant, self.rel, at(25, 10), 60, scheduled=True)
        log_as_admin(tenant, self.rel, at(1, 10, month=7), 60, scheduled=True)
        # The other provider: the student did not come (charged), then the provider did not.
        absent = log_as_admin(tenant, self.other_rel, at(5, 10), 60)
        services.session_no_show(membership=admin, session=absent, party="student")
        away = log_as_admin(tenant, self.other_rel, at(6, 10), 60)
        services.session_no_show(membership=admin, session=away, party="provider")
        log_as_admin(tenant, self.other_rel, at(9, 10), 120)
        # May: before the range.
        log_as_admin(tenant, self.rel, datetime(2025, 5, 30, 10, tzinfo=NY), 60)


@pytest.fixture
def history(tenant_a: Tenant) -> History:
    return History(tenant_a)


@pytest.mark.sqlite
def test_each_provider_is_paid_for_what_was_charged_at_the_sessions_rates(
    tenant_a: Tenant, history: History
) -> None:
    result = payroll(june(tenant_a))
    amara, other = by_provider(result.providers, history)
    assert amara["provider"] == tenant_a.provider.name
    # 60 at 40/50, 45 (edited from 90) at 40/50, 30 at 60/80, a late cancellation of 60 at 60/80.
    assert figures(amara) == (
        4,
        195,
        195,
        0,
        0,
        Decimal("40.00") + Decimal("30.00") + Decimal("30.00") + Decimal("60.00"),
        Decimal("0.00"),
        Decimal("50.00") + Decimal("37.50") + Decimal("40.00") + Decimal("80.00"),
    )
    assert (amara["completed"], amara["late_cancelled"], amara["student_no_shows"]) == (3, 1, 0)
    # A student's no-show of 60 and 120 minutes at 30/45; the provider's no-show earns nothing.
    assert figures(other) == (
        2,
        180,
        180,
        0,
        0,
        Decimal("90.00"),
        Decimal("0.00"),
        Decimal("135.00"),
    )
    assert (other["student_no_shows"], other["provider_no_shows"]) == (1, 1)
    assert figures(result.totals) == (
        6,
        375,
        375,
        0,
        0,
        Decimal("250.00"),
        Decimal("0.00"),
        Decimal("342.50"),
    )
    assert result.pending == []


@pytest.mark.sqlite
def test_rows_per_period_add_up_to_each_provider(tenant_a: Tenant, history: History) -> None:
    result = payroll(june(tenant_a, period="week"))
    weeks = sorted(
        (
            "amara" if row["provider_id"] == tenant_a.provider.public_id else "other",
            row["period_start"],
            row["minutes_paid"],
        )
        for row in result.rows
    )
    amara, other = "amara", "other"
    # Weeks start on Monday in the center's zone: June 2 and June 9.
    assert weeks == [
        (amara, date(2025, 6, 2), 135),
        (amara, date(2025, 6, 9), 60),
        (other, date(2025, 6, 2), 60),
        (other, date(2025, 6, 9), 120),
    ]
    assert [(row["period_start"], row["earnings"]) for row in result.periods] == [
        (date(2025, 6, 2), Decimal("130.00")),
        (date(2025, 6, 9), Decimal("120.00")),
    ]


@pytest.mark.sqlite
def test_unconfirmed_sessions_are_pending_not_paid(tenant_a: Tenant, history: History) -> None:
    set_policy(tenant_a.organization, require_student_confirmation=True)
    services.session_confirm(
        membership=member(tenant_a.student_user, tenant_a.organization), session=history.first
    )
    result = payroll(june(tenant_a))
    amara, other = by_provider(result.providers, history)
    # Confirmed: the first hour. Pending: 45 at 40 and 30 at 60. The late cancellation is an
    # absence: the confirmation rule does not apply to it.
    assert figures(amara) == (
        4,
        195,
        120,
        2,
        75,
        Decimal("100.00"),
        Decimal("60.00"),
        Decimal("207.50"),
    )
    assert figures(other) == (
        2,
        180,
        60,
        1,
        120,
        Decimal("30.00"),
        Decimal("60.00"),
        Decimal("135.00"),
    )
    assert [(s.starts_at, s.relationship.provider_id) for s in result.pending] == [  # by start
        (at(3, 10), tenant_a.provider.pk),
        (at(4, 10), tenant_a.provider.pk),
        (at(9, 10), history.other_rel.provider_id),
    ]
    assert result.totals["pending_sessions"] == 3


def test_charged_absences_unpaid_when_the_center_says_so(
    tenant_a: Tenant, history: History
) -> None:
    set_policy(tenant_a.organization, pay_providers_for_charged_absences=False)
    amara, other = by_provider(payroll(june(tenant_a)).providers, history)
    assert (amara["minutes_paid"], amara["earnings"], amara["client_total"]) == (
        135,
        Decimal("100.00"),
        Decimal("207.50"),
    )
    assert (other["minutes_paid"], other["earnings"]) == (120, Decimal("60.00"))


def test_a_provider_sees_only_their_own_without_the_client_amount(
    tenant_a: Tenant, history: History
) -> None:
    result = payroll(june(tenant_a, tenant_a.provider_user))
    assert [row["provider_id"] for row in result.providers] == [tenant_a.provider.public_id]
    assert "client_total" not in result.totals
    assert result.totals["earnings"] == Decimal("160.00")
    # Asking for the other provider gives nothing, not their figures.
    asked = payroll(june(tenant_a, tenant_a.provider_user, provider=history.other_rel.provider))
    assert asked.providers == []
    set_policy(tenant_a.organization, providers_see_client_amount=True)
    seen = payroll(june(tenant_a, tenant_a.provider_user))
    assert seen.totals["client_total"] == Decimal("207.50")


def test_a_student_has_no_payroll(tenant_a: Tenant, history: History) -> None:
    with pytest.raises(PermissionDenied):
        payroll(june(tenant_a, tenant_a.student_user))


def test_filters_narrow_every_figure(tenant_a: Tenant, history: History) -> None:
    only_other = payroll(june(tenant_a, provider=history.other_rel.provider))
    assert only_other.totals["earnings"] == Decimal("90.00")
    advising = payroll(june(tenant_a, service_type=service_type(tenant_a.organization, "Advising")))
    assert advising.totals["sessions"] == 0
    assert advising.totals["earnings"] == Decimal("0.00")
    one_day = Scope(
        organization=tenant_a.organization,
        membership=member(tenant_a.admin, tenant_a.organization),
        start=date(2025, 6, 12),
        end=date(2025, 6, 12),
    )
    assert payroll(one_day).totals["minutes_paid"] == 60


def test_another_centers_sessions_never_count(
    tenant_a: Tenant, tenant_b: Tenant, history: History
) -> None:
    past_grant(tenant_b.student, 600)
    rel_b = paired(tenant_b, provider_pay_rate=Decimal("99.00"), client_rate=Decimal("99.00"))
    log_as_admin(tenant_b, rel_b, at(2, 10), 60)
    assert payroll(june(tenant_a)).totals["earnings"] == Decimal("250.00")
    assert payroll(june(tenant_b)).totals["earnings"] == Decimal("99.00")


def test_the_figures_agree_with_each_sessions_money(tenant_a: Tenant, history: History) -> None:
    set_policy(tenant_a.organization, require_student_confirmation=True)
    totals = payroll(june(tenant_a)).totals
    start, end = datetime(2025, 6, 1, tzinfo=NY), datetime(2025, 7, 1, tzinfo=NY)
    in_june = Session.objects.filter(starts_at__gte=start, starts_at__lt=end).select_related(
        "organization", "relationship"
    )
    money = [s.money() for s in in_june]
    assert totals["minutes_paid"] == sum(m.paid_minutes for m in money)
    assert totals["earnings"] == sum(m.provider_earnings for m in money)
    assert totals["client_total"] == sum(m.client_amount for m in money)
