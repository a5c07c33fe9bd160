"""A logged session's pairing summary written by the session's trigger itself, from the new row.

Since `0014_pairing_activity_in_place`, inserting a completed session called
`sessions_app_pairing_logged(relationship, session)`, which read the session back by its id in
each of its two statements and ran the short-session insert (a three-table join) on every log,
short or not. The trigger's insert branch now does the same from `NEW`:

- one `UPDATE` of the pairing's row (one more session, its minutes, the later start, the gaps
  from the last six starts), returning the new count and minutes with the center's two
  thresholds (the session's organization, joined in the same statement);
- when the usual length did not move, the session is decided in PL/pgSQL with the same test as
  `sessions_app.rollups.SHORT` and inserted only when it is short (`ON CONFLICT DO NOTHING` as
  before); when it moved, `sessions_app_short_refresh` re-decides the pairing's, as before; a
  pairing without its row yet is refreshed from scratch, as before.

Every other branch (a session that is not completed, an update, a delete) is unchanged. The
figures are the same as before and as a recomputation (`sessions_app.rollups.differences`;
tests/sessions_app/test_pairing_summary_in_place.py). The relationship's row lock, which every
session write takes first, keeps two writers of one pairing in turn, as before. PostgreSQL
only; the reverse puts `0014`'s function back (`sessions_app_pairing_logged` stays defined).
"""

from importlib import import_module

from django.db import migrations

_0014 = import_module("sessions_app.migrations.0014_pairing_activity_in_place")
# 0014's trigger function, as it was (the last function of its script).
PREVIOUS = _0014.FUNCTIONS[
    _0014.FUNCTIONS.index("CREATE OR REPLACE FUNCTION sessions_app_session_rollups()") :
]

_GAPS = _0014._GAPS.replace("relationship_id = rel", "relationship_id = NEW.relationship_id")

# Built from the constant fragments above (no input): not an injection.
FUNCTION = f"""
CREATE OR REPLACE FUNCTION sessions_app_session_rollups() RETURNS trigger AS $$
DECLARE
    after_completed integer;
    after_minutes bigint;
    least_minutes integer;
    short_percent integer;
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF NEW.status <> 'completed' THEN
            RETURN NULL;
        END IF;
        -- Read and written under the summary row's lock: the figures before are these less one.
        UPDATE sessions_app_pairingactivity t SET
            completed = t.completed + 1,
            minutes = t.minutes + NEW.duration_minutes,
            last_session_at = GREATEST(t.last_session_at, NEW.starts_at),
            gap_variation = {_GAPS}
        FROM matchpal_organization o
        WHERE t.relationship_id = NEW.relationship_id AND o.id = NEW.organization_id
        RETURNING t.completed, t.minutes, o.min_session_minutes, o.warning_short_session_percent
        INTO after_completed, after_minutes, least_minutes, short_percent;
        IF NOT FOUND THEN
            PERFORM sessions_app_pairing_refresh(NEW.relationship_id);
            RETURN NULL;
        END IF;
        IF NEW.duration_minutes::bigint * (after_completed - 1)
                = after_minutes - NEW.duration_minutes THEN
            -- The usual length did not move: only the new session is to decide.
            IF NEW.duration_minutes < least_minutes
                    OR NEW.duration_minutes * after_completed * 100
                       < after_minutes * short_percent THEN
                INSERT INTO sessions_app_shortsession
                    (session_id, organization_id, relationship_id, starts_at)
                VALUES (NEW.id, NEW.organization_id, NEW.relationship_id, NEW.starts_at)
                ON CONFLICT (session_id) DO NOTHING;
            END IF;
        ELSE
            PERFORM sessions_app_short_refresh(NEW.relationship_id);
        END IF;
        RETURN NULL;
    END IF;
    IF TG_OP <> 'DELETE' THEN
        PERFORM sessions_app_pairing_refresh(NEW.relationship_id);
    END IF;
    IF TG_OP = 'DELETE' OR OLD.relationship_id <> NEW.relationship_id THEN
        PERFORM sessions_app_pairing_refresh(OLD.relationship_id);
    END IF;
    RETURN NULL;
END $$ LANGUAGE plpgsql;
"""  # noqa: S608


def _postgresql_only(sql: str) -> object:
    def run(apps: object, schema_editor: object) -> None:
        if schema_editor.connection.vendor == "postgresql":  # type: ignore[attr-defined]
            schema_editor.execute(sql)  # type: ignore[attr-defined]

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("sessions_app", "0018_covering_list_indexes"),
    ]

    operations = [
        migrations.RunPython(_postgresql_only(FUNCTION), _postgresql_only(PREVIOUS)),
    ]
