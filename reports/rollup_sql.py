"""The SQL that keeps the Sessions report's roll-ups (`reports.models`), PostgreSQL only.

- `reports_session_figures(status, duration, charged, no-show party, unit)`: a session's
  figures as an array in `FIGURES` order: the one home, in SQL, of the rules `METRICS`
  (reports/catalog/sessions.py) states for the sessions table. Both the triggers and the
  rebuild use it.
- `reports_session_facts`: every session with its day, hour and month on its center's clock, its
  relationship's service type and its figures; `reports_sessionhour_expected` and
  `reports_relationshipperiod_expected`: the two roll-ups as they should be, grouped from it
  (a relationship's day rows from the sessions, its month, quarter and year rows from the days).
  `manage.py rebuild_rollups --check` compares them with the tables, `rebuild_rollups` copies them.
- `reports_session_rollup()`: the trigger after every insert, update (of a column a figure or a key
  reads) and delete of a session, until `reports` 0009 (since then `reports_session_written()`,
  reports/session_writes_sql.py, does the same for this roll-up and the payroll's in one function;
  `TRIGGERS` here are what 0001 created). It adds the new row's figures and takes the old row's away
  with `INSERT … ON CONFLICT … DO UPDATE SET x = x + EXCLUDED.x`, so concurrent writers add up (the
  row lock of the upsert orders them; nothing is read and written back). An update that keeps the
  session's start and relationship posts the difference once. A row whose sessions fall to 0 is
  deleted: a row is there only while a session counts in it. A session whose relationship is already
  gone in the same transaction (foreign keys are deferred: only emptying the database does that, as
  the tests' flush) is left alone.
- `reports_rollup_rebuild(organization)`: the roll-ups of one organization (or all, with NULL)
  recomputed, the payroll's too (`reports/payroll_sql.py`), holding off session writers
  meanwhile (`SHARE ROW EXCLUSIVE` on the sessions: readers go on). Run by the command and by
  the trigger after a center's time zone changes, in that transaction: every day boundary moves.

The migrations run these statements (`CREATE OR REPLACE`); a change here needs a new migration
that runs them again.
"""

from reports.models import FIGURES

_SUMS = ", ".join(f"sum(f[{n}])::integer AS {name}" for n, name in enumerate(FIGURES, start=1))
_COLUMNS = ", ".join(FIGURES)
_ADD = ", ".join(f"{name} = t.{name} + EXCLUDED.{name}" for name in FIGURES)
_SUM_DAYS = ", ".join(f"sum({name})::integer" for name in FIGURES)
_VALUES = ", ".join(f"f[{n}]" for n in range(1, len(FIGURES) + 1))

# Built from constants of this module, never from input.
FUNCTIONS = f"""
CREATE OR REPLACE FUNCTION reports_session_figures(
    status text, duration integer, charged integer, party text, unit text
) RETURNS integer[] LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT ARRAY[
        1,
        (status = 'scheduled')::integer,
        (status = 'completed')::integer,
        (status = 'cancelled')::integer,
        (status = 'cancelled' AND charged > 0)::integer,
        (status = 'no_show')::integer,
        (status = 'no_show' AND party = 'student')::integer,
        (status <> 'scheduled')::integer,
        CASE WHEN status = 'completed' THEN duration ELSE 0 END,
        CASE WHEN status <> 'scheduled' AND unit = 'minutes' THEN charged ELSE 0 END,
        CASE WHEN status <> 'scheduled' AND unit = 'sessions' THEN charged ELSE 0 END
    ]
$$;

CREATE OR REPLACE VIEW reports_session_facts AS
SELECT
    s.organization_id,
    s.relationship_id,
    r.provider_id,
    r.student_id,
    r.service_type_id,
    (s.starts_at AT TIME ZONE o.time_zone)::date AS day,
    extract(hour FROM s.starts_at AT TIME ZONE o.time_zone)::smallint AS hour,
    date_trunc('month', s.starts_at AT TIME ZONE o.time_zone)::date AS month,
    reports_session_figures(
        s.status, s.duration_minutes, s.charged_minutes, s.no_show_party, r.unit
    ) AS f
FROM sessions_app_session s
JOIN relationships_relationship r ON r.id = s.relationship_id
JOIN matchpal_organization o ON o.id = s.organization_id;

CREATE OR REPLACE VIEW reports_sessionhour_expected AS
SELECT organization_id, service_type_id, day, hour, {_SUMS}
FROM reports_session_facts
GROUP BY organization_id, service_type_id, day, hour;

CREATE OR REPLACE VIEW reports_relationshipperiod_expected AS
WITH days AS (
    SELECT organization_id, relationship_id, day, provider_id, student_id, service_type_id,
        {_SUMS}
    FROM reports_session_facts
    GROUP BY organization_id, relationship_id, day, provider_id, student_id, service_type_id
)
SELECT organization_id, relationship_id, 'd'::varchar(1) AS grain, day AS first_day,
    provider_id, student_id, service_type_id, {_COLUMNS}
FROM days
UNION ALL
SELECT organization_id, relationship_id, g.grain::varchar(1), g.first_day,
    provider_id, student_id, service_type_id, {_SUM_DAYS}
FROM days, LATERAL (VALUES
    ('m'::varchar(1), date_trunc('month', day)::date),
    ('q', date_trunc('quarter', day)::date),
    ('y', date_trunc('year', day)::date)
) g(grain, first_day)
GROUP BY organization_id, relationship_id, g.grain, g.first_day,
    provider_id, student_id, service_type_id;

CREATE OR REPLACE FUNCTION reports_rollup_post(
    org bigint, rel bigint, provider bigint, student bigint, service bigint, at timestamptz,
    tz text, f integer[]
) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    local timestamp := at AT TIME ZONE tz;
    d date := local::date;
    h smallint := extract(hour FROM local);
    m date := date_trunc('month', local)::date;
    q date := date_trunc('quarter', local)::date;
    y date := date_trunc('year', local)::date;
BEGIN
    INSERT INTO reports_sessionhour AS t (organization_id, service_type_id, day, hour, {_COLUMNS})
    VALUES (org, service, d, h, {_VALUES})
    ON CONFLICT (organization_id, day, hour, service_type_id) DO UPDATE SET {_ADD};
    INSERT INTO reports_relationshipperiod AS t (organization_id, relationship_id, grain,
        first_day, provider_id, student_id, service_type_id, {_COLUMNS})
    VALUES (org, rel, 'd', d, provider, student, service, {_VALUES}),
        (org, rel, 'm', m, provider, student, service, {_VALUES}),
        (org, rel, 'q', q, provider, student, service, {_VALUES}),
        (org, rel, 'y', y, provider, student, service, {_VALUES})
    ON CONFLICT (organization_id, grain, first_day, relationship_id) DO UPDATE SET {_ADD};
    IF f[1] < 0 THEN
        DELETE FROM reports_sessionhour
        WHERE organization_id = org AND day = d AND hour = h AND service_type_id = service
            AND sessions = 0;
        DELETE FROM reports_relationshipperiod
        WHERE organization_id = org AND relationship_id = rel AND sessions = 0
            AND (grain, first_day) IN (('d', d), ('m', m), ('q', q), ('y', y));
    END IF;
END
$$;

CREATE OR REPLACE FUNCTION reports_session_rollup() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    provider bigint;
    student bigint;
    service bigint;
    unit text;
    tz text;
    old_f integer[];
    new_f integer[];
BEGIN
    IF TG_OP <> 'INSERT' THEN
        SELECT r.provider_id, r.student_id, r.service_type_id, r.unit, o.time_zone
        INTO provider, student, service, unit, tz
        FROM relationships_relationship r
        JOIN matchpal_organization o ON o.id = r.organization_id
        WHERE r.id = OLD.relationship_id;
        IF NOT FOUND THEN  -- deleted in this transaction (keys are deferred): emptying it all
            RETURN NULL;
        END IF;
        old_f := reports_session_figures(
            OLD.status, OLD.duration_minutes, OLD.charged_minutes, OLD.no_show_party, unit);
    END IF;
    IF TG_OP = 'UPDATE' AND NEW.relationship_id = OLD.relationship_id
            AND NEW.organization_id = OLD.organization_id AND NEW.starts_at = OLD.starts_at THEN
        new_f := reports_session_figures(
            NEW.status, NEW.duration_minutes, NEW.charged_minutes, NEW.no_show_party, unit);
        PERFORM reports_rollup_post(
            NEW.organization_id, NEW.relationship_id, provider, student, service,
            NEW.starts_at, tz, ARRAY(SELECT a - b FROM unnest(new_f, old_f) AS x(a, b)));
        RETURN NULL;
    END IF;
    IF TG_OP <> 'INSERT' THEN
        PERFORM reports_rollup_post(
            OLD.organization_id, OLD.relationship_id, provider, student, service,
            OLD.starts_at, tz, ARRAY(SELECT -a FROM unnest(old_f) AS x(a)));
    END IF;
    IF TG_OP <> 'DELETE' THEN
        SELECT r.provider_id, r.student_id, r.service_type_id, r.unit, o.time_zone
        INTO provider, student, service, unit, tz
        FROM relationships_relationship r
        JOIN matchpal_organization o ON o.id = r.organization_id
        WHERE r.id = NEW.relationship_id;
        IF NOT FOUND THEN
            RETURN NULL;
        END IF;
        new_f := reports_session_figures(
            NEW.status, NEW.duration_minutes, NEW.charged_minutes, NEW.no_show_party, unit);
        PERFORM reports_rollup_post(
            NEW.organization_id, NEW.relationship_id, provider, student, service,
            NEW.starts_at, tz, new_f);
    END IF;
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION reports_rollup_rebuild(org bigint) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    LOCK TABLE sessions_app_session IN SHARE ROW EXCLUSIVE MODE;
    DELETE FROM reports_sessionhour WHERE org IS NULL OR organization_id = org;
    DELETE FROM reports_relationshipperiod WHERE org IS NULL OR organization_id = org;
    INSERT INTO reports_sessionhour (organization_id, service_type_id, day, hour, {_COLUMNS})
    SELECT organization_id, service_type_id, day, hour, {_COLUMNS}
    FROM reports_sessionhour_expected WHERE org IS NULL OR organization_id = org;
    INSERT INTO reports_relationshipperiod (organization_id, relationship_id, grain, first_day,
        provider_id, student_id, service_type_id, {_COLUMNS})
    SELECT organization_id, relationship_id, grain, first_day,
        provider_id, student_id, service_type_id, {_COLUMNS}
    FROM reports_relationshipperiod_expected WHERE org IS NULL OR organization_id = org;
    PERFORM reports_payroll_rebuild(org);  -- reports/payroll_sql.py
END
$$;

CREATE OR REPLACE FUNCTION reports_organization_time_zone() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM reports_rollup_rebuild(NEW.id);
    RETURN NULL;
END
$$;
"""  # noqa: S608

# A figure or a key reads these columns; an update of any other (notes, disputes, reports
# sent, confirmations) leaves the roll-ups alone without calling the function.
_WATCHED = (
    "organization_id",
    "relationship_id",
    "starts_at",
    "status",
    "duration_minutes",
    "charged_minutes",
    "no_show_party",
)
_CHANGED = " OR ".join(f"OLD.{column} IS DISTINCT FROM NEW.{column}" for column in _WATCHED)

TRIGGERS = f"""
CREATE TRIGGER reports_session_rollup_insert_delete
    AFTER INSERT OR DELETE ON sessions_app_session
    FOR EACH ROW EXECUTE FUNCTION reports_session_rollup();
CREATE TRIGGER reports_session_rollup_update
    AFTER UPDATE ON sessions_app_session
    FOR EACH ROW WHEN ({_CHANGED}) EXECUTE FUNCTION reports_session_rollup();
CREATE TRIGGER reports_organization_time_zone
    AFTER UPDATE OF time_zone ON matchpal_organization
    FOR EACH ROW WHEN (OLD.time_zone IS DISTINCT FROM NEW.time_zone)
    EXECUTE FUNCTION reports_organization_time_zone();
"""

DROP = """
DROP TRIGGER IF EXISTS reports_organization_time_zone ON matchpal_organization;
DROP TRIGGER IF EXISTS reports_session_rollup_update ON sessions_app_session;
DROP TRIGGER IF EXISTS reports_session_rollup_insert_delete ON sessions_app_session;
DROP FUNCTION IF EXISTS reports_organization_time_zone();
DROP FUNCTION IF EXISTS reports_rollup_rebuild(bigint);
DROP FUNCTION IF EXISTS reports_session_rollup();
DROP FUNCTION IF EXISTS reports_rollup_post(
    bigint, bigint, bigint, bigint, bigint, timestamptz, text, integer[]);
DROP VIEW IF EXISTS reports_relationshipperiod_expected;
DROP VIEW IF EXISTS reports_sessionhour_expected;
DROP VIEW IF EXISTS reports_session_facts;
DROP FUNCTION IF EXISTS reports_session_figures(text, integer, integer, text, text);
"""

REBUILD_ALL = "SELECT reports_rollup_rebuild(NULL)"

# Rows that differ between a roll-up and what the sessions say it should hold, each side's
# figures (NULL where the row is missing), at most `limit`.
# Each side narrowed to the organization before the join, so the sessions of the others are
# not grouped.
_DIFF = """
SELECT {keys}, {mine}, {theirs}
FROM (SELECT {columns} FROM {table} WHERE {org} IS NULL OR organization_id = {org}) t
FULL JOIN (SELECT {columns} FROM {expected} WHERE {org} IS NULL OR organization_id = {org}) e
    USING ({keys})
WHERE t.{first} IS NULL OR e.{first} IS NULL OR ({cols_t}) IS DISTINCT FROM ({cols_e})
ORDER BY {keys}
LIMIT {limit}
"""


def differences_sql(
    table: str,
    keys: tuple[str, ...],
    figures: tuple[str, ...] = FIGURES,
    *,
    nullable: tuple[str, ...] = (),
) -> str:
    """The rows of `table` that differ from `<table>_expected`; `figures[0]` is never NULL in a
    row that is there. A `nullable` key (an id) is compared, and shown, as 0 where NULL."""
    columns = [f"coalesce({key}, 0) AS {key}" if key in nullable else key for key in keys]
    return _DIFF.format(
        columns=", ".join(columns + list(figures)),
        keys=", ".join(keys),
        table=table,
        expected=f"{table}_expected",
        first=figures[0],
        mine=", ".join(f"t.{name} AS actual_{name}" for name in figures),
        theirs=", ".join(f"e.{name} AS expected_{name}" for name in figures),
        cols_t=", ".join(f"t.{name}" for name in figures),
        cols_e=", ".join(f"e.{name}" for name in figures),
        org="%(organization)s::bigint",
        limit="%(limit)s",
    )


TABLES = {
    "reports_sessionhour": ("organization_id", "service_type_id", "day", "hour"),
    "reports_relationshipperiod": (
        "organization_id",
        "relationship_id",
        "grain",
        "first_day",
        "provider_id",
        "student_id",
        "service_type_id",
    ),
}
