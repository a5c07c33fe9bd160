"""Migrations run while the previous release still serves (docs/deploy.md, "Migrations while the
old version serves"): no migration drops or renames a column or table that the code of the
release before it still reads.

A column leaves in two releases. Release N removes the field from the model and the code, with a
state-only migration (`SeparateDatabaseAndState(state_operations=[RemoveField(…)])`): the
column stays, so release N−1, still serving during the deploy, keeps reading it. Release N+1
drops it with a plain `RemoveField`. So a `RemoveField` (or `DeleteModel`) that reaches the
database is refused unless an earlier migration of its app already removed the same field (or
model) from the state alone; a rename (field, model or table) is refused outright (add, copy,
then drop in a later release); raw SQL that drops or renames a column or table is refused.
"""

import re

from django.db import migrations
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.operations.base import Operation

RENAMES = (migrations.RenameField, migrations.RenameModel, migrations.AlterModelTable)
DROPPING_SQL = re.compile(
    r"\bDROP\s+COLUMN\b|\bRENAME\s+COLUMN\b|\bRENAME\s+TO\b|\bDROP\s+TABLE\b", re.IGNORECASE
)


def _key(operation: Operation) -> tuple[str, ...]:
    if isinstance(operation, migrations.RemoveField):
        return ("field", operation.model_name_lower, operation.name_lower)
    return ("model", operation.name_lower)


def _sql_of(operation: migrations.RunSQL) -> str:
    sql = operation.sql
    if isinstance(sql, (list, tuple)):
        return " ".join(s if isinstance(s, str) else s[0] for s in sql)
    return str(sql)


def unsafe_operations(ordered: list[tuple[str, migrations.Migration]]) -> list[str]:
    """What in these migrations (in the order they apply) would break the release before."""
    removed_from_state: set[tuple[str, ...]] = set()
    problems = []
    for name, migration in ordered:
        app = migration.app_label
        for operation in migration.operations:
            where = f"{app}.{name}: {operation.describe()}"
            if isinstance(operation, migrations.SeparateDatabaseAndState):
                for state_op in operation.state_operations:
                    if isinstance(state_op, (migrations.RemoveField, migrations.DeleteModel)):
                        removed_from_state.add((app, *_key(state_op)))
                database_ops = operation.database_operations
            else:
                database_ops = [operation]
            for op in database_ops:
                if isinstance(op, (migrations.RemoveField, migrations.DeleteModel)):
                    if (app, *_key(op)) not in removed_from_state:
                        problems.append(
                            f"{where}: drops what the previous release still reads; remove it "
                            "from the state first (SeparateDatabaseAndState) and drop it in a "
                            "later release"
                        )
                elif isinstance(op, RENAMES):
                    problems.append(f"{where}: a rename breaks the previous release's queries")
                elif isinstance(op, migrations.RunSQL) and DROPPING_SQL.search(_sql_of(op)):
                    problems.append(f"{where}: raw SQL drops or renames a column or table")
    return problems


def project_migrations() -> list[tuple[str, migrations.Migration]]:
    loader = MigrationLoader(None, ignore_no_migrations=True)
    plan = loader.graph.leaf_nodes()
    ordered: list[tuple[str, migrations.Migration]] = []
    seen: set[tuple[str, str]] = set()
    for leaf in plan:
        for key in loader.graph.forwards_plan(leaf):
            if key in seen or key not in loader.disk_migrations:
                continue
            seen.add(key)
            migration = loader.disk_migrations[key]
            if type(migration).__module__.split(".")[0] in {"django", "allauth", "axes"}:
                continue
            ordered.append((key[1], migration))
    return ordered


def test_no_migration_drops_what_the_previous_release_reads() -> None:
    ordered = project_migrations()
    assert any(name == "0010_ledger_kept_by_the_database" for name, _ in ordered)

    assert unsafe_operations(ordered) == []


def _migration(app: str, *operations: Operation) -> migrations.Migration:
    migration = migrations.Migration("0099_test", app)
    migration.operations = list(operations)
    return migration


def test_a_column_dropped_in_the_release_that_stops_reading_it_is_refused() -> None:
    drop = _migration("students", migrations.RemoveField("student", "guardian_name"))

    problems = unsafe_operations([("0099_test", drop)])

    assert len(problems) == 1
    assert "drops what the previous release still reads" in problems[0]


def test_a_column_dropped_after_a_state_only_removal_passes() -> None:
    first = _migration(
        "students",
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.RemoveField("student", "guardian_name")]
        ),
    )
    later = _migration("students", migrations.RemoveField("student", "guardian_name"))

    assert unsafe_operations([("0098_forget", first), ("0099_drop", later)]) == []


def test_renames_and_dropping_sql_are_refused() -> None:
    rename = _migration("students", migrations.RenameField("student", "name", "full_name"))
    raw = _migration(
        "students", migrations.RunSQL("ALTER TABLE students_student DROP COLUMN notes")
    )

    problems = unsafe_operations([("0098", rename), ("0099", raw)])

    assert len(problems) == 2
