"""Migration operations shared by the apps' migrations."""

from typing import Any

from django.contrib.postgres.operations import AddIndexConcurrently, RemoveIndexConcurrently
from django.db.migrations.operations import AddIndex, RemoveIndex


class AddIndexWithoutBlocking(AddIndexConcurrently):
    """An index built without blocking writes to its table: `CREATE INDEX CONCURRENTLY` on
    PostgreSQL, so its migration is not atomic (`atomic = False`). A build that failed half way
    leaves an invalid index of that name: it is dropped (concurrently too) and built again.
    Elsewhere (SQLite, `make run`) a plain `CREATE INDEX`."""

    def database_forwards(
        self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any
    ) -> None:
        if schema_editor.connection.vendor != "postgresql":
            AddIndex.database_forwards(self, app_label, schema_editor, from_state, to_state)
            return
        with schema_editor.connection.cursor() as cursor:
            cursor.execute(
                "SELECT NOT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
                "WHERE c.relname = %s",
                [self.index.name],
            )
            found = cursor.fetchone()
        if found is not None and found[0]:
            schema_editor.execute(f'DROP INDEX CONCURRENTLY IF EXISTS "{self.index.name}"')
        elif found is not None:
            return  # built already
        super().database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(
        self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any
    ) -> None:
        if schema_editor.connection.vendor != "postgresql":
            AddIndex.database_backwards(self, app_label, schema_editor, from_state, to_state)
            return
        super().database_backwards(app_label, schema_editor, from_state, to_state)


class RemoveIndexWithoutBlocking(RemoveIndexConcurrently):
    """An index dropped without blocking its table: `DROP INDEX CONCURRENTLY` on PostgreSQL (a
    migration that is not atomic), after the index that replaces it was built by
    `AddIndexWithoutBlocking`. Elsewhere (SQLite, `make run`) a plain `DROP INDEX`."""

    def database_forwards(
        self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any
    ) -> None:
        if schema_editor.connection.vendor != "postgresql":
            RemoveIndex.database_forwards(self, app_label, schema_editor, from_state, to_state)
            return
        super().database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(
        self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any
    ) -> None:
        if schema_editor.connection.vendor != "postgresql":
            RemoveIndex.database_backwards(self, app_label, schema_editor, from_state, to_state)
            return
        super().database_backwards(app_label, schema_editor, from_state, to_state)
