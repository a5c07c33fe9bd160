"""The session's provider becomes required, with its two tenant keys and the exclusion
constraint that keeps one provider's live sessions apart (docs/scheduling.md), each step short
on a large sessions table (docs/deploy.md, "Migrations while the old version serves"):

- the rows the old version inserted since the batched copy are filled first;
- NOT NULL comes from a CHECK added NOT VALID and validated without blocking writers, which
  `SET NOT NULL` then trusts instead of scanning the table under its exclusive lock;
- the composite foreign keys are added NOT VALID (no scan) and validated in their own
  transaction (writers go on);
- the exclusion constraint's index holds only the booked sessions (`exclusive`, every older one
  false), but building it still reads the table once.

The migration is not atomic: each statement commits on its own. Every step is skipped where it
is already done (a database that ran the single migration these three replace), so the schema
is the same either way."""

import django.db.models.deletion
from django.db import migrations, models

# The end of a session, `starts_at` + `duration_minutes`: adding minutes to a timestamptz does
# not depend on the time zone, but PostgreSQL marks `timestamptz + interval` only STABLE (a day
# or a month would), so an index expression needs it declared IMMUTABLE.
END_FUNCTION = (
    "CREATE OR REPLACE FUNCTION session_ends_at(timestamptz, integer) RETURNS timestamptz "
    "LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT $1 + make_interval(mins => $2) $$"
)
NO_OVERLAP = (
    "ALTER TABLE sessions_app_session ADD CONSTRAINT session_provider_no_overlap "
    "EXCLUDE USING gist (provider_id WITH =, "
    "tstzrange(starts_at, session_ends_at(starts_at, duration_minutes)) WITH &&) "
    "WHERE (exclusive AND status IN ('pending', 'scheduled'))"
)
# (name, columns, referenced table, referenced columns)
TENANT_KEYS = [
    ("session_provider_org", "organization_id, provider_id", "providers_provider",
     "organization_id, id"),
    # The session's provider is its relationship's: (provider, relationship) refers to the
    # relationship's (provider, id).
    ("session_relationship_provider", "provider_id, relationship_id",
     "relationships_relationship", "provider_id, id"),
]
TEMPORARY_CHECK = "session_provider_not_null_check"


def _exists(cursor, name):
    cursor.execute(
        "SELECT 1 FROM pg_constraint WHERE conname = %s "
        "AND conrelid = 'sessions_app_session'::regclass",
        [name],
    )
    return cursor.fetchone() is not None


def _fill_the_rest(cursor, vendor):
    if vendor == "postgresql":
        cursor.execute(
            "UPDATE sessions_app_session s SET provider_id = r.provider_id "
            "FROM relationships_relationship r "
            "WHERE r.id = s.relationship_id AND s.provider_id IS NULL"
        )
    else:
        cursor.execute(
            "UPDATE sessions_app_session SET provider_id = (SELECT provider_id FROM "
            "relationships_relationship r WHERE r.id = sessions_app_session.relationship_id) "
            "WHERE provider_id IS NULL"
        )


class RequireProvider(migrations.AlterField):
    """`calendar_provider` becomes required: on PostgreSQL by the short steps above; elsewhere
    (SQLite, `make run`, which holds no large center) as a plain `AlterField`."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        connection = schema_editor.connection
        with connection.cursor() as cursor:
            # Through the index on provider_id: only the rows written since the copy.
            _fill_the_rest(cursor, connection.vendor)
        if connection.vendor != "postgresql":
            super().database_forwards(app_label, schema_editor, from_state, to_state)
            return
        with connection.cursor() as cursor:
            if not _exists(cursor, TEMPORARY_CHECK):
                cursor.execute(
                    "ALTER TABLE sessions_app_session ADD CONSTRAINT "
                    f"{TEMPORARY_CHECK} CHECK (provider_id IS NOT NULL) NOT VALID"
                )
            cursor.execute(
                f"ALTER TABLE sessions_app_session VALIDATE CONSTRAINT {TEMPORARY_CHECK}"
            )
            cursor.execute(
                "ALTER TABLE sessions_app_session ALTER COLUMN provider_id SET NOT NULL"
            )
            cursor.execute(f"ALTER TABLE sessions_app_session DROP CONSTRAINT {TEMPORARY_CHECK}")
            for name, columns, table, referenced in TENANT_KEYS:
                if not _exists(cursor, name):
                    cursor.execute(
                        f"ALTER TABLE sessions_app_session ADD CONSTRAINT {name} "
                        f"FOREIGN KEY ({columns}) REFERENCES {table} ({referenced}) "
                        "DEFERRABLE INITIALLY DEFERRED NOT VALID"
                    )
                cursor.execute(f"ALTER TABLE sessions_app_session VALIDATE CONSTRAINT {name}")
            cursor.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
            cursor.execute(END_FUNCTION)
            if not _exists(cursor, "session_provider_no_overlap"):
                cursor.execute(NO_OVERLAP)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        connection = schema_editor.connection
        if connection.vendor != "postgresql":
            super().database_backwards(app_label, schema_editor, from_state, to_state)
            return
        with connection.cursor() as cursor:
            cursor.execute(
                "ALTER TABLE sessions_app_session DROP CONSTRAINT session_provider_no_overlap"
            )
            cursor.execute("DROP FUNCTION session_ends_at(timestamptz, integer)")
            for name, *_ in reversed(TENANT_KEYS):
                cursor.execute(f"ALTER TABLE sessions_app_session DROP CONSTRAINT {name}")
            cursor.execute(
                "ALTER TABLE sessions_app_session ALTER COLUMN provider_id DROP NOT NULL"
            )

    def describe(self):
        return "Session's provider required, with its tenant keys and the no-overlap rule"


class Migration(migrations.Migration):

    atomic = False

    dependencies = [
        ('sessions_app', '0011_booking_provider_backfill'),
    ]

    operations = [
        RequireProvider(
            model_name='session',
            name='calendar_provider',
            field=models.ForeignKey(db_column='provider_id', on_delete=django.db.models.deletion.PROTECT, related_name='+', to='providers.provider'),
        ),
    ]
