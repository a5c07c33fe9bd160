"""The students' summaries (`StudentBalance`): kept by every ledger write, rebuilt from the
grants in one pass, and the SQL both use. Portable SQL (PostgreSQL and the embedded SQLite of
`make run`): `INSERT … ON CONFLICT … DO UPDATE` is in both."""

from collections.abc import Iterable
from typing import Any

from django.db import connection

from grants.models import Grant, GrantStatus

TABLE = "grants_studentbalance"

# What one student's active grants of a unit have free, as the summary holds it.
ACTIVE_AVAILABLE = "SUM(CASE WHEN status = %s THEN total - used - held ELSE 0 END)"


def changes_of(grants_and_deltas: Iterable[tuple[Grant, int]]) -> list[tuple[int, int, str, int]]:
    """`(organization_id, student_id, unit, delta)` per student and unit the entries touched,
    sorted by student and unit: every writer upserts the rows it changes in that one order, so
    two postings on the same students queue instead of deadlocking. A grant touched with a
    zero delta still has its row (its first entry creates it)."""
    rows: dict[tuple[int, str], list[Any]] = {}
    for grant, delta in grants_and_deltas:
        row = rows.setdefault((grant.student_id, grant.unit), [grant.organization_id, 0])
        row[1] += delta
    return [
        (organization_id, student_id, unit, delta)
        for (student_id, unit), (organization_id, delta) in sorted(rows.items())
    ]


def upsert_sql(changes: list[tuple[int, int, str, int]]) -> tuple[str, list[Any]]:
    """One statement adding each delta to its row, creating the rows missing."""
    values = ", ".join("(%s, %s, %s, %s)" for _ in changes)
    params = [value for change in changes for value in change]
    sql = (
        f"INSERT INTO {TABLE} (organization_id, student_id, unit, active_available)"  # noqa: S608
        f" VALUES {values} ON CONFLICT (student_id, unit) DO UPDATE"
        f" SET active_available = {TABLE}.active_available + excluded.active_available"
        # A zero delta (a session's consumption from its hold) leaves the row as it is: it is
        # locked all the same, in the same order, but no new version of it is written.
        f" WHERE excluded.active_available <> 0"
    )
    return sql, params


def apply(changes: list[tuple[int, int, str, int]]) -> None:
    if changes:
        with connection.cursor() as cursor:
            cursor.execute(*upsert_sql(changes))


def rebuild(*, organization_id: int | None = None) -> None:
    """Recompute the summaries of one organization (or all) from the grants: for a bulk load
    that wrote grants without the ledger's services (the scale generator), never needed after
    a posting."""
    scope = "" if organization_id is None else " WHERE organization_id = %s"
    scope_params = [] if organization_id is None else [organization_id]
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {TABLE}{scope}", scope_params)  # noqa: S608
        cursor.execute(
            f"INSERT INTO {TABLE} (organization_id, student_id, unit, active_available)"  # noqa: S608
            f" SELECT organization_id, student_id, unit, {ACTIVE_AVAILABLE}"
            f" FROM grants_grant{scope} GROUP BY organization_id, student_id, unit",
            [GrantStatus.ACTIVE.value, *scope_params],
        )


# The center's summaries (`CenterBalance`) as the ledger computes them: each grant's sums of
# its entries, counted under every service type it covers.
CENTER_TABLE = "grants_centerbalance"
CENTER_COLUMNS = (
    "organization_id, service_type_id, unit, purchased, total, used, held, active_available"
)
CENTER = """
SELECT gst.organization_id, gst.service_type_id, g.unit, SUM(e.purchased) AS purchased,
       SUM(e.total) AS total, SUM(e.used) AS used, SUM(e.held) AS held,
       SUM(e.usable) AS active_available
FROM (
    SELECT grant_id,
           SUM(CASE WHEN kind = 'credit' THEN total_delta ELSE 0 END) AS purchased,
           SUM(total_delta) AS total, SUM(used_delta) AS used,
           SUM(held_delta) AS held, SUM(usable_delta) AS usable
    FROM grants_grantentry {where} GROUP BY grant_id
) e
JOIN grants_grant g ON g.id = e.grant_id
JOIN grants_grantservicetype gst ON gst.grant_id = e.grant_id
GROUP BY gst.organization_id, gst.service_type_id, g.unit
"""


def rebuild_center(*, organization_id: int | None = None) -> None:
    """Recompute the center summaries of one organization (or all) from the ledger: after a
    bulk load that wrote entries with the trigger disabled."""
    scope = "" if organization_id is None else " WHERE organization_id = %s"
    params = [] if organization_id is None else [organization_id]
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {CENTER_TABLE}{scope}", params)  # noqa: S608
        cursor.execute(
            f"INSERT INTO {CENTER_TABLE} ({CENTER_COLUMNS}) " + CENTER.format(where=scope),
            params,
        )


def center_differences(*, organization_id: int | None = None) -> list[tuple[bool, tuple[Any, ...]]]:
    """`(kept, row)` for each row where the center summaries and the ledger disagree: `kept`
    when the summary holds a row the ledger does not compute (all-zero rows count as absent)."""
    scope = "" if organization_id is None else " WHERE organization_id = %s"
    params = [] if organization_id is None else [organization_id]
    kept = (
        f"SELECT {CENTER_COLUMNS} FROM {CENTER_TABLE} WHERE (purchased <> 0 OR total <> 0"  # noqa: S608
        " OR used <> 0 OR held <> 0 OR active_available <> 0)"
        + ("" if organization_id is None else " AND organization_id = %s")
    )
    computed = CENTER.format(where=scope)
    found: list[tuple[bool, tuple[Any, ...]]] = []
    with connection.cursor() as cursor:
        for first, second, is_kept in ((kept, computed, True), (computed, kept, False)):
            cursor.execute(f"({first}) EXCEPT ({second})", params * 2)
            found += [(is_kept, tuple(row)) for row in cursor.fetchall()]
    return found
