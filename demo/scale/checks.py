"""What the generator checks before and after it writes: the database is PostgreSQL and holds
no organization yet; the rule of the trigger switched off for the load holds for every row; the
ledger reconciles."""

from __future__ import annotations

from typing import Any

from django.db import connection

from grants.reconcile import find_differences, find_session_differences
from matchpal.models import Organization

from .centers import ScaleError

SAME_STUDENT = """
SELECT a.id FROM grants_allocation a
  JOIN grants_grant g ON g.id = a.grant_id
  JOIN relationships_relationship r ON r.id = a.relationship_id
 WHERE g.student_id <> r.student_id
 LIMIT 5
"""


def check_empty() -> None:
    if connection.vendor != "postgresql":
        raise ScaleError("The scale generator loads with PostgreSQL's COPY; set DATABASE_URL.")
    if Organization.objects.exists():
        raise ScaleError(
            "This database has organizations already; the scale generator fills an empty one "
            "(createdb scale, then DATABASE_URL=…/scale manage.py migrate)."
        )


def check_same_student(cursor: Any) -> None:
    """The rule of the `allocation_same_student` trigger, over every allocation at once: an
    allocation holds a grant of its relationship's own student."""
    cursor.execute(SAME_STUDENT)
    wrong = [pk for (pk,) in cursor.fetchall()]
    if wrong:
        raise ScaleError(f"allocation_same_student: allocations {wrong} hold another student's")


def check_reconciles() -> None:
    """Every balance column is the sum of its entries, and every session's charged minutes
    what its entries consumed, as `reconcile_grants` checks."""
    differences = find_differences() + find_session_differences()
    if differences:
        raise ScaleError(f"The generated ledger does not reconcile: {differences[:5]}")
