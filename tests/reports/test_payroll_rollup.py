"""The payroll's roll-up (`reports.PayrollPeriod`, kept by the triggers of
`reports/payroll_sql.py`): it equals a recomputation from the sessions after every kind of
change, and an admin's payroll drawn from it is the payroll drawn from the sessions, table by
table, whatever the center's confirmation and absence settings (docs/reports.md, "Roll-ups")."""

from datetime import date
from typing import Any

import pytest
from django.utils import timezone

from matchpal.models import Organization, ServiceType
from reports import payroll
from reports.catalog.payroll import PayrollReport
from reports.framework import Period, Scope
from reports.models import PayrollPeriod
from reports.rollups import find_differences
from sessions_app import services as session_services
from sessions_app.models import Session, SessionKind
from tests.reports.history import History, build
from tests.reports.ledger_history import build_history
from tests.support import Tenant, at, log_as_admin, member

pytestmark = [pytest.mark.django_db]


@pytest.fixture
def history(clock: object, tenant_a: Tenant, tenant_b: Tenant) -> History:
    build_history(tenant_b)
    return build(tenant_a)


def rows_of_payroll() -> list[tuple[Any, ...]]:
    fields = [f.attname for f in PayrollPeriod._meta.concrete_fields if f.name != "id"]
    return sorted(PayrollPeriod.objects.values_list(*fields))


def test_the_payroll_rollup_holds_what_the_sessions_say_after_every_kind_of_change(
    history: History, tenant_a: Tenant
) -> None:
    org = tenant_a.organization
    admin = member(tenant_a.admin, org)
    assert PayrollPeriod.objects.filter(organization=org).exists()
    revision = log_as_admin(
        tenant_a, history.minutes, at(10, 9), 30, kind=SessionKind.REVISION, review_minutes=20
    )
    session_services.session_edit(membership=admin, session=revision, review_minutes=45)
    moved = log_as_admin(tenant_a, history.minutes, at(9, 15), 45)
    session_services.session_reschedule(membership=admin, session=moved, starts_at=at(7, 11))
    assert find_differences() == []

    # A confirmation, a new rate, a fixed revision value and a deletion, written straight.
    some = Session.objects.filter(organization=org, status="completed").order_by("id")
    Session.objects.filter(pk=some[0].pk).update(student_confirmed_at=timezone.now())
    Session.objects.filter(pk=some[1].pk).update(provider_pay_rate="47.37", client_rate="61.11")
    Session.objects.filter(pk=revision.pk).update(review_minutes=None)
    Organization.objects.filter(pk=org.pk).update(revision_minutes=75)
    assert find_differences() == []
    Organization.objects.filter(pk=org.pk).update(time_zone="Asia/Tokyo")
    assert find_differences() == []
    assert not PayrollPeriod.objects.filter(rows=0).exists()


def test_an_update_no_payroll_figure_reads_leaves_the_rollup_alone(
    history: History, tenant_a: Tenant
) -> None:
    before = rows_of_payroll()
    Session.objects.filter(organization=tenant_a.organization).update(notes="Recap")
    assert rows_of_payroll() == before


def payroll_tables(scope: Scope, *, rolled_up: bool, monkeypatch: Any) -> dict[str, Any]:
    monkeypatch.setattr(payroll, "rolled_up", lambda scope: rolled_up)
    report = PayrollReport(scope)
    return {
        "totals": report.totals,
        **{table.name: (list(table.rows), table.totals) for table in report.tables()},
    }


@pytest.mark.parametrize(
    ("start", "end", "period"),
    [
        ("2025-06-01", "2025-06-30", Period.DAY),
        ("2025-05-15", "2025-07-10", Period.WEEK),
        ("2025-06-03", "2025-06-20", Period.WEEK),
        ("2025-01-01", "2025-12-31", Period.MONTH),
        ("2024-12-31", "2025-06-01", Period.MONTH),
    ],
)
@pytest.mark.parametrize("service", [None, "Tutoring"])
@pytest.mark.parametrize(("confirmation", "absences"), [(False, True), (True, False)])
def test_an_admins_payroll_from_the_rollup_is_the_payroll_from_the_sessions(
    history: History,
    tenant_a: Tenant,
    monkeypatch: pytest.MonkeyPatch,
    start: str,
    end: str,
    period: str,
    service: str | None,
    confirmation: bool,
    absences: bool,
) -> None:
    org = tenant_a.organization
    Organization.objects.filter(pk=org.pk).update(
        require_student_confirmation=confirmation,
        pay_providers_for_charged_absences=absences,
        revision_minutes=50,
    )
    org.refresh_from_db()
    confirmed = Session.objects.filter(organization=org, status="completed").order_by("id")[:2]
    Session.objects.filter(pk__in=[s.pk for s in confirmed]).update(
        student_confirmed_at=timezone.now()
    )
    scope = Scope(
        organization=org,
        membership=member(tenant_a.admin, org),
        start=date.fromisoformat(start),
        end=date.fromisoformat(end),
        period=period,
        service_type=ServiceType.objects.get(organization=org, name=service) if service else None,
    )
    assert payroll.rolled_up(scope)
    from_rollup = payroll_tables(scope, rolled_up=True, monkeypatch=monkeypatch)
    assert from_rollup == payroll_tables(scope, rolled_up=False, monkeypatch=monkeypatch)
    assert from_rollup["totals"]["sessions"] > 0
