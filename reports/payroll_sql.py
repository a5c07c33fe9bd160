"""The SQL that keeps the payroll's roll-up (`reports.models.PayrollPeriod`), PostgreSQL only.

- `reports_payroll_figures(...)`: a session's payroll figures as an array in `PAYROLL_FIGURES`
  order, all zero for a session the payroll leaves out (scheduled, or cancelled without a
  charge): the SQL twin of `Session.objects.with_money()` and of the filters of
  `reports.payroll`, the center's confirmation and absence settings left to the reader (a
  completed session's minutes and earnings are kept as confirmed or not, a charged absence's
  apart). The money of each session is `with_money`'s expression: minutes × rate ÷ 60, rounded
  to the cent, so a sum of the column is the sum of the sessions' amounts to the cent. One
  expression (since `reports` 0009), which the planner inlines into its callers.
- `reports_payroll_grains(local)`: the day, ISO week, month, quarter and year a local time falls
  in, as (`grain`, `first_day`) rows: every session counts in one row of each.
- `reports_payroll_facts`, `reports_payrollperiod_expected`: the roll-up as it should be, from
  the sessions (`manage.py rebuild_rollups [--check]`); the day rows are grouped from the
  sessions, the longer grains from the day rows.
- `reports_session_payroll()`: the trigger after every insert, delete and update of a column a
  figure or a key reads (until `reports` 0009; since then `reports_session_written()` of
  reports/session_writes_sql.py keeps this roll-up and the Sessions report's in one function), as
  `reports_session_rollup()` does for the Sessions report's roll-ups (reports/rollup_sql.py): the
  new row's figures added, the old row's taken away, by upserts that add, in the writer's
  transaction; a row whose sessions fall to 0 is deleted; a change that moves no figure writes
  nothing.
- `reports_organization_revision_minutes()`: when a center changes its fixed value of a revision,
  the revisions charged at it (a sessions-unit relationship's, without a review time) are posted
  again: the difference of their figures, in the same transaction.
- `reports_payroll_rebuild(organization)`: the roll-up of one center (all with NULL) recomputed;
  `reports_rollup_rebuild` calls it, under its lock of the sessions.
"""

from reports.models import PAYROLL_COUNTS, PAYROLL_FIGURES

_N = len(PAYROLL_FIGURES)
_COLUMNS = ", ".join(PAYROLL_FIGURES)
_CASTS = ", ".join(
    f"f[{n}]::{'integer' if name in PAYROLL_COUNTS else 'numeric(14, 2)'}"
    for n, name in enumerate(PAYROLL_FIGURES, start=1)
)
_ADD = ", ".join(f"{name} = t.{name} + EXCLUDED.{name}" for name in PAYROLL_FIGURES)
_KEY = "organization_id, grain, first_day, provider_id, service_type_id"
_SUM_FACTS = ", ".join(
    f"sum(f[{n}])::{'integer' if name in PAYROLL_COUNTS else 'numeric(14, 2)'} AS {name}"
    for n, name in enumerate(PAYROLL_FIGURES, start=1)
)
_SUM_DAYS = ", ".join(
    f"sum({name})::{'integer' if name in PAYROLL_COUNTS else 'numeric(14, 2)'}"
    for name in PAYROLL_FIGURES
)

# The session's arguments of `reports_payroll_figures`, for a row alias and the center's
# revision value.
ARGUMENTS = (
    "{s}.status, {s}.duration_minutes, {s}.charged_minutes, {s}.no_show_party, {unit}, "
    "{s}.kind, {s}.review_minutes, {revision}, {s}.student_confirmed_at IS NOT NULL, "
    "{s}.provider_pay_rate, {s}.client_rate"
)


def _figures_of(s: str, *, unit: str, revision: str) -> str:
    return "reports_payroll_figures(" + ARGUMENTS.format(s=s, unit=unit, revision=revision) + ")"


# What the payroll leaves out (`reports.payroll.SCHEDULED_OR_FREE`).
_LEFT_OUT = "({s}.status = 'scheduled' OR ({s}.status = 'cancelled' AND {s}.charged_minutes = 0))"

# `reports_payroll_figures` is one expression (since reports 0009), so that the planner inlines
# it into the statements and trigger functions that call it: a SQL function whose body has a
# FROM is called as a function, and parsed and planned again in every transaction. The minutes
# are spelled once per use instead of read from a subquery.
_MINUTES = """(CASE
            WHEN unit = 'sessions' THEN charged * CASE
                WHEN kind = 'revision' THEN coalesce(review, revision) ELSE duration END
            ELSE charged
        END)"""
_EARNED = f"round({_MINUTES} * pay / 60, 2)"

# Built from constants of this module, never from input.
FUNCTIONS = f"""
CREATE OR REPLACE FUNCTION reports_payroll_figures(
    status text, duration integer, charged integer, party text, unit text, kind text,
    review integer, revision integer, confirmed boolean, pay numeric, client numeric
) RETURNS numeric[] LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE
        WHEN status = 'scheduled' OR (status = 'cancelled' AND charged = 0)
            THEN array_fill(0::numeric, ARRAY[{_N}])
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
            {_MINUTES},
            CASE WHEN status = 'completed' AND confirmed THEN {_MINUTES} ELSE 0 END,
            CASE WHEN status = 'completed' AND NOT confirmed THEN {_MINUTES} ELSE 0 END,
            CASE WHEN status IN ('cancelled', 'no_show') THEN {_MINUTES} ELSE 0 END,
            CASE WHEN status = 'completed' AND confirmed THEN {_EARNED} ELSE 0 END,
            CASE WHEN status = 'completed' AND NOT confirmed THEN {_EARNED} ELSE 0 END,
            CASE WHEN status IN ('cancelled', 'no_show') THEN {_EARNED} ELSE 0 END,
            round({_MINUTES} * client / 60, 2)
        ]
    END
$$;

CREATE OR REPLACE FUNCTION reports_payroll_grains(local timestamp)
RETURNS TABLE (grain varchar(1), first_day date) LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    VALUES
        ('d'::varchar(1), local::date),
        ('w', date_trunc('week', local)::date),
        ('m', date_trunc('month', local)::date),
        ('q', date_trunc('quarter', local)::date),
        ('y', date_trunc('year', local)::date)
$$;

CREATE OR REPLACE VIEW reports_payroll_facts AS
SELECT
    s.organization_id,
    r.provider_id,
    r.service_type_id,
    (s.starts_at AT TIME ZONE o.time_zone)::date AS day,
    {_figures_of("s", unit="r.unit", revision="o.revision_minutes")} AS f
FROM sessions_app_session s
JOIN relationships_relationship r ON r.id = s.relationship_id
JOIN matchpal_organization o ON o.id = s.organization_id
WHERE NOT {_LEFT_OUT.format(s="s")};

CREATE OR REPLACE VIEW reports_payrollperiod_expected AS
WITH days AS (
    SELECT organization_id, day, provider_id, service_type_id, {_SUM_FACTS}
    FROM reports_payroll_facts
    GROUP BY organization_id, day, provider_id, service_type_id
)
SELECT organization_id, 'd'::varchar(1) AS grain, day AS first_day, provider_id,
    service_type_id, {_COLUMNS}
FROM days
UNION ALL
SELECT organization_id, g.grain::varchar(1), g.first_day, provider_id, service_type_id,
    {_SUM_DAYS}
FROM days, LATERAL reports_payroll_grains(day::timestamp) g
WHERE g.grain <> 'd'
GROUP BY organization_id, g.grain, g.first_day, provider_id, service_type_id;

CREATE OR REPLACE FUNCTION reports_payroll_post(
    org bigint, provider bigint, service bigint, at timestamptz, tz text, f numeric[]
) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    local timestamp := at AT TIME ZONE tz;
BEGIN
    IF NOT EXISTS (SELECT FROM unnest(f) AS x(a) WHERE a <> 0) THEN
        RETURN;  -- nothing the payroll counts moved (a scheduled session's edit, a note)
    END IF;
    INSERT INTO reports_payrollperiod AS t ({_KEY}, {_COLUMNS})
    SELECT org, g.grain, g.first_day, provider, service, {_CASTS}
    FROM reports_payroll_grains(local) g
    ON CONFLICT ({_KEY}) DO UPDATE SET {_ADD};
    IF f[1] < 0 THEN
        DELETE FROM reports_payrollperiod
        WHERE organization_id = org AND provider_id = provider AND service_type_id = service
            AND rows = 0
            AND (grain, first_day) IN (SELECT * FROM reports_payroll_grains(local));
    END IF;
END
$$;

CREATE OR REPLACE FUNCTION reports_session_payroll() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    provider bigint;
    service bigint;
    unit text;
    tz text;
    revision integer;
    old_f numeric[];
    new_f numeric[];
BEGIN
    IF TG_OP <> 'INSERT' THEN
        SELECT r.provider_id, r.service_type_id, r.unit, o.time_zone, o.revision_minutes
        INTO provider, service, unit, tz, revision
        FROM relationships_relationship r
        JOIN matchpal_organization o ON o.id = r.organization_id
        WHERE r.id = OLD.relationship_id;
        IF NOT FOUND THEN  -- deleted in this transaction (keys are deferred): emptying it all
            RETURN NULL;
        END IF;
        old_f := {_figures_of("OLD", unit="unit", revision="revision")};
    END IF;
    IF TG_OP = 'UPDATE' AND NEW.relationship_id = OLD.relationship_id
            AND NEW.organization_id = OLD.organization_id AND NEW.starts_at = OLD.starts_at THEN
        new_f := {_figures_of("NEW", unit="unit", revision="revision")};
        PERFORM reports_payroll_post(
            NEW.organization_id, provider, service, NEW.starts_at, tz,
            ARRAY(SELECT a - b FROM unnest(new_f, old_f) AS x(a, b)));
        RETURN NULL;
    END IF;
    IF TG_OP <> 'INSERT' THEN
        PERFORM reports_payroll_post(
            OLD.organization_id, provider, service, OLD.starts_at, tz,
            ARRAY(SELECT -a FROM unnest(old_f) AS x(a)));
    END IF;
    IF TG_OP <> 'DELETE' THEN
        SELECT r.provider_id, r.service_type_id, r.unit, o.time_zone, o.revision_minutes
        INTO provider, service, unit, tz, revision
        FROM relationships_relationship r
        JOIN matchpal_organization o ON o.id = r.organization_id
        WHERE r.id = NEW.relationship_id;
        IF NOT FOUND THEN
            RETURN NULL;
        END IF;
        new_f := {_figures_of("NEW", unit="unit", revision="revision")};
        PERFORM reports_payroll_post(
            NEW.organization_id, provider, service, NEW.starts_at, tz, new_f);
    END IF;
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION reports_organization_revision_minutes() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO reports_payrollperiod AS t ({_KEY}, {_COLUMNS})
    SELECT NEW.id, g.grain, g.first_day, x.provider_id, x.service_type_id, {_SUM_FACTS}
    FROM (
        SELECT r.provider_id, r.service_type_id,
            s.starts_at AT TIME ZONE NEW.time_zone AS local,
            ARRAY(SELECT a - b FROM unnest(
                {_figures_of("s", unit="r.unit", revision="NEW.revision_minutes")},
                {_figures_of("s", unit="r.unit", revision="OLD.revision_minutes")}
            ) AS d(a, b)) AS f
        FROM sessions_app_session s
        JOIN relationships_relationship r ON r.id = s.relationship_id
        WHERE s.organization_id = NEW.id AND s.kind = 'revision' AND s.review_minutes IS NULL
            AND r.unit = 'sessions' AND NOT {_LEFT_OUT.format(s="s")}
    ) x, LATERAL reports_payroll_grains(x.local) g
    GROUP BY g.grain, g.first_day, x.provider_id, x.service_type_id
    ON CONFLICT ({_KEY}) DO UPDATE SET {_ADD};
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION reports_payroll_rebuild(org bigint) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM reports_payrollperiod WHERE org IS NULL OR organization_id = org;
    INSERT INTO reports_payrollperiod ({_KEY}, {_COLUMNS})
    SELECT {_KEY}, {_COLUMNS}
    FROM reports_payrollperiod_expected WHERE org IS NULL OR organization_id = org;
END
$$;
"""  # noqa: S608

# A payroll figure or key reads these columns; an update of any other (notes, disputes, reports
# sent) leaves the roll-up alone without calling the function.
WATCHED = (
    "organization_id",
    "relationship_id",
    "starts_at",
    "status",
    "duration_minutes",
    "charged_minutes",
    "no_show_party",
    "kind",
    "review_minutes",
    "student_confirmed_at",
    "provider_pay_rate",
    "client_rate",
)
_CHANGED = " OR ".join(f"OLD.{column} IS DISTINCT FROM NEW.{column}" for column in WATCHED)

TRIGGERS = f"""
CREATE TRIGGER reports_session_payroll_insert_delete
    AFTER INSERT OR DELETE ON sessions_app_session
    FOR EACH ROW EXECUTE FUNCTION reports_session_payroll();
CREATE TRIGGER reports_session_payroll_update
    AFTER UPDATE ON sessions_app_session
    FOR EACH ROW WHEN ({_CHANGED}) EXECUTE FUNCTION reports_session_payroll();
CREATE TRIGGER reports_organization_revision_minutes
    AFTER UPDATE OF revision_minutes ON matchpal_organization
    FOR EACH ROW WHEN (OLD.revision_minutes IS DISTINCT FROM NEW.revision_minutes)
    EXECUTE FUNCTION reports_organization_revision_minutes();
"""

DROP = """
DROP TRIGGER IF EXISTS reports_organization_revision_minutes ON matchpal_organization;
DROP TRIGGER IF EXISTS reports_session_payroll_update ON sessions_app_session;
DROP TRIGGER IF EXISTS reports_session_payroll_insert_delete ON sessions_app_session;
DROP FUNCTION IF EXISTS reports_payroll_rebuild(bigint);
DROP FUNCTION IF EXISTS reports_organization_revision_minutes();
DROP FUNCTION IF EXISTS reports_session_payroll();
DROP FUNCTION IF EXISTS reports_payroll_post(bigint, bigint, bigint, timestamptz, text, numeric[]);
DROP VIEW IF EXISTS reports_payrollperiod_expected;
DROP VIEW IF EXISTS reports_payroll_facts;
DROP FUNCTION IF EXISTS reports_payroll_grains(timestamp);
DROP FUNCTION IF EXISTS reports_payroll_figures(
    text, integer, integer, text, text, text, integer, integer, boolean, numeric, numeric);
"""

KEYS = ("organization_id", "grain", "first_day", "provider_id", "service_type_id")
