"""The COPY loader: every planned table copied in foreign-key order inside the caller's
transaction, in slices, with the triggers that are off for the load (their work done or
checked afterwards); ids continued after existing rows; statistics refreshed at the end.

Every CHECK, unique, foreign-key and composite tenant key stays on and checks each row."""

from __future__ import annotations

import functools
import itertools
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from django.db import connection
from psycopg import sql

from .checks import check_same_student

if TYPE_CHECKING:
    from .plan import Plan
    from .run import Report, Steps
    from .tables import Table

# The triggers off during the load. The allocation's runs a query per allocation (tens of
# thousands), and `checks.check_same_student` checks its rule for every row at once afterwards;
# the sessions' roll-up trigger would run three upserts per session (a million), and
# `run.generate` builds the roll-ups from every session at once afterwards (reports/rollups.py,
# which rebuilds the ledger's roll-ups too: their trigger is off for the ledger's COPY);
# likewise the admin home's summaries and the students' charged totals (sessions_app/rollups.py,
# grants.balances.rebuild_center).
ALLOCATION_TRIGGER = ("grants_allocation", "allocation_same_student")
TRIGGERS_OFF = (
    ALLOCATION_TRIGGER,
    ("sessions_app_session", "reports_session_written_insert_delete"),
    ("sessions_app_session", "reports_session_written_update"),
    ("sessions_app_session", "sessions_app_session_rollups_write"),
    ("sessions_app_session", "students_charged_total_write"),
    ("relationships_relationship", "sessions_app_relationship_mirror_write"),
    ("grants_grantentry", "grants_center_balance"),
    ("grants_grantentry", "reports_ledger_rollup"),
)
# The ledger's row checks (grants 0010): each reads one grant's entries, a query per row of
# millions; the generator's reconcile checks every balance against the whole ledger at once
# afterwards (`run`), and a difference fails the run.
LEDGER_TRIGGERS = (
    ("grants_grant", "grant_matches_ledger_insert"),
    ("grants_grantentry", "grant_matches_ledger"),
)

# Rows per COPY statement: each statement's key checks run at its end, so a large table is
# copied in slices, each reported, and the queue of pending checks stays bounded.
COPY_SLICE = 200_000


def start_ids(plan: Plan) -> None:
    """Ids continue after the rows already there (users, say: a superuser)."""
    with connection.cursor() as cursor:
        for table in plan.tables.values():
            cursor.execute(
                sql.SQL("SELECT COALESCE(MAX(id), 0) + 1 FROM {}").format(
                    sql.Identifier(table.name)
                )
            )
            (table.next_id,) = cursor.fetchone()


def load(plan: Plan, steps: Steps, report: Report) -> None:
    """COPY every table in foreign-key order, inside the caller's transaction.

    Key checks run at each statement's end (`SET CONSTRAINTS ALL IMMEDIATE`) rather than all
    at the commit, so a bad row is named by the COPY that wrote it. The triggers of
    `TRIGGERS_OFF` are disabled by an ALTER inside this same transaction: a failure anywhere
    rolls the ALTER back with the rows, and they are enabled again once every table is
    copied."""
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        _set_trigger(cursor, "DISABLE")
        for t in plan.tables.values():
            steps.run(
                f"copy {t.name} ({len(t.rows):,} rows)",
                functools.partial(_copy, cursor, t, steps.write),
            )
            report.rows[t.name] = len(t.rows)
            t.rows.clear()
        _set_trigger(cursor, "ENABLE")
        steps.run("check allocations' grant and relationship", lambda: check_same_student(cursor))


def _set_trigger(cursor: Any, action: str) -> None:
    for table, trigger in (*TRIGGERS_OFF, *LEDGER_TRIGGERS):
        cursor.execute(
            sql.SQL("ALTER TABLE {} {} TRIGGER {}").format(
                sql.Identifier(table), sql.SQL(action), sql.Identifier(trigger)
            )
        )


def _copy(cursor: Any, table: Table, write: Callable[[str], None]) -> None:
    """One table, `COPY_SLICE` rows per statement (each slice reported when there are
    several), then its statistics and its id sequence."""
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(table.name), sql.SQL(", ").join([sql.Identifier(c) for c in table.columns])
    )
    constants, rows, started = table.constants, table.rows, time.perf_counter()
    for start in range(0, len(rows), COPY_SLICE):
        with cursor.cursor.copy(statement) as copy:
            for row in itertools.islice(rows, start, start + COPY_SLICE):
                copy.write_row(row + constants)
        if len(rows) > COPY_SLICE:
            done = min(start + COPY_SLICE, len(rows))
            write(f"    {done:>9,} rows  {time.perf_counter() - started:8.1f} s")
    # Statistics at once: the key checks of the tables copied next look rows up in this one.
    cursor.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(table.name)))
    cursor.execute(
        sql.SQL(
            "SELECT setval(pg_get_serial_sequence(%s, 'id'), GREATEST((SELECT MAX(id) FROM {}), 1))"
        ).format(sql.Identifier(table.name)),
        [table.name],
    )


def vacuum_analyze(plan: Plan) -> None:
    """Fresh statistics and visibility maps, as a center that has been running would have.
    Inside a transaction (a test's), VACUUM cannot run: statistics only."""
    command = "ANALYZE {}" if connection.in_atomic_block else "VACUUM (ANALYZE) {}"
    with connection.cursor() as cursor:
        for table in plan.tables.values():
            cursor.execute(sql.SQL(command).format(sql.Identifier(table.name)))
