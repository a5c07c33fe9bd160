"""The version of an organization's data: read here, kept by the database (PostgreSQL only).

Every committed write to a table that a cached page reads (sessions, relationships, the ledger,
students, providers, memberships, ...) adds one to its organization's version, in the writing
transaction, so a version read later sees it. The table and the triggers that keep it are
installed by the `reports` app's migrations (reports/dashboard_version.py holds the list of
tables and the triggers' SQL); reading it is this module's, so an app below `reports`
(`sessions_app.week_summary`) keys its cache on the version without importing `reports`
(docs/architecture.md, "Layers").

The counter is split into `SHARDS` rows per organization (one row would make every writing
transaction of a center wait for the one before it to commit): the version is their sum."""

from django.db import connection

from matchpal.models import Organization

SHARDS = 64
TABLE = "reports_dashboardversion"

# The organization's version, and whether this transaction has written anything (its own
# writes are not counted until it commits: such a transaction reads the figures themselves).
# Only the table's name is formatted in; the organization is a parameter.
READ = f"""
SELECT coalesce(sum(n), 0), pg_current_xact_id_if_assigned() IS NOT NULL
FROM {TABLE} WHERE organization_id = %s
"""  # noqa: S608


# The organization's version alone, as a subquery of a statement that reads it with other
# figures (`reports.home_cache.moments`).
SUM = f"SELECT coalesce(sum(n), 0) FROM {TABLE} WHERE organization_id = %s"  # noqa: S608


def version(organization: Organization) -> int | None:
    """The organization's version, or None when this view must compute what it shows (SQLite, or
    a transaction that has written rows not counted yet)."""
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute(READ, [organization.pk])
        n, wrote = cursor.fetchone()
    return None if wrote else int(n)
