"""One trigger function for both of a session's report roll-ups (PostgreSQL only), since
`reports` 0009.

Until then every session write ran two row triggers, `reports_session_payroll()`
(reports/payroll_sql.py) and `reports_session_rollup()` (reports/rollup_sql.py): each looked up
the session's relationship and center again, called a PL/pgSQL posting function per side, and
the payroll's figures came from a SQL function PostgreSQL could not inline (its body read a
subquery), so it was parsed and planned anew in every transaction. A session's log spent about
0.75 ms of the server's time there (docs/performance.md, "The triggers of a session's log").

`reports_session_written()` does what the two did, in the same transaction and with the same
figures, the same rows and the same row locks in the same order (the payroll's five grains,
then the hour, then the relationship's four periods):

- the relationship and its center are read once per side (the old row's, the new row's);
- the figures are `reports_session_figures` and `reports_payroll_figures`, both now a single
  expression PostgreSQL inlines into the function's cached plans;
- the upserts are the function's own statements (`INSERT … ON CONFLICT … DO UPDATE SET x = x +
  EXCLUDED.x`, so concurrent writers add up), planned once per connection;
- an update that keeps the session's start and relationship posts the difference once, and
  nothing for a side whose figures did not move (as before: the payroll's side skipped a zero
  difference, the Sessions side only ran for a change of a column it reads, whose figures then
  differ or leave its rows as they were);
- a row whose sessions fall to 0 is deleted, a session whose relationship is already gone in the
  same transaction (emptying the database) is left alone, as before.

The posting functions (`reports_rollup_post`, `reports_payroll_post`) and the two old trigger
functions stay defined: the reverse of 0009 puts their triggers back.
"""

from reports.models import FIGURES, PAYROLL_COUNTS, PAYROLL_FIGURES
from reports.payroll_sql import ARGUMENTS, WATCHED

_COLUMNS = ", ".join(FIGURES)
_ADD = ", ".join(f"{name} = t.{name} + EXCLUDED.{name}" for name in FIGURES)
_VALUES = ", ".join(f"f[{n}]" for n in range(1, len(FIGURES) + 1))
_PAY_COLUMNS = ", ".join(PAYROLL_FIGURES)
_PAY_ADD = ", ".join(f"{name} = t.{name} + EXCLUDED.{name}" for name in PAYROLL_FIGURES)
_PAY_VALUES = ", ".join(
    f"p[{n}]::{'integer' if name in PAYROLL_COUNTS else 'numeric(14, 2)'}"
    for n, name in enumerate(PAYROLL_FIGURES, start=1)
)
_PAY_KEY = "organization_id, grain, first_day, provider_id, service_type_id"


def _figures(row: str) -> str:
    return (
        f"f := reports_session_figures({row}.status, {row}.duration_minutes, "
        f"{row}.charged_minutes, {row}.no_show_party, unit);\n"
        f"        p := reports_payroll_figures("
        + ARGUMENTS.format(s=row, unit="unit", revision="revision")
        + ");"
    )


def _context(row: str) -> str:
    return f"""SELECT r.provider_id, r.student_id, r.service_type_id, r.unit, o.time_zone,
            o.revision_minutes
        INTO provider, student, service, unit, tz, revision
        FROM relationships_relationship r
        JOIN matchpal_organization o ON o.id = r.organization_id
        WHERE r.id = {row}.relationship_id;"""  # noqa: S608 - constants only


# A side's posting: its figures `f` and `p` (a difference, or one row's, negative when taken
# away) added to the rows of the session's start `at` on the center's clock, with the
# relationship's `provider`, `student` and `service` and the center's `tz`; the payroll's side
# first, as its own trigger fired first (by name) before 0009, then the hour, then the periods.
# A statement for each table, in that order, so that every writer locks shared rows in one
# order.
_POST = f"""
        local := {{at}} AT TIME ZONE tz;
        d := local::date;
        h := extract(hour FROM local);
        w := date_trunc('week', local)::date;
        m := date_trunc('month', local)::date;
        q := date_trunc('quarter', local)::date;
        y := date_trunc('year', local)::date;
        IF 0 <> ANY (p) THEN  -- a change the payroll counts (not a scheduled session's)
            INSERT INTO reports_payrollperiod AS t ({_PAY_KEY}, {_PAY_COLUMNS})
            VALUES ({{org}}, 'd', d, provider, service, {_PAY_VALUES}),
                ({{org}}, 'w', w, provider, service, {_PAY_VALUES}),
                ({{org}}, 'm', m, provider, service, {_PAY_VALUES}),
                ({{org}}, 'q', q, provider, service, {_PAY_VALUES}),
                ({{org}}, 'y', y, provider, service, {_PAY_VALUES})
            ON CONFLICT ({_PAY_KEY}) DO UPDATE SET {_PAY_ADD};
            IF p[1] < 0 THEN
                DELETE FROM reports_payrollperiod
                WHERE organization_id = {{org}} AND provider_id = provider
                    AND service_type_id = service AND rows = 0
                    AND (grain, first_day)
                        IN (('d', d), ('w', w), ('m', m), ('q', q), ('y', y));
            END IF;
        END IF;
        IF 0 <> ANY (f) THEN
            INSERT INTO reports_sessionhour AS t (organization_id, service_type_id, day, hour,
                {_COLUMNS})
            VALUES ({{org}}, service, d, h, {_VALUES})
            ON CONFLICT (organization_id, day, hour, service_type_id) DO UPDATE SET {_ADD};
            INSERT INTO reports_relationshipperiod AS t (organization_id, relationship_id,
                grain, first_day, provider_id, student_id, service_type_id, {_COLUMNS})
            VALUES ({{org}}, {{rel}}, 'd', d, provider, student, service, {_VALUES}),
                ({{org}}, {{rel}}, 'm', m, provider, student, service, {_VALUES}),
                ({{org}}, {{rel}}, 'q', q, provider, student, service, {_VALUES}),
                ({{org}}, {{rel}}, 'y', y, provider, student, service, {_VALUES})
            ON CONFLICT (organization_id, grain, first_day, relationship_id)
            DO UPDATE SET {_ADD};
            IF f[1] < 0 THEN
                DELETE FROM reports_sessionhour
                WHERE organization_id = {{org}} AND day = d AND hour = h
                    AND service_type_id = service AND sessions = 0;
                DELETE FROM reports_relationshipperiod
                WHERE organization_id = {{org}} AND relationship_id = {{rel}} AND sessions = 0
                    AND (grain, first_day) IN (('d', d), ('m', m), ('q', q), ('y', y));
            END IF;
        END IF;"""  # noqa: S608 - constants only


def _post(row: str) -> str:
    return _POST.format(
        org=f"{row}.organization_id", rel=f"{row}.relationship_id", at=f"{row}.starts_at"
    )


# Built from constants of this module, never from input.
FUNCTIONS = f"""
CREATE OR REPLACE FUNCTION reports_session_written() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    provider bigint;
    student bigint;
    service bigint;
    unit text;
    tz text;
    revision integer;
    f integer[];
    p numeric[];
    old_f integer[];
    old_p numeric[];
    local timestamp;
    d date;
    h smallint;
    w date;
    m date;
    q date;
    y date;
BEGIN
    IF TG_OP <> 'INSERT' THEN
        {_context("OLD")}
        IF NOT FOUND THEN  -- deleted in this transaction (keys are deferred): emptying it all
            RETURN NULL;
        END IF;
        {_figures("OLD")}
        IF TG_OP = 'UPDATE' AND NEW.relationship_id = OLD.relationship_id
                AND NEW.organization_id = OLD.organization_id
                AND NEW.starts_at = OLD.starts_at THEN
            -- The same rows: the difference, once.
            old_f := f;
            old_p := p;
            {_figures("NEW")}
            f := ARRAY(SELECT a - b FROM unnest(f, old_f) AS x(a, b));
            p := ARRAY(SELECT a - b FROM unnest(p, old_p) AS x(a, b));
            {_post("NEW")}
            RETURN NULL;
        END IF;
        f := ARRAY(SELECT -a FROM unnest(f) AS x(a));
        p := ARRAY(SELECT -a FROM unnest(p) AS x(a));
        {_post("OLD")}
        IF TG_OP = 'DELETE' THEN
            RETURN NULL;
        END IF;
    END IF;
    {_context("NEW")}
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    {_figures("NEW")}
    {_post("NEW")}
    RETURN NULL;
END
$$;
"""  # noqa: S608

# The payroll's columns are a superset of the Sessions report's (reports/rollup_sql.py): an
# update of any other column (notes, disputes, reports sent) calls nothing.
_CHANGED = " OR ".join(f"OLD.{column} IS DISTINCT FROM NEW.{column}" for column in WATCHED)

TRIGGERS = f"""
DROP TRIGGER IF EXISTS reports_session_payroll_insert_delete ON sessions_app_session;
DROP TRIGGER IF EXISTS reports_session_payroll_update ON sessions_app_session;
DROP TRIGGER IF EXISTS reports_session_rollup_insert_delete ON sessions_app_session;
DROP TRIGGER IF EXISTS reports_session_rollup_update ON sessions_app_session;
CREATE TRIGGER reports_session_written_insert_delete
    AFTER INSERT OR DELETE ON sessions_app_session
    FOR EACH ROW EXECUTE FUNCTION reports_session_written();
CREATE TRIGGER reports_session_written_update
    AFTER UPDATE ON sessions_app_session
    FOR EACH ROW WHEN ({_CHANGED}) EXECUTE FUNCTION reports_session_written();
"""

DROP = """
DROP TRIGGER IF EXISTS reports_session_written_update ON sessions_app_session;
DROP TRIGGER IF EXISTS reports_session_written_insert_delete ON sessions_app_session;
DROP FUNCTION IF EXISTS reports_session_written();
"""
