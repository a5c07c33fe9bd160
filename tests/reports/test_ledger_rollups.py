"""The ledger's roll-ups (docs/reports.md, "Roll-ups of the ledger"): kept by PostgreSQL's
trigger in every posting's transaction, they hold what the ledger says after every kind of
entry, the Usage report drawn from them is the report drawn from the ledger, and the check and
the rebuild find and mend any difference. PostgreSQL only: SQLite keeps no roll-ups (its Usage
report reads the ledger, as the figure tests marked `sqlite` check)."""

from datetime import date
from typing import Any

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.models import Q, Sum

from grants import services as ledger
from grants.models import EntryKind, GrantEntry, Unit
from reports import usage
from reports.ledger_scope import LedgerFilters
from reports.models import LedgerDay, StudentLedgerPeriod
from reports.rollups import find_differences
from tests.factories import make_grant
from tests.reports.ledger_history import History, build_history, figures, may
from tests.support import Tenant, at, log_as_admin, paired

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("clock")]


@pytest.fixture
def history(tenant_a: Tenant, tenant_b: Tenant) -> History:
    """The May ledger history (credits by hand and from the shop, holds, consumption, an edit
    that restores, a cancellation, a charged late cancellation, an expiry, refunds, an
    adjustment, a transfer), then an extension of the expired grant, a grant covering two
    service types that is held, consumed and refunded, and another center's postings."""
    built = build_history(tenant_a)
    with time_machine.travel(may(30), tick=False):
        ledger.grant_extend(
            actor=tenant_a.admin, grant=built.g2, expires_at=at(1, 0, month=8), reason="Sorry"
        )
    with time_machine.travel(may(30, 12), tick=False):
        both = make_grant(
            student=built.g1.student, minutes=240, service_types=("Tutoring", "Advising")
        )
    with time_machine.travel(may(31, 9), tick=False):
        log_as_admin(tenant_a, built.r1, may(31, 8), 30)
        ledger.grant_refund(actor=tenant_a.admin, grant=both, quantity=60, reason="Part")
    with time_machine.travel(at(2, 10), tick=False):
        other = make_grant(student=tenant_b.student, minutes=300)
        pairing = paired(tenant_b, quantity=300, paired_at=at(2, 8))
        log_as_admin(tenant_b, pairing, at(2, 9), 45)
        ledger.grant_adjust(actor=tenant_b.admin, grant=other, delta=15, reason="Fix")
    return built


def test_the_rollups_hold_what_the_ledger_says_after_every_kind_of_entry(
    history: History,
) -> None:
    assert find_differences() == []
    kinds = set(LedgerDay.objects.values_list("kind", flat=True))
    assert kinds == {
        EntryKind.CREDIT,
        EntryKind.ADJUST,
        EntryKind.CONSUME,
        EntryKind.RESTORE,
        EntryKind.TRANSFER_IN,
        EntryKind.TRANSFER_OUT,
        EntryKind.REFUND,
        EntryKind.EXPIRE,
        EntryKind.EXTEND,
    }, "holds and releases move no figure: no row"
    # The center's rows add up to the ledger's own sums, per center and unit.
    org = history.tenant.organization
    for unit in Unit.values:
        entries = GrantEntry.objects.filter(organization=org, grant__unit=unit)
        kept = LedgerDay.objects.filter(organization=org, unit=unit, of_service_type__isnull=True)
        for field in ("total_delta", "used_delta"):
            assert kept.aggregate(s=Sum(field))["s"] == entries.aggregate(s=Sum(field))["s"]
        expired = Q(kind__in=[EntryKind.EXPIRE, EntryKind.EXTEND])
        assert (
            kept.filter(expired).aggregate(s=Sum("usable_delta"))["s"]
            == entries.filter(expired).aggregate(s=Sum("usable_delta"))["s"]
        )
        students = StudentLedgerPeriod.objects.filter(organization=org, unit=unit)
        for grain in ("d", "m"):
            assert (
                students.filter(grain=grain).aggregate(s=Sum("used_delta"))["s"]
                == entries.aggregate(s=Sum("used_delta"))["s"]
            )
    # The grant covering both types counts its credit under each type, once for the center.
    credit = Q(organization=org, kind=EntryKind.CREDIT, day=date(2025, 5, 30))
    assert LedgerDay.objects.get(credit, of_service_type__isnull=True).total_delta == 240
    assert sorted(
        LedgerDay.objects.filter(credit, of_service_type__isnull=False).values_list(
            "total_delta", flat=True
        )
    ) == [240, 240]


def _both_ways(monkeypatch: pytest.MonkeyPatch, ask: Any) -> tuple[Any, Any]:
    rolled = ask()
    with monkeypatch.context() as patched:
        patched.setattr(usage, "rolled_up", lambda filters: False)
        from_ledger = ask()
    return rolled, from_ledger


def _without_empty_periods(found: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A period whose entries are only holds and releases has a row of zeros from the ledger
    and none from the roll-ups: the page shows every period of the range either way."""
    return [row for row in found if any(v for k, v in row.items() if k not in ("period", "unit"))]


RANGES = [
    (date(2025, 5, 1), date(2025, 5, 31)),
    (date(2025, 5, 12), date(2025, 5, 25)),
    (date(2025, 4, 15), date(2025, 6, 11)),
    (date(2024, 6, 12), date(2025, 6, 11)),
    (date(2025, 1, 1), date(2025, 6, 11)),
]


@pytest.mark.parametrize(("start", "end"), RANGES)
@pytest.mark.parametrize("narrowed", ["everyone", "Tutoring", "Advising"])
def test_the_usage_figures_from_the_rollups_are_the_ledgers(
    history: History,
    monkeypatch: pytest.MonkeyPatch,
    start: date,
    end: date,
    narrowed: str,
) -> None:
    org = history.tenant.organization
    service_type = None if narrowed == "everyone" else org.service_types.get(name=narrowed)
    for period in ("day", "week", "month"):
        filters = LedgerFilters(start=start, end=end, period=period, service_type=service_type)
        assert usage.rolled_up(filters)
        rolled, from_ledger = _both_ways(
            monkeypatch, lambda f=filters: figures(history, usage.purchased_vs_consumed, f)
        )
        assert _without_empty_periods(rolled) == _without_empty_periods(from_ledger)
        assert rolled or service_type is not None, "the center has flows in every range asked"
    filters = LedgerFilters(start=start, end=end, service_type=service_type)
    for function in (usage.flow_totals, usage.usage_by_service_type, usage.consumption_velocity):
        rolled, from_ledger = _both_ways(
            monkeypatch, lambda fn=function: figures(history, fn, filters)
        )
        assert rolled == from_ledger, function.__name__
    for unit in Unit.values:
        rolled, from_ledger = _both_ways(
            monkeypatch,
            lambda u=unit: figures(history, usage.consumption_velocity, filters, unit=u),
        )
        assert rolled == from_ledger


def test_a_student_or_a_provider_filter_reads_the_ledger(history: History) -> None:
    student = LedgerFilters(
        start=date(2025, 5, 1), end=date(2025, 5, 31), student=history.g1.student
    )
    provider = LedgerFilters(
        start=date(2025, 5, 1), end=date(2025, 5, 31), provider=history.r1.provider
    )
    assert not usage.rolled_up(student)
    assert not usage.rolled_up(provider)


def test_a_time_zone_change_moves_the_days(history: History) -> None:
    org = history.tenant.organization
    # May 20 01:00 in New York (the expiry) is May 19 in Los Angeles.
    assert LedgerDay.objects.filter(
        organization=org, kind=EntryKind.EXPIRE, day=date(2025, 5, 20)
    ).exists()
    org.time_zone = "America/Los_Angeles"
    org.save(update_fields=["time_zone"])
    assert find_differences() == []
    assert LedgerDay.objects.filter(
        organization=org, kind=EntryKind.EXPIRE, day=date(2025, 5, 19)
    ).exists()


def test_check_finds_a_difference_and_rebuild_mends_it(history: History) -> None:
    call_command("rebuild_rollups", "--check")
    LedgerDay.objects.filter(kind=EntryKind.CREDIT).update(total_delta=1)
    StudentLedgerPeriod.objects.filter(grain="m").delete()
    with pytest.raises(CommandError):
        call_command("rebuild_rollups", "--check")
    differences = find_differences()
    assert {d.table for d in differences} == {"reports_ledgerday", "reports_studentledgerperiod"}
    call_command("rebuild_rollups")
    assert find_differences() == []


def test_a_statement_of_holds_writes_nothing(history: History) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM reports_ledgerday")
        (before,) = cursor.fetchone()
    with time_machine.travel(at(3, 10), tick=False):
        ledger.hold(actor=history.tenant.admin, relationship=history.r1, quantity=30, reason="More")
    assert GrantEntry.objects.filter(kind=EntryKind.HOLD, created_at=at(3, 10)).exists()
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM reports_ledgerday")
        assert cursor.fetchone() == (before,)
    assert find_differences() == []


def test_the_velocity_counts_only_the_grants_usable_now(
    history: History, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What is free to book now comes from the students' summaries less their active grants
    not usable now: one not valid yet, one past its date the daily job has not marked. The
    same figures as the ledger's usable grants."""
    student = history.g1.student
    make_grant(student=student, minutes=500, valid_from=at(12, 9))
    with time_machine.travel(at(1, 9), tick=False):
        make_grant(student=student, minutes=700, expires_at=at(10, 9))
    make_grant(student=student, unit=Unit.SESSIONS, minutes=4, valid_from=at(20, 9))
    for start, end in RANGES:
        filters = LedgerFilters(start=start, end=end)
        for unit in (None, *Unit.values):
            rolled, from_ledger = _both_ways(
                monkeypatch,
                lambda u=unit, f=filters: figures(history, usage.consumption_velocity, f, unit=u),
            )
            assert rolled == from_ledger
    rows = figures(history, usage.consumption_velocity, LedgerFilters(*RANGES[2]))
    mine = [row for row in rows if row["student_id"] == student.public_id]
    assert mine, "the student consumed in the range and has hours free"
    assert all(row["unit"] == Unit.MINUTES for row in mine)
