"""The admin's check-in list without the sessions left on ended pairings (docs/indexes.md, "The
check-in list"): `Session.check_in_open`, kept by the database, and a partial index of the open
check-ins alone.

A session is open to check in, its start aside, when it is scheduled or missed and its
relationship is paired. The list's walk of `session_org_check_in_rel` (every scheduled or
missed session of the center, oldest first) passed about 2,000 sessions of pairings that ended
before the first one on a paired relationship, each probed for its relationship's status; the
sessions left that way never leave that index, so the walk grew with the center's history.

- `sessions_app_session_check_in_open` (BEFORE INSERT, and UPDATE of the status, the
  relationship or the flag itself) sets the flag from the session's status and its
  relationship's: whatever a write puts in the column, the trigger decides. It reads the
  relationship `FOR SHARE`, so a change of that relationship's status waits for the session's
  transaction, and its own trigger then sees the session. An update that keeps the session
  scheduled or missed on the same relationship (the missed-session job's) keeps the flag and
  reads nothing: a log locks the relationship, then the session, and a job that held the
  session and waited for the relationship would deadlock with it. The relationship's own
  trigger, which changes the flag, has the relationship already.
- `sessions_app_relationship_check_in` (AFTER UPDATE of a relationship's status, when it
  becomes paired or stops being paired) rewrites the flag of its scheduled and missed sessions
  (a few; through `(relationship, starts_at)`), in the same transaction.
- The sessions already there are set once, after both triggers exist.

PostgreSQL only, like the warning signs' summaries: on SQLite the column stays false and the
list does not read it (`sessions_app.checkin.check_in_rows`). The index is built without
blocking writes, so the migration is not atomic."""

from django.db import migrations, models

from matchpal.migration_operations import AddIndexWithoutBlocking

TRIGGERS = """
CREATE OR REPLACE FUNCTION sessions_app_session_check_in_open() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.check_in_open = OLD.check_in_open
       AND OLD.status IN ('scheduled', 'missed') AND NEW.status IN ('scheduled', 'missed')
       AND NEW.relationship_id = OLD.relationship_id THEN
        -- Still open or not as its relationship says (scheduled to missed): the flag stands,
        -- and the relationship is not locked after the session (the log's order is the other).
        RETURN NEW;
    END IF;
    IF NEW.status IN ('scheduled', 'missed') THEN
        SELECT r.status = 'paired' INTO NEW.check_in_open
        FROM relationships_relationship r WHERE r.id = NEW.relationship_id FOR SHARE;
        NEW.check_in_open := COALESCE(NEW.check_in_open, false);
    ELSE
        NEW.check_in_open := false;
    END IF;
    RETURN NEW;
END $$ LANGUAGE plpgsql;

CREATE TRIGGER sessions_app_session_check_in_open
    BEFORE INSERT OR UPDATE OF status, relationship_id, check_in_open
    ON sessions_app_session FOR EACH ROW
    EXECUTE FUNCTION sessions_app_session_check_in_open();

CREATE OR REPLACE FUNCTION sessions_app_relationship_check_in() RETURNS trigger AS $$
BEGIN
    UPDATE sessions_app_session SET check_in_open = (NEW.status = 'paired')
    WHERE relationship_id = NEW.id AND status IN ('scheduled', 'missed')
      AND check_in_open <> (NEW.status = 'paired');
    RETURN NULL;
END $$ LANGUAGE plpgsql;

CREATE TRIGGER sessions_app_relationship_check_in
    AFTER UPDATE OF status ON relationships_relationship FOR EACH ROW
    WHEN ((OLD.status = 'paired') IS DISTINCT FROM (NEW.status = 'paired'))
    EXECUTE FUNCTION sessions_app_relationship_check_in();
"""

FILL = """
UPDATE sessions_app_session s SET check_in_open = true
FROM relationships_relationship r
WHERE r.id = s.relationship_id AND r.status = 'paired'
  AND s.status IN ('scheduled', 'missed') AND NOT s.check_in_open;
"""

REVERSE = """
DROP TRIGGER IF EXISTS sessions_app_relationship_check_in ON relationships_relationship;
DROP FUNCTION IF EXISTS sessions_app_relationship_check_in();
DROP TRIGGER IF EXISTS sessions_app_session_check_in_open ON sessions_app_session;
DROP FUNCTION IF EXISTS sessions_app_session_check_in_open();
"""


def _postgresql_only(*statements: str) -> object:
    def run(apps: object, schema_editor: object) -> None:
        if schema_editor.connection.vendor == "postgresql":  # type: ignore[attr-defined]
            for sql in statements:
                schema_editor.execute(sql)  # type: ignore[attr-defined]

    return run


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("relationships", "0010_relationship_paired_id"),
        ("sessions_app", "0019_pairing_logged_in_the_trigger"),
    ]

    operations = [
        migrations.AddField(
            model_name="session",
            name="check_in_open",
            field=models.BooleanField(default=False, db_default=False, editable=False),
        ),
        migrations.RunPython(_postgresql_only(TRIGGERS, FILL), _postgresql_only(REVERSE)),
        AddIndexWithoutBlocking(
            model_name="session",
            index=models.Index(
                condition=models.Q(("check_in_open", True), ("status__in", ("scheduled", "missed"))),
                fields=["organization", "starts_at", "id"],
                include=["relationship"],
                name="session_org_check_in_open",
            ),
        ),
    ]
