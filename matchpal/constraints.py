"""Which database constraint an IntegrityError broke, read the same on PostgreSQL and SQLite.

PostgreSQL names the constraint (psycopg's `diag.constraint_name`). SQLite names it only for
CHECK constraints and expression indexes; for a unique constraint on plain columns it lists the
columns ("UNIQUE constraint failed: relationships_relationship.student_id, …"), so the constraint
is recognised by its table and columns, read from the models' `Meta.constraints`. Services
compare the returned name with the constraint they guard and raise their own DomainError, so no
constraint name or database text ever reaches a person.
"""

import re
from functools import cache

from django.apps import apps
from django.db import IntegrityError, models

_NAMED = re.compile(
    r"(?:UNIQUE|CHECK) constraint failed: (?:index '(?P<index>\w+)'|(?P<check>\w+)$)"
)
_COLUMNS = re.compile(r"UNIQUE constraint failed: (?P<columns>[\w.]+(?:, [\w.]+)*)$")


def violated_constraint(exc: IntegrityError) -> str | None:
    """The name of the constraint `exc` reports, or None when the database does not say."""
    diag = getattr(exc.__cause__, "diag", None)
    name = getattr(diag, "constraint_name", None)
    if name:
        return str(name)
    text = str(exc).strip()
    if match := _COLUMNS.match(text):
        qualified = [part.rsplit(".", 1) for part in match["columns"].split(", ")]
        tables = {table for table, _ in qualified}
        if len(tables) == 1:
            return _unique_by_columns().get((tables.pop(), frozenset(c for _, c in qualified)))
        return None
    if match := _NAMED.match(text):
        return match["index"] or match["check"]
    return None


@cache
def _unique_by_columns() -> dict[tuple[str, frozenset[str]], str]:
    """(table, columns) → name of every field-based UniqueConstraint of every model."""
    found: dict[tuple[str, frozenset[str]], str] = {}
    for model in apps.get_models():
        opts = model._meta
        for constraint in opts.constraints:
            if isinstance(constraint, models.UniqueConstraint) and constraint.fields:
                columns = frozenset(opts.get_field(f).column for f in constraint.fields)
                found[(opts.db_table, columns)] = constraint.name
    return found
