"""The reports' roll-ups (`reports.models`: the Sessions report's and the payroll's): when a
report may read them, a range as their rows, and their rebuild and check (docs/reports.md,
"Roll-ups").

PostgreSQL keeps them (reports/rollup_sql.py); elsewhere there are none and every report reads
the sessions, which is also what they are checked against.
"""

import operator
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from functools import reduce
from typing import Any

from django.db import connection, transaction
from django.db.models import Q

from reports import ledger_sql, payroll_sql
from reports.models import FIGURES, PAYROLL_FIGURES, Grain
from reports.rollup_sql import TABLES, differences_sql

# Every roll-up table: its key columns and its figures.
ALL_TABLES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    **{table: (keys, FIGURES) for table, keys in TABLES.items()},
    "reports_payrollperiod": (payroll_sql.KEYS, PAYROLL_FIGURES),
    **ledger_sql.TABLES,
}


def available() -> bool:
    """Does this database keep the roll-ups (PostgreSQL's triggers)?"""
    return connection.vendor == "postgresql"


def _next_month(first: date) -> date:
    return (first.replace(day=28) + timedelta(days=4)).replace(day=1)


def _after(first: date, grain: str) -> date | None:
    """The day after the `grain` block that starts on `first`; None if none starts there."""
    if grain == Grain.DAY:
        return first + timedelta(days=1)
    if grain == Grain.WEEK:
        return first + timedelta(days=7) if first.weekday() == 0 else None
    if first.day != 1:
        return None
    if grain == Grain.MONTH:
        return _next_month(first)
    if grain == Grain.QUARTER:
        return _next_month(_next_month(_next_month(first))) if first.month % 3 == 1 else None
    return date(first.year + 1, 1, 1) if first.month == 1 else None  # a year


# From the longest grain to the shortest: the order `blocks` tries them in.
_LONGEST_FIRST = (Grain.YEAR, Grain.QUARTER, Grain.MONTH, Grain.WEEK, Grain.DAY)


def blocks(start: date, end: date, grains: Iterable[str]) -> list[tuple[str, date, date]]:
    """The days `start` to `end` (both included) as the fewest roll-up rows of `grains` (which
    hold the day), each day in exactly one: from each day on, the longest block of an allowed
    grain that starts there and ends inside the range. Consecutive blocks of one grain come as
    one run (`grain`, first block's first day, last block's first day). A year of whole months
    is one to six runs; a year starting on the 15th adds the days before the next 1st."""
    allowed = [grain for grain in _LONGEST_FIRST if grain in set(grains)]
    assert Grain.DAY in allowed, "the days fill what no longer block covers"
    runs: list[tuple[str, date, date]] = []
    day = start
    while day <= end:
        for grain in allowed:
            after = _after(day, grain)
            if after is not None and after - timedelta(days=1) <= end:
                break
        if runs and runs[-1][0] == grain:
            runs[-1] = (grain, runs[-1][1], day)
        else:
            runs.append((grain, day, day))
        assert after is not None
        day = after
    return runs


def cover(start: date, end: date, grains: Iterable[str]) -> Q:
    """The roll-up rows (of a table keeping `grains`) that hold the days `start` to `end`, each
    day once (`blocks`), as a condition on `grain` and `first_day`."""
    runs = [
        Q(grain=grain, first_day__gte=first, first_day__lte=last)
        for grain, first, last in blocks(start, end, grains)
    ]
    return reduce(operator.or_, runs)


@dataclass(frozen=True)
class Difference:
    table: str
    key: dict[str, Any]
    actual: dict[str, Any] | None  # None: the row is missing
    expected: dict[str, Any] | None  # None: the row should not be there

    def __str__(self) -> str:
        key = ", ".join(f"{name}={value}" for name, value in self.key.items())
        if self.actual is None:
            return f"{self.table} ({key}): missing; the sessions give {self.expected}"
        if self.expected is None:
            return f"{self.table} ({key}): {self.actual}, but no session counts there"
        changed = {
            name: f"{value} ≠ {self.expected[name]}"
            for name, value in self.actual.items()
            if value != self.expected[name]
        }
        return f"{self.table} ({key}): {changed} (roll-up ≠ sessions)"


def find_differences(*, organization_id: int | None = None, limit: int = 100) -> list[Difference]:
    """Every roll-up row that differs from what the sessions (or the ledger) give (at most
    `limit` per table). Each table is compared in one statement, so with the sessions of one
    snapshot."""
    differences: list[Difference] = []
    with connection.cursor() as cursor:
        for table, (keys, figures) in ALL_TABLES.items():
            sql = (
                ledger_sql.ledger_differences_sql(table)
                if table in ledger_sql.TABLES
                else differences_sql(table, keys, figures)
            )
            cursor.execute(
                sql,
                {"organization": organization_id, "limit": limit},
            )
            for row in cursor.fetchall():
                key = dict(zip(keys, row[: len(keys)], strict=True))
                actual = dict(zip(figures, row[len(keys) : len(keys) + len(figures)], strict=True))
                expected = dict(zip(figures, row[len(keys) + len(figures) :], strict=True))
                differences.append(
                    Difference(
                        table=table,
                        key=key,
                        actual=None if actual[figures[0]] is None else actual,
                        expected=None if expected[figures[0]] is None else expected,
                    )
                )
    return differences


def rebuild(*, organization_id: int | None = None) -> None:
    """Recompute the roll-ups of one organization (all with None) from its sessions and its
    ledger, holding off session and ledger writers until the transaction ends (readers go
    on)."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT reports_rollup_rebuild(%s)", [organization_id])
        cursor.execute("SELECT reports_ledger_rebuild(%s)", [organization_id])
