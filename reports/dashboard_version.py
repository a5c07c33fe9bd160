"""The admin home's and the reports' version per organization, kept by the database (PostgreSQL
only).

Every committed write to a table the admin home or a report page reads adds one to its
organization's version, in the writing transaction, so a version read later sees it:
`reports.home_cache` keeps the rendered dashboard under the version (and the minute) it was
computed at, `reports.report_cache` each report's content under the version (and the day or the
minute), and any write by any path (a form, a task, the shell, SQL) shows on the next view.

The counter is split into `SHARDS` rows per organization, each transaction adding to the row of
its own transaction id modulo `SHARDS`: the version is their sum. One row per organization
would make every writing transaction of a center wait for the one before it to commit. The
trigger is a deferred constraint trigger, so the row is updated (and locked) at commit only,
once per transaction and organization (a transaction-local setting remembers it), never from a
transaction's first write to its end.

Why a counter and not the largest id or timestamp of the rows: an id or a timestamp is taken
before its transaction commits, so a transaction that commits after a larger one was already
seen leaves the largest unchanged, and most of the tables read (sessions, relationships) are
updated in place with no timestamp at all. Commits become visible in one order, so the sum a
statement reads grows with every commit it sees."""

from matchpal.data_version import READ, SHARDS, TABLE

__all__ = ["READ", "SHARDS", "TABLE", "TABLES", "bump"]

# The tables whose rows the admin home and the report pages (`reports.report_cache`) read, each
# with its organization column. The summaries they read (`CenterBalance`, `StudentBalance`,
# `SessionHour`, `PairingActivity`, `ShortSession`, the reports' roll-ups) are written by the
# triggers of these tables, in the same transactions; `manage.py rebuild_rollups` adds to the
# version itself (`bump`). `grants_package` since reports 0008: the Financial report shows the
# packages' names and counts packages by their quantity.
TABLES = {
    "grants_package": "organization_id",
    "grants_grant": "organization_id",
    "grants_grantentry": "organization_id",
    "grants_grantservicetype": "organization_id",
    "grants_allocation": "organization_id",
    "students_student": "organization_id",
    "providers_provider": "organization_id",
    "matchpal_membership": "organization_id",
    "matchpal_invitation": "organization_id",
    "matchpal_servicetype": "organization_id",
    "matchpal_organization": "id",
    "relationships_relationship": "organization_id",
    "sessions_app_session": "organization_id",
    "integrations_ordererror": "organization_id",
}

TRIGGER = "reports_dashboard_version"

CREATE = f"""
CREATE TABLE IF NOT EXISTS {TABLE} (
    organization_id bigint NOT NULL,
    shard smallint NOT NULL,
    n bigint NOT NULL,
    PRIMARY KEY (organization_id, shard)
);
"""

_FUNCTION = """
CREATE OR REPLACE FUNCTION reports_dashboard_touch_{column}() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    org bigint;
    flag text;
BEGIN
    IF TG_OP = 'DELETE' THEN org := OLD.{column}; ELSE org := NEW.{column}; END IF;
    flag := 'matchpal.dashboard_' || org;
    IF current_setting(flag, true) = '1' THEN
        RETURN NULL;
    END IF;
    PERFORM set_config(flag, '1', true);
    INSERT INTO {table} AS v (organization_id, shard, n)
    VALUES (org, (txid_current() % {shards})::smallint, 1)
    ON CONFLICT (organization_id, shard) DO UPDATE SET n = v.n + 1;
    RETURN NULL;
END
$$;
"""

FUNCTIONS = "".join(
    _FUNCTION.format(column=column, table=TABLE, shards=SHARDS)
    for column in sorted(set(TABLES.values()))
)

TRIGGERS = "".join(
    f"""
DROP TRIGGER IF EXISTS {TRIGGER} ON {table};
CREATE CONSTRAINT TRIGGER {TRIGGER} AFTER INSERT OR UPDATE OR DELETE ON {table}
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    EXECUTE FUNCTION reports_dashboard_touch_{column}();
"""
    for table, column in TABLES.items()
)

DROP = (
    "".join(f"DROP TRIGGER IF EXISTS {TRIGGER} ON {table};\n" for table in TABLES)
    + "".join(
        f"DROP FUNCTION IF EXISTS reports_dashboard_touch_{column}();\n"
        for column in sorted(set(TABLES.values()))
    )
    + f"DROP TABLE IF EXISTS {TABLE};\n"
)

# Adds one to the version of an organization (every organization with None), for a write the
# triggers do not see: the summaries' rebuild, which rewrites only the summary tables.
BUMP = f"""
INSERT INTO {TABLE} AS v (organization_id, shard, n)
SELECT o.id, (txid_current() %% {SHARDS})::smallint, 1 FROM matchpal_organization o
WHERE %(org)s::bigint IS NULL OR o.id = %(org)s::bigint
ON CONFLICT (organization_id, shard) DO UPDATE SET n = v.n + 1
"""  # noqa: S608


def bump(organization_id: int | None = None) -> None:
    """Add one to the version of `organization_id` (of every organization with None), counted at
    the commit of the current transaction like the triggers' (PostgreSQL only)."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute(BUMP, {"org": organization_id})
