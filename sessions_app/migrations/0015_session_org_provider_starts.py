"""The index of a provider's own sessions list, in the list's order (docs/indexes.md), built
without blocking writes to the sessions: `CREATE INDEX CONCURRENTLY` on PostgreSQL, so the
migration is not atomic. A build that failed half way leaves an invalid index of that name:
it is dropped (concurrently too) and built again. Elsewhere (SQLite, `make run`) a plain
`CREATE INDEX`."""

from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models
from django.db.migrations.operations import AddIndex

NAME = "session_org_provider_starts"


class AddIndexWithoutBlocking(AddIndexConcurrently):
    def database_forwards(self, app_label, schema_editor, from_state, to_state):
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

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor != "postgresql":
            AddIndex.database_backwards(self, app_label, schema_editor, from_state, to_state)
            return
        super().database_backwards(app_label, schema_editor, from_state, to_state)


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("sessions_app", "0014_pairing_activity_in_place"),
    ]

    operations = [
        AddIndexWithoutBlocking(
            model_name="session",
            index=models.Index(
                fields=["organization", "calendar_provider", "-starts_at", "-id"], name=NAME
            ),
        ),
    ]
