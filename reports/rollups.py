"""The Sessions report's roll-ups (`reports.models`): when a report may read them, the range as
their rows, and their rebuild and check (docs/reports.md, "Roll-ups").

PostgreSQL keeps them (reports/rollup_sql.py); elsewhere there are none and every report reads
the sessions, which is also what they are checked against.
"""

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from django.db import connection, transaction
from django.db.models import Q

from reports.models import FIGURES, Grain
from reports.rollup_sql import TABLES, differences_sql


def available() -> bool:
    """Does this database keep the roll-ups (PostgreSQL's triggers)?"""
    return connection.vendor == "postgresql"


def _next_month(first: date) -> date:
    return (first.replace(day=28) + timedelta(days=4)).replace(day=1)


@dataclass(frozen=True)
class Parts:
    """A range of days as roll-up rows: the whole months `months` (the 1st of the first, the 1st
    of the month after the last; equal when there is none) and the days around them."""

    start: date
    end: date
    months: tuple[date, date]

    @property
    def whole_months(self) -> bool:
        return self.months[0] < self.months[1]


def parts_of(start: date, end: date) -> Parts:
    first = start if start.day == 1 else _next_month(start)
    last = first
    while _next_month(last) - timedelta(days=1) <= end:
        last = _next_month(last)
    return Parts(start=start, end=end, months=(first, last))


def periods_of(start: date, end: date) -> Q:
    """The rows of `RelationshipPeriod` that hold the days `start` to `end` (both included),
    each day once: the month rows of the months wholly inside the range, the day rows of the
    days outside them. A year of whole months is 12 rows per relationship instead of 365."""
    parts = parts_of(start, end)
    if not parts.whole_months:
        return Q(grain=Grain.DAY, first_day__gte=start, first_day__lte=end)
    first, last = parts.months
    rows = Q(grain=Grain.MONTH, first_day__gte=first, first_day__lt=last)
    if start < first:
        rows |= Q(grain=Grain.DAY, first_day__gte=start, first_day__lt=first)
    if last <= end:
        rows |= Q(grain=Grain.DAY, first_day__gte=last, first_day__lte=end)
    return rows


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
            name: f"{self.actual[name]} ≠ {self.expected[name]}"
            for name in FIGURES
            if self.actual[name] != self.expected[name]
        }
        return f"{self.table} ({key}): {changed} (roll-up ≠ sessions)"


def find_differences(*, organization_id: int | None = None, limit: int = 100) -> list[Difference]:
    """Every roll-up row that differs from what the sessions give (at most `limit` per table).
    Each table is compared in one statement, so with the sessions of one snapshot."""
    differences: list[Difference] = []
    with connection.cursor() as cursor:
        for table, keys in TABLES.items():
            cursor.execute(
                differences_sql(table, keys), {"organization": organization_id, "limit": limit}
            )
            for row in cursor.fetchall():
                key = dict(zip(keys, row[: len(keys)], strict=True))
                actual = dict(zip(FIGURES, row[len(keys) : len(keys) + len(FIGURES)], strict=True))
                expected = dict(zip(FIGURES, row[len(keys) + len(FIGURES) :], strict=True))
                differences.append(
                    Difference(
                        table=table,
                        key=key,
                        actual=None if actual["sessions"] is None else actual,
                        expected=None if expected["sessions"] is None else expected,
                    )
                )
    return differences


def rebuild(*, organization_id: int | None = None) -> None:
    """Recompute the roll-ups of one organization (all with None) from its sessions, holding off
    session writers until the transaction ends (readers go on)."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT reports_rollup_rebuild(%s)", [organization_id])
