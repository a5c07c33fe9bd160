"""The ledger's roll-ups for the Usage report (`reports.models.LedgerDay` and
`StudentLedgerPeriod`): kept by PostgreSQL in the transaction of every ledger posting, one
statement-level trigger on `grants_grantentry` adding the statement's entries (its transition
table) with upserts that add, as `grants_center_balance` does for `CenterBalance`. The same
SQL, over the whole ledger, gives the `_expected` views the rebuild and `rebuild_rollups
--check` read (docs/reports.md, "Roll-ups of the ledger").

A statement of one entry for a relationship (every posting of a session's log) is written by
three short upserts of the same rows, sums and order instead of the grouped statement (since
`reports` 0009): the grouping's plan cost more than the rows it wrote.

The ledger is append-only, so nothing is ever taken out of a row; a center changing its time
zone has its rows rebuilt in that transaction (every day boundary moves).
"""

from reports.rollup_sql import differences_sql

# The entries that move a Usage figure (a total or used delta, an expiry or an extension: not
# holds and releases), with the day the ledger recorded them on the center's clock.
_FACTS = """
SELECT n.organization_id, (n.created_at AT TIME ZONE o.time_zone)::date AS day, g.unit, n.kind,
    n.grant_id, g.student_id, n.relationship_id IS NOT NULL AS by_relationship,
    r.service_type_id AS relationship_type, n.total_delta, n.used_delta, n.usable_delta
FROM {source} n
JOIN grants_grant g ON g.id = n.grant_id
JOIN matchpal_organization o ON o.id = n.organization_id
LEFT JOIN relationships_relationship r ON r.id = n.relationship_id
WHERE (n.total_delta <> 0 OR n.used_delta <> 0 OR n.kind IN ('expire', 'extend')) {where}
"""

_SUMS = (
    "sum(total_delta)::bigint AS total_delta, sum(used_delta)::bigint AS used_delta, "
    "sum(usable_delta)::bigint AS usable_delta"
)
DAY_KEYS = ("organization_id", "day", "unit", "kind", "service_type_id", "by_relationship")
DAY_FIGURES = ("total_delta", "used_delta", "usable_delta")
_DAY_COLUMNS = ", ".join(DAY_KEYS + DAY_FIGURES)

# Each entry in the center's row (no service type), and in its types' rows: an entry for a
# relationship under the relationship's type, any other under every type its grant covers.
_DAY_ROWS = f"""
SELECT organization_id, day, unit, kind, NULL::bigint AS service_type_id, by_relationship,
    {_SUMS}
FROM facts GROUP BY organization_id, day, unit, kind, by_relationship
UNION ALL
SELECT organization_id, day, unit, kind, relationship_type, true, {_SUMS}
FROM facts WHERE by_relationship
GROUP BY organization_id, day, unit, kind, relationship_type
UNION ALL
SELECT f.organization_id, day, unit, kind, gst.service_type_id, false, {_SUMS}
FROM facts f JOIN grants_grantservicetype gst ON gst.grant_id = f.grant_id
WHERE NOT by_relationship
GROUP BY f.organization_id, day, unit, kind, gst.service_type_id
"""  # noqa: S608

STUDENT_KEYS = ("organization_id", "grain", "first_day", "student_id", "unit", "service_type_id")
STUDENT_FIGURES = ("used_delta",)
_STUDENT_COLUMNS = ", ".join(STUDENT_KEYS + STUDENT_FIGURES)

# A student's consumption per day and per month, by the relationship's type.
_STUDENT_ROWS = """
SELECT organization_id, p.grain, p.first_day, student_id, unit,
    relationship_type AS service_type_id, sum(used_delta)::bigint AS used_delta
FROM facts, LATERAL (VALUES
    ('d'::varchar(1), day), ('m', date_trunc('month', day)::date)
) p(grain, first_day)
WHERE used_delta <> 0
GROUP BY organization_id, p.grain, p.first_day, student_id, unit, relationship_type
"""


ENDING_KEYS = ("organization_id", "grant_id")
ENDING_FIGURES = ("entries", "last_consume_at", "last_expire_at", "last_refund_at", "refunded")
_ENDING_COLUMNS = ", ".join(ENDING_KEYS + ENDING_FIGURES)

# Per grant, when each kind of entry that may end it was last recorded.
_ENDING_ROWS = """
SELECT organization_id, grant_id, count(*)::integer AS entries,
    max(created_at) FILTER (WHERE kind = 'consume') AS last_consume_at,
    max(created_at) FILTER (WHERE kind = 'expire') AS last_expire_at,
    max(created_at) FILTER (WHERE kind = 'refund') AS last_refund_at,
    coalesce(sum(total_delta) FILTER (WHERE kind = 'refund'), 0)::bigint AS refunded
FROM {source} n WHERE kind IN ('consume', 'expire', 'refund') {where}
GROUP BY organization_id, grant_id
"""


def ending_rows(source: str = "grants_grantentry", where: str = "") -> str:
    return _ENDING_ROWS.format(source=source, where=where)


def insert_endings(where: str = "") -> str:
    return f"INSERT INTO reports_grantending ({_ENDING_COLUMNS}) {ending_rows(where=where)}"


def facts(source: str = "grants_grantentry", where: str = "") -> str:
    return _FACTS.format(source=source, where=where)


def insert_days(source: str = "grants_grantentry", where: str = "") -> str:
    """The day rows of the entries of `source` (narrowed by `where`), inserted."""
    return (
        f"WITH facts AS ({facts(source, where)}) "
        f"INSERT INTO reports_ledgerday ({_DAY_COLUMNS}) {_DAY_ROWS}"
    )


def insert_students(source: str = "grants_grantentry", where: str = "") -> str:
    return (
        f"WITH facts AS ({facts(source, where)}) "
        f"INSERT INTO reports_studentledgerperiod ({_STUDENT_COLUMNS}) {_STUDENT_ROWS}"
    )


_ADD_DAY = ", ".join(f"{name} = t.{name} + EXCLUDED.{name}" for name in DAY_FIGURES)

FUNCTIONS = f"""
CREATE OR REPLACE VIEW reports_ledgerday_expected AS
WITH facts AS ({facts()}) {_DAY_ROWS};

CREATE OR REPLACE VIEW reports_studentledgerperiod_expected AS
WITH facts AS ({facts()}) {_STUDENT_ROWS};

CREATE OR REPLACE VIEW reports_grantending_expected AS {ending_rows()};

CREATE OR REPLACE FUNCTION reports_ledger_rollup() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    e record;
BEGIN
    -- One entry for a relationship (a session's consumption, a hold, a release: every log's
    -- posting): its rows written by three short upserts, the same rows and sums, in the same
    -- order, as the statement below would write them.
    SELECT n.organization_id, n.grant_id, n.kind, n.created_at, n.total_delta, n.used_delta,
        n.usable_delta, g.unit, g.student_id, r.service_type_id AS relationship_type,
        (n.created_at AT TIME ZONE o.time_zone)::date AS day,
        (SELECT count(*) FROM new_entries) AS entries
    INTO e
    FROM new_entries n
    JOIN grants_grant g ON g.id = n.grant_id
    JOIN matchpal_organization o ON o.id = n.organization_id
    JOIN relationships_relationship r ON r.id = n.relationship_id
    LIMIT 1;
    IF FOUND AND e.entries = 1 THEN
        IF e.used_delta <> 0 THEN
            INSERT INTO reports_studentledgerperiod AS t ({_STUDENT_COLUMNS})
            VALUES (e.organization_id, 'd', e.day, e.student_id, e.unit, e.relationship_type,
                    e.used_delta),
                (e.organization_id, 'm', date_trunc('month', e.day)::date, e.student_id,
                    e.unit, e.relationship_type, e.used_delta)
            ON CONFLICT (organization_id, grain, first_day, student_id, unit, service_type_id)
            DO UPDATE SET used_delta = t.used_delta + EXCLUDED.used_delta;
        END IF;
        IF e.total_delta <> 0 OR e.used_delta <> 0 OR e.kind IN ('expire', 'extend') THEN
            -- The type's row before the center's (NULL sorts last), as ordered below.
            INSERT INTO reports_ledgerday AS t ({_DAY_COLUMNS})
            VALUES (e.organization_id, e.day, e.unit, e.kind, e.relationship_type, true,
                    e.total_delta, e.used_delta, e.usable_delta),
                (e.organization_id, e.day, e.unit, e.kind, NULL, true,
                    e.total_delta, e.used_delta, e.usable_delta)
            ON CONFLICT (organization_id, day, unit, kind, service_type_id, by_relationship)
            DO UPDATE SET {_ADD_DAY};
        END IF;
        IF e.kind IN ('consume', 'expire', 'refund') THEN
            INSERT INTO reports_grantending AS t ({_ENDING_COLUMNS})
            VALUES (e.organization_id, e.grant_id, 1,
                CASE WHEN e.kind = 'consume' THEN e.created_at END,
                CASE WHEN e.kind = 'expire' THEN e.created_at END,
                CASE WHEN e.kind = 'refund' THEN e.created_at END,
                CASE WHEN e.kind = 'refund' THEN e.total_delta ELSE 0 END)
            ON CONFLICT (grant_id) DO UPDATE SET entries = t.entries + EXCLUDED.entries,
                last_consume_at = GREATEST(t.last_consume_at, EXCLUDED.last_consume_at),
                last_expire_at = GREATEST(t.last_expire_at, EXCLUDED.last_expire_at),
                last_refund_at = GREATEST(t.last_refund_at, EXCLUDED.last_refund_at),
                refunded = t.refunded + EXCLUDED.refunded;
        END IF;
        RETURN NULL;
    END IF;
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
    WITH facts AS ({facts("new_entries")}),
    endings AS (
        INSERT INTO reports_grantending AS t ({_ENDING_COLUMNS})
        SELECT * FROM ({ending_rows("new_entries")}) x ORDER BY grant_id
        ON CONFLICT (grant_id) DO UPDATE SET entries = t.entries + EXCLUDED.entries,
            last_consume_at = GREATEST(t.last_consume_at, EXCLUDED.last_consume_at),
            last_expire_at = GREATEST(t.last_expire_at, EXCLUDED.last_expire_at),
            last_refund_at = GREATEST(t.last_refund_at, EXCLUDED.last_refund_at),
            refunded = t.refunded + EXCLUDED.refunded
    ),
    days AS (
        INSERT INTO reports_ledgerday AS t ({_DAY_COLUMNS})
        SELECT * FROM ({_DAY_ROWS}) d ORDER BY 1, 2, 3, 4, 5, 6
        ON CONFLICT (organization_id, day, unit, kind, service_type_id, by_relationship)
        DO UPDATE SET {_ADD_DAY}
    )
    INSERT INTO reports_studentledgerperiod AS t ({_STUDENT_COLUMNS})
    SELECT * FROM ({_STUDENT_ROWS}) s ORDER BY 1, 2, 3, 4, 5, 6
    ON CONFLICT (organization_id, grain, first_day, student_id, unit, service_type_id)
    DO UPDATE SET used_delta = t.used_delta + EXCLUDED.used_delta;
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION reports_ledger_rebuild(org bigint) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    LOCK TABLE grants_grantentry IN SHARE ROW EXCLUSIVE MODE;
    DELETE FROM reports_ledgerday WHERE org IS NULL OR organization_id = org;
    DELETE FROM reports_studentledgerperiod WHERE org IS NULL OR organization_id = org;
    DELETE FROM reports_grantending WHERE org IS NULL OR organization_id = org;
    INSERT INTO reports_ledgerday ({_DAY_COLUMNS})
    SELECT {_DAY_COLUMNS} FROM reports_ledgerday_expected
    WHERE org IS NULL OR organization_id = org;
    INSERT INTO reports_studentledgerperiod ({_STUDENT_COLUMNS})
    SELECT {_STUDENT_COLUMNS} FROM reports_studentledgerperiod_expected
    WHERE org IS NULL OR organization_id = org;
    INSERT INTO reports_grantending ({_ENDING_COLUMNS})
    SELECT {_ENDING_COLUMNS} FROM reports_grantending_expected
    WHERE org IS NULL OR organization_id = org;
END
$$;

CREATE OR REPLACE FUNCTION reports_ledger_time_zone() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM reports_ledger_rebuild(NEW.id);
    RETURN NULL;
END
$$;
"""  # noqa: S608

TRIGGERS = """
CREATE TRIGGER reports_ledger_rollup AFTER INSERT ON grants_grantentry
    REFERENCING NEW TABLE AS new_entries
    FOR EACH STATEMENT EXECUTE FUNCTION reports_ledger_rollup();
CREATE TRIGGER reports_ledger_time_zone
    AFTER UPDATE OF time_zone ON matchpal_organization
    FOR EACH ROW WHEN (OLD.time_zone IS DISTINCT FROM NEW.time_zone)
    EXECUTE FUNCTION reports_ledger_time_zone();
"""

DROP = """
DROP TRIGGER IF EXISTS reports_ledger_time_zone ON matchpal_organization;
DROP TRIGGER IF EXISTS reports_ledger_rollup ON grants_grantentry;
DROP FUNCTION IF EXISTS reports_ledger_time_zone();
DROP FUNCTION IF EXISTS reports_ledger_rebuild(bigint);
DROP FUNCTION IF EXISTS reports_ledger_rollup();
DROP VIEW IF EXISTS reports_grantending_expected;
DROP VIEW IF EXISTS reports_studentledgerperiod_expected;
DROP VIEW IF EXISTS reports_ledgerday_expected;
"""

# Each table: its key, its figures (the key's service type is NULL in the center's rows and for
# entries of no relationship: compared as 0).
TABLES = {
    "reports_ledgerday": (DAY_KEYS, DAY_FIGURES),
    "reports_studentledgerperiod": (STUDENT_KEYS, STUDENT_FIGURES),
    "reports_grantending": (ENDING_KEYS, ENDING_FIGURES),
}


def ledger_differences_sql(table: str) -> str:
    keys, figures = TABLES[table]
    nullable = ("service_type_id",) if "service_type_id" in keys else ()
    return differences_sql(table, keys, figures, nullable=nullable)
