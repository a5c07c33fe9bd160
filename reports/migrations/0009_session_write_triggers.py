"""A session's two report roll-ups kept by one trigger function, the payroll's figures as one
expression, and a single ledger entry's roll-ups written without the statement's grouping.

What a session's log spent in the database's triggers (docs/performance.md, "The triggers of a
session's log"):

- `reports_session_written()` (reports/session_writes_sql.py) replaces the triggers of
  `reports_session_rollup()` and `reports_session_payroll()` on the sessions: the relationship
  and center read once per side instead of once per function, the upserts in the function
  itself instead of a PL/pgSQL posting function per roll-up; the same rows, figures and row
  locks in the same order (the payroll's grains, the hour, the relationship's periods). Its
  update trigger watches the payroll's columns, a superset of the Sessions report's.
- `reports_payroll_figures(...)` (reports/payroll_sql.py) returns the same array from one
  expression, which the planner inlines: its body read a subquery, so each call was parsed and
  planned again in every transaction.
- `reports_ledger_rollup()` (reports/ledger_sql.py) writes a statement of one entry for a
  relationship (every posting of a log) with three short upserts of the same rows and sums in
  the same order as its grouped statement, which still writes every other statement.

The reverse puts the previous definitions and the two pairs of triggers back (the old functions
were never dropped). PostgreSQL only, as the roll-ups are.
"""

from django.db import migrations

from reports import ledger_sql, payroll_sql, session_writes_sql

# The definitions before this migration, as 0003 and 0005 left them.
PREVIOUS = r"""
CREATE OR REPLACE FUNCTION reports_payroll_figures(
    status text, duration integer, charged integer, party text, unit text, kind text,
    review integer, revision integer, confirmed boolean, pay numeric, client numeric
) RETURNS numeric[] LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE
        WHEN status = 'scheduled' OR (status = 'cancelled' AND charged = 0)
            THEN array_fill(0::numeric, ARRAY[15])
        ELSE ARRAY[
            1,
            (status = 'completed' OR (status = 'cancelled' AND charged > 0)
                OR (status = 'no_show' AND coalesce(party = 'student', false) AND charged > 0)
            )::integer,
            (status = 'completed')::integer,
            (status = 'cancelled' AND charged > 0)::integer,
            (status = 'no_show' AND coalesce(party = 'student', false) AND charged > 0)::integer,
            (status = 'no_show' AND coalesce(party = 'provider', false))::integer,
            (status = 'completed' AND NOT confirmed)::integer,
            m.minutes,
            CASE WHEN status = 'completed' AND confirmed THEN m.minutes ELSE 0 END,
            CASE WHEN status = 'completed' AND NOT confirmed THEN m.minutes ELSE 0 END,
            CASE WHEN status IN ('cancelled', 'no_show') THEN m.minutes ELSE 0 END,
            CASE WHEN status = 'completed' AND confirmed THEN m.earned ELSE 0 END,
            CASE WHEN status = 'completed' AND NOT confirmed THEN m.earned ELSE 0 END,
            CASE WHEN status IN ('cancelled', 'no_show') THEN m.earned ELSE 0 END,
            round(m.minutes * client / 60, 2)
        ]
    END
    FROM (
        SELECT c.minutes, round(c.minutes * pay / 60, 2) AS earned
        FROM (
            SELECT CASE
                WHEN unit = 'sessions' THEN charged * CASE
                    WHEN kind = 'revision' THEN coalesce(review, revision) ELSE duration END
                ELSE charged
            END AS minutes
        ) c
    ) m
$$;

CREATE OR REPLACE FUNCTION reports_ledger_rollup() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    -- Holds and releases move no Usage figure: a statement of only those writes nothing.
    IF NOT EXISTS (
        SELECT 1 FROM new_entries
        WHERE total_delta <> 0 OR used_delta <> 0
            OR kind IN ('expire', 'extend', 'consume', 'refund')
    ) THEN
        RETURN NULL;
    END IF;
    -- One statement: the three tables' upserts, each in its key's order so that concurrent
    -- postings queue on a row rather than deadlock.
    WITH facts AS (
SELECT n.organization_id, (n.created_at AT TIME ZONE o.time_zone)::date AS day, g.unit, n.kind,
    n.grant_id, g.student_id, n.relationship_id IS NOT NULL AS by_relationship,
    r.service_type_id AS relationship_type, n.total_delta, n.used_delta, n.usable_delta
FROM new_entries n
JOIN grants_grant g ON g.id = n.grant_id
JOIN matchpal_organization o ON o.id = n.organization_id
LEFT JOIN relationships_relationship r ON r.id = n.relationship_id
WHERE (n.total_delta <> 0 OR n.used_delta <> 0 OR n.kind IN ('expire', 'extend')) 
),
    endings AS (
        INSERT INTO reports_grantending AS t (organization_id, grant_id, entries, last_consume_at, last_expire_at, last_refund_at, refunded)
        SELECT * FROM (
SELECT organization_id, grant_id, count(*)::integer AS entries,
    max(created_at) FILTER (WHERE kind = 'consume') AS last_consume_at,
    max(created_at) FILTER (WHERE kind = 'expire') AS last_expire_at,
    max(created_at) FILTER (WHERE kind = 'refund') AS last_refund_at,
    coalesce(sum(total_delta) FILTER (WHERE kind = 'refund'), 0)::bigint AS refunded
FROM new_entries n WHERE kind IN ('consume', 'expire', 'refund') 
GROUP BY organization_id, grant_id
) x ORDER BY grant_id
        ON CONFLICT (grant_id) DO UPDATE SET entries = t.entries + EXCLUDED.entries,
            last_consume_at = GREATEST(t.last_consume_at, EXCLUDED.last_consume_at),
            last_expire_at = GREATEST(t.last_expire_at, EXCLUDED.last_expire_at),
            last_refund_at = GREATEST(t.last_refund_at, EXCLUDED.last_refund_at),
            refunded = t.refunded + EXCLUDED.refunded
    ),
    days AS (
        INSERT INTO reports_ledgerday AS t (organization_id, day, unit, kind, service_type_id, by_relationship, total_delta, used_delta, usable_delta)
        SELECT * FROM (
SELECT organization_id, day, unit, kind, NULL::bigint AS service_type_id, by_relationship,
    sum(total_delta)::bigint AS total_delta, sum(used_delta)::bigint AS used_delta, sum(usable_delta)::bigint AS usable_delta
FROM facts GROUP BY organization_id, day, unit, kind, by_relationship
UNION ALL
SELECT organization_id, day, unit, kind, relationship_type, true, sum(total_delta)::bigint AS total_delta, sum(used_delta)::bigint AS used_delta, sum(usable_delta)::bigint AS usable_delta
FROM facts WHERE by_relationship
GROUP BY organization_id, day, unit, kind, relationship_type
UNION ALL
SELECT f.organization_id, day, unit, kind, gst.service_type_id, false, sum(total_delta)::bigint AS total_delta, sum(used_delta)::bigint AS used_delta, sum(usable_delta)::bigint AS usable_delta
FROM facts f JOIN grants_grantservicetype gst ON gst.grant_id = f.grant_id
WHERE NOT by_relationship
GROUP BY f.organization_id, day, unit, kind, gst.service_type_id
) d ORDER BY 1, 2, 3, 4, 5, 6
        ON CONFLICT (organization_id, day, unit, kind, service_type_id, by_relationship)
        DO UPDATE SET total_delta = t.total_delta + EXCLUDED.total_delta, used_delta = t.used_delta + EXCLUDED.used_delta, usable_delta = t.usable_delta + EXCLUDED.usable_delta
    )
    INSERT INTO reports_studentledgerperiod AS t (organization_id, grain, first_day, student_id, unit, service_type_id, used_delta)
    SELECT * FROM (
SELECT organization_id, p.grain, p.first_day, student_id, unit,
    relationship_type AS service_type_id, sum(used_delta)::bigint AS used_delta
FROM facts, LATERAL (VALUES
    ('d'::varchar(1), day), ('m', date_trunc('month', day)::date)
) p(grain, first_day)
WHERE used_delta <> 0
GROUP BY organization_id, p.grain, p.first_day, student_id, unit, relationship_type
) s ORDER BY 1, 2, 3, 4, 5, 6
    ON CONFLICT (organization_id, grain, first_day, student_id, unit, service_type_id)
    DO UPDATE SET used_delta = t.used_delta + EXCLUDED.used_delta;
    RETURN NULL;
END
$$;

CREATE TRIGGER reports_session_rollup_insert_delete
    AFTER INSERT OR DELETE ON sessions_app_session
    FOR EACH ROW EXECUTE FUNCTION reports_session_rollup();
CREATE TRIGGER reports_session_rollup_update
    AFTER UPDATE ON sessions_app_session
    FOR EACH ROW WHEN (OLD.organization_id IS DISTINCT FROM NEW.organization_id OR OLD.relationship_id IS DISTINCT FROM NEW.relationship_id OR OLD.starts_at IS DISTINCT FROM NEW.starts_at OR OLD.status IS DISTINCT FROM NEW.status OR OLD.duration_minutes IS DISTINCT FROM NEW.duration_minutes OR OLD.charged_minutes IS DISTINCT FROM NEW.charged_minutes OR OLD.no_show_party IS DISTINCT FROM NEW.no_show_party) EXECUTE FUNCTION reports_session_rollup();

CREATE TRIGGER reports_session_payroll_insert_delete
    AFTER INSERT OR DELETE ON sessions_app_session
    FOR EACH ROW EXECUTE FUNCTION reports_session_payroll();
CREATE TRIGGER reports_session_payroll_update
    AFTER UPDATE ON sessions_app_session
    FOR EACH ROW WHEN (OLD.organization_id IS DISTINCT FROM NEW.organization_id OR OLD.relationship_id IS DISTINCT FROM NEW.relationship_id OR OLD.starts_at IS DISTINCT FROM NEW.starts_at OR OLD.status IS DISTINCT FROM NEW.status OR OLD.duration_minutes IS DISTINCT FROM NEW.duration_minutes OR OLD.charged_minutes IS DISTINCT FROM NEW.charged_minutes OR OLD.no_show_party IS DISTINCT FROM NEW.no_show_party OR OLD.kind IS DISTINCT FROM NEW.kind OR OLD.review_minutes IS DISTINCT FROM NEW.review_minutes OR OLD.student_confirmed_at IS DISTINCT FROM NEW.student_confirmed_at OR OLD.provider_pay_rate IS DISTINCT FROM NEW.provider_pay_rate OR OLD.client_rate IS DISTINCT FROM NEW.client_rate) EXECUTE FUNCTION reports_session_payroll();
"""


class SessionWriteTriggers(migrations.operations.base.Operation):
    reduces_to_sql = True
    reversible = True

    def state_forwards(self, app_label, state):
        pass

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor != "postgresql":
            return
        schema_editor.execute(payroll_sql.FUNCTIONS, None)
        schema_editor.execute(ledger_sql.FUNCTIONS, None)
        schema_editor.execute(session_writes_sql.FUNCTIONS, None)
        schema_editor.execute(session_writes_sql.TRIGGERS, None)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor != "postgresql":
            return
        schema_editor.execute(session_writes_sql.DROP, None)
        schema_editor.execute(PREVIOUS, None)

    def describe(self):
        return "Keep a session's two report roll-ups by one trigger function"


class Migration(migrations.Migration):

    dependencies = [
        ("reports", "0008_report_version_tables"),
    ]

    operations = [SessionWriteTriggers()]
