"""The warning signs' summaries (`PairingActivity`, `ShortSession`) kept in place as sessions are
logged, instead of recomputed and rewritten from all of the pairing's sessions on every write.

`0009_pairing_activity_short_sessions` recomputed the pairing's count, minutes and latest start
from every completed session of the relationship on each insert (a scan that grows with the
pairing), then deleted the pairing's short sessions and inserted them all again (a dead row and
index entries per short session, per log). Now:

- inserting a session that is not completed (a booking, a scheduled session) changes neither
  summary: the trigger does nothing;
- inserting a completed session (the providers' usual log) adds it to the pairing's row (one
  more session, its minutes, the later of the two starts) and recomputes only the gaps, from the
  last six starts (an index range); the pairing's short sessions are re-decided only when the
  usual length moved (a session of the usual length leaves it where it was), else only the new
  session is decided;
- every other change (an edit, a cancellation, a move to another relationship, a delete)
  recomputes the pairing as before, but rewrites only what differs: the summary row only when a
  figure changed, the short sessions by deleting those no longer short and inserting the new
  ones.

The figures are the same as a recomputation from scratch (`sessions_app.rollups.differences`
finds none; tests/reports/test_center_dashboard.py). The relationship's row lock, which every
session write takes first, keeps two writers of one pairing in turn. PostgreSQL only, as before;
the reverse puts `0009`'s functions back.
"""

from importlib import import_module

from django.db import migrations

_0009 = import_module("sessions_app.migrations.0009_pairing_activity_short_sessions")
# 0009's two functions (the triggers themselves are unchanged).
PREVIOUS = _0009.TRIGGER[: _0009.TRIGGER.index("CREATE TRIGGER sessions_app_session_rollups_write")]

# Whether a completed session of the pairing is short: under the center's minimum, or under its
# share of the pairing's usual length (the same test as `sessions_app.rollups.SHORT`).
_SHORT = """(s.duration_minutes < o.min_session_minutes
           OR s.duration_minutes * a.completed * 100
              < a.minutes * o.warning_short_session_percent)"""

_GAPS = """(
        SELECT CASE WHEN COUNT(gap) >= 3 AND AVG(gap) > 0
                    THEN ROUND(100 * STDDEV_POP(gap) / AVG(gap))::integer END
        FROM (
            SELECT EXTRACT(EPOCH FROM starts_at - LAG(starts_at) OVER (ORDER BY starts_at)) AS gap
            FROM (
                SELECT starts_at FROM sessions_app_session
                WHERE relationship_id = rel AND status = 'completed'
                ORDER BY starts_at DESC LIMIT 6
            ) latest
        ) gaps
    )"""

# Built from the constant fragments above (no input): not an injection.
FUNCTIONS = f"""
CREATE OR REPLACE FUNCTION sessions_app_short_refresh(rel bigint) RETURNS void AS $$
BEGIN
    DELETE FROM sessions_app_shortsession ss
    WHERE ss.relationship_id = rel AND NOT EXISTS (
        SELECT 1 FROM sessions_app_session s
        JOIN sessions_app_pairingactivity a ON a.relationship_id = s.relationship_id
        JOIN matchpal_organization o ON o.id = s.organization_id
        WHERE s.id = ss.session_id AND s.relationship_id = rel AND s.status = 'completed'
          AND {_SHORT}
    );
    INSERT INTO sessions_app_shortsession AS t
        (session_id, organization_id, relationship_id, starts_at)
    SELECT s.id, s.organization_id, s.relationship_id, s.starts_at
    FROM sessions_app_session s
    JOIN sessions_app_pairingactivity a ON a.relationship_id = s.relationship_id
    JOIN matchpal_organization o ON o.id = s.organization_id
    WHERE s.relationship_id = rel AND s.status = 'completed' AND {_SHORT}
    ON CONFLICT (session_id) DO UPDATE SET
        organization_id = excluded.organization_id, relationship_id = excluded.relationship_id,
        starts_at = excluded.starts_at
    WHERE (t.organization_id, t.relationship_id, t.starts_at)
          IS DISTINCT FROM (excluded.organization_id, excluded.relationship_id, excluded.starts_at);
END $$ LANGUAGE plpgsql;

CREATE OR REPLACE FUNCTION sessions_app_pairing_refresh(rel bigint) RETURNS void AS $$
BEGIN
    INSERT INTO sessions_app_pairingactivity AS t
        (relationship_id, organization_id, status, paired_at,
         completed, minutes, last_session_at, gap_variation)
    SELECT r.id, r.organization_id, r.status, r.paired_at, done.n, done.minutes, done.last,
    {_GAPS}
    FROM relationships_relationship r, (
        SELECT COUNT(*) AS n, COALESCE(SUM(duration_minutes), 0) AS minutes,
               MAX(starts_at) AS last
        FROM sessions_app_session WHERE relationship_id = rel AND status = 'completed'
    ) done
    WHERE r.id = rel
    ON CONFLICT (relationship_id) DO UPDATE SET
        completed = excluded.completed, minutes = excluded.minutes,
        last_session_at = excluded.last_session_at, gap_variation = excluded.gap_variation
    WHERE (t.completed, t.minutes, t.last_session_at, t.gap_variation)
          IS DISTINCT FROM
          (excluded.completed, excluded.minutes, excluded.last_session_at, excluded.gap_variation);
    PERFORM sessions_app_short_refresh(rel);
END $$ LANGUAGE plpgsql;

CREATE OR REPLACE FUNCTION sessions_app_pairing_logged(rel bigint, sid bigint) RETURNS void AS $$
DECLARE
    after_completed integer;
    after_minutes bigint;
    added integer;
BEGIN
    -- Read and written under the summary row's lock: the figures before are these less one.
    UPDATE sessions_app_pairingactivity t SET
        completed = t.completed + 1,
        minutes = t.minutes + s.duration_minutes,
        last_session_at = GREATEST(t.last_session_at, s.starts_at),
        gap_variation = {_GAPS}
    FROM sessions_app_session s
    WHERE t.relationship_id = rel AND s.id = sid
    RETURNING t.completed, t.minutes, s.duration_minutes
    INTO after_completed, after_minutes, added;
    IF NOT FOUND THEN
        PERFORM sessions_app_pairing_refresh(rel);
        RETURN;
    END IF;
    IF added::bigint * (after_completed - 1) = after_minutes - added THEN
        -- The usual length did not move: only the new session is to decide.
        INSERT INTO sessions_app_shortsession
            (session_id, organization_id, relationship_id, starts_at)
        SELECT s.id, s.organization_id, s.relationship_id, s.starts_at
        FROM sessions_app_session s
        JOIN sessions_app_pairingactivity a ON a.relationship_id = s.relationship_id
        JOIN matchpal_organization o ON o.id = s.organization_id
        WHERE s.id = sid AND {_SHORT}
        ON CONFLICT (session_id) DO NOTHING;
    ELSE
        PERFORM sessions_app_short_refresh(rel);
    END IF;
END $$ LANGUAGE plpgsql;

CREATE OR REPLACE FUNCTION sessions_app_session_rollups() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF NEW.status = 'completed' THEN
            PERFORM sessions_app_pairing_logged(NEW.relationship_id, NEW.id);
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

REVERSE = (
    PREVIOUS
    + """
DROP FUNCTION IF EXISTS sessions_app_pairing_logged(bigint, bigint);
DROP FUNCTION IF EXISTS sessions_app_short_refresh(bigint);
"""
)


def _postgresql_only(sql: str) -> object:
    def run(apps: object, schema_editor: object) -> None:
        if schema_editor.connection.vendor == "postgresql":  # type: ignore[attr-defined]
            schema_editor.execute(sql)  # type: ignore[attr-defined]

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("sessions_app", "0013_pairing_activity_fill"),
    ]

    operations = [
        migrations.RunPython(_postgresql_only(FUNCTIONS), _postgresql_only(REVERSE)),
    ]
