"""Recompute every balance column from the ledger, in one aggregated SQL pass.

One statement: a GROUP BY over the entries per grant and one per allocation, each joined to
its rows (a hash join, not a correlated subquery per row), so the cost is a fixed number of
scans of the ledger however many grants there are. scripts/bench_reconcile.py measures it on
a large organization; docs/ledger.md has the figures.

The students' summaries (`StudentBalance`) are checked in the same statement against the
ledger too: each is the sum of the usable deltas of the student's entries of its unit (the
per-grant sums regrouped per student), so a summary that drifted, one missing and one without
grants are each reported, whatever a tampered grant row says.
"""

from dataclasses import dataclass

from django.db import connection

from grants.models import GrantStatus, Unit


@dataclass(frozen=True)
class Difference:
    what: str
    pk: int
    column: str
    stored: int
    from_ledger: int

    def __str__(self) -> str:
        return (
            f"{self.what} {self.pk}: {self.column} is {self.stored}, "
            f"the ledger says {self.from_ledger}"
        )


# Portable SQL (PostgreSQL, and the embedded SQLite of `make run`). Grouping the entries once
# by (grant, allocation) and regrouping that per grant reads the table once but was slower on
# PostgreSQL (the regrouping sums bigints as numerics); two plain GROUP BYs also run in
# parallel workers. `{scope}` is unqualified: in every FROM only the base table has an
# organization_id.
SUMMARY = 2  # the first column of a summary's row

_DIFFERENCES = """
WITH per_grant AS (
    SELECT grant_id, SUM(total_delta) AS total, SUM(used_delta) AS used,
           SUM(held_delta) AS held, SUM(usable_delta) AS usable
      FROM grants_grantentry
     WHERE {scope}
     GROUP BY grant_id
), per_allocation AS (
    SELECT allocation_id, SUM(held_delta) AS held, SUM(used_delta) AS consumed
      FROM grants_grantentry
     WHERE {scope} AND allocation_id IS NOT NULL
     GROUP BY allocation_id
), held_by_allocations AS (
    SELECT grant_id, SUM(held) AS held
      FROM grants_allocation
     WHERE {scope}
     GROUP BY grant_id
), grant_rows AS (
    SELECT g.id, g.total, g.used, g.held,
           COALESCE(l.total, 0) AS l_total, COALESCE(l.used, 0) AS l_used,
           COALESCE(l.held, 0) AS l_held, COALESCE(a.held, 0) AS a_held,
           CASE WHEN g.status = %(active)s
                THEN COALESCE(l.total - l.used - l.held, 0) ELSE 0 END AS usable,
           COALESCE(l.usable, 0) AS l_usable
      FROM grants_grant g
      LEFT JOIN per_grant l ON l.grant_id = g.id
      LEFT JOIN held_by_allocations a ON a.grant_id = g.id
     WHERE {scope}
), summed_per_student AS (
    SELECT g.student_id, g.unit, SUM(COALESCE(l.usable, 0)) AS usable
      FROM grants_grant g
      LEFT JOIN per_grant l ON l.grant_id = g.id
     WHERE {scope}
     GROUP BY g.student_id, g.unit
), balance_rows AS (
    SELECT COALESCE(b.student_id, l.student_id) AS student_id,
           COALESCE(b.unit, l.unit) AS unit,
           b.active_available AS stored, l.usable AS l_usable
      FROM (SELECT student_id, unit, active_available
              FROM grants_studentbalance WHERE {scope}) b
      FULL OUTER JOIN summed_per_student l
        ON l.student_id = b.student_id AND l.unit = b.unit
), allocation_rows AS (
    SELECT al.id, al.held, al.consumed,
           COALESCE(p.held, 0) AS l_held, COALESCE(p.consumed, 0) AS l_consumed
      FROM grants_allocation al
      LEFT JOIN per_allocation p ON p.allocation_id = al.id
     WHERE {scope}
)
SELECT 0, id, total, used, held, l_total, l_used, l_held, a_held, usable, l_usable
  FROM grant_rows
 WHERE total <> l_total OR used <> l_used OR held <> l_held OR held <> a_held
       OR usable <> l_usable
UNION ALL
SELECT 1, id, NULL, consumed, held, NULL, l_consumed, l_held, NULL, NULL, NULL
  FROM allocation_rows
 WHERE held <> l_held OR consumed <> l_consumed
UNION ALL
SELECT 2, student_id, CASE WHEN unit = %(minutes)s THEN 0 ELSE 1 END, stored, NULL,
       NULL, l_usable, NULL, NULL, NULL, NULL
  FROM balance_rows
 WHERE stored IS NULL OR l_usable IS NULL OR stored <> l_usable
ORDER BY 1, 2, 3
"""


def differences_query(
    *, organization_id: int | None = None
) -> tuple[str, dict[str, str | int | None]]:
    scope = "TRUE" if organization_id is None else "organization_id = %(organization)s"
    params = {
        "active": GrantStatus.ACTIVE.value,
        "minutes": Unit.MINUTES.value,
        "organization": organization_id,
    }
    return _DIFFERENCES.format(scope=scope), params


def find_differences(*, organization_id: int | None = None) -> list[Difference]:
    with connection.cursor() as cursor:
        cursor.execute(*differences_query(organization_id=organization_id))
        rows = cursor.fetchall()

    differences: list[Difference] = []
    for (
        is_allocation,
        pk,
        total,
        used,
        held,
        l_total,
        l_used,
        l_held,
        a_held,
        usable,
        l_usable,
    ) in rows:
        if is_allocation == SUMMARY:
            # `total` holds the unit (0 minutes, 1 sessions), `used` the summary, `l_used`
            # the sum of the usable deltas of the student's entries of that unit.
            unit = Unit.MINUTES if total == 0 else Unit.SESSIONS
            column = "missing" if used is None else "without grants" if l_used is None else "amount"
            differences.append(
                Difference(f"student {unit} summary", pk, column, used or 0, l_used or 0)
            )
            continue
        if is_allocation:
            if held != l_held:
                differences.append(Difference("allocation", pk, "held", held, l_held))
            if used != l_used:
                differences.append(Difference("allocation", pk, "consumed", used, l_used))
            continue
        for column, stored, computed in (
            ("total", total, l_total),
            ("used", used, l_used),
            ("held", held, l_held),
        ):
            if stored != computed:
                differences.append(Difference("grant", pk, column, stored, computed))
        if held != a_held:
            differences.append(
                Difference("grant", pk, "held (sum of its allocations)", held, a_held)
            )
        if usable != l_usable:
            # The usable deltas disagree with the grant's status: the history's running
            # balance would be wrong.
            differences.append(
                Difference("grant", pk, "usable balance (available while active)", usable, l_usable)
            )
    return differences


# A session's `charged_minutes` mirrors what the ledger consumed for it, net of restores (in
# the relationship's unit: minutes, or 1 per session): the used deltas of its entries. The
# ledger's services consume and the session's service stores the figure in one transaction,
# two steps a caller of the ledger alone takes separately, so this is checked here rather than
# by a trigger. The ledger reads the sessions table only in this one statement.
_SESSION_DIFFERENCES = """
SELECT s.id, s.charged_minutes, COALESCE(l.used, 0)
  FROM sessions_app_session s
  LEFT JOIN (SELECT session_id, SUM(used_delta) AS used
               FROM grants_grantentry
              WHERE {scope} AND session_id IS NOT NULL
              GROUP BY session_id) l ON l.session_id = s.id
 WHERE {session_scope} AND s.charged_minutes <> COALESCE(l.used, 0)
 ORDER BY s.id
"""


def find_session_differences(*, organization_id: int | None = None) -> list[Difference]:
    """Sessions whose charged minutes differ from what their ledger entries consumed."""
    if organization_id is None:
        query = _SESSION_DIFFERENCES.format(scope="TRUE", session_scope="TRUE")
    else:
        query = _SESSION_DIFFERENCES.format(
            scope="organization_id = %(organization)s",
            session_scope="s.organization_id = %(organization)s",
        )
    with connection.cursor() as cursor:
        cursor.execute(query, {"organization": organization_id})
        rows = cursor.fetchall()
    return [
        Difference("session", pk, "charged minutes", stored, from_ledger)
        for pk, stored, from_ledger in rows
    ]
