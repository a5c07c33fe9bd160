"""The ledger's roll-ups filled from the entries already there, in short transactions (the
migration is not atomic), as `0002_fill_rollups` does for the sessions: per center, a month of
the center's clock at a time, its day rows and its students' day and month rows are replaced
by what that month's entries give (read through `grant_entry_org_created`). Each batch holds
off ledger writers (`SHARE ROW EXCLUSIVE`, readers go on) only while it replaces its rows: a
posting between batches lands in rows already filled (right) or in a month a later batch
recomputes. Then each grant's latest ending entries (`GrantEnding`), one statement per center
under the same lock. Safe to run again."""

from datetime import date

from django.db import migrations, transaction

from reports import ledger_sql

_MONTH = (
    " AND n.organization_id = %(org)s"
    " AND n.created_at >= (%(start)s::timestamp AT TIME ZONE %(tz)s)"
    " AND n.created_at < (%(end)s::timestamp AT TIME ZONE %(tz)s)"
)

MONTH = [
    "LOCK TABLE grants_grantentry IN SHARE ROW EXCLUSIVE MODE",
    "DELETE FROM reports_ledgerday WHERE organization_id = %(org)s "
    "AND day >= %(start)s AND day < %(end)s",
    "DELETE FROM reports_studentledgerperiod WHERE organization_id = %(org)s AND ("
    "(grain = 'd' AND first_day >= %(start)s AND first_day < %(end)s) "
    "OR (grain = 'm' AND first_day = %(start)s))",
    ledger_sql.insert_days(where=_MONTH),
    ledger_sql.insert_students(where=_MONTH),
]


def _next_month(first: date) -> date:
    return date(first.year + first.month // 12, first.month % 12 + 1, 1)


def fill(apps, schema_editor):
    connection = schema_editor.connection
    if connection.vendor != "postgresql":
        return  # no roll-ups on SQLite: the Usage report reads the ledger there
    with connection.cursor() as cursor:
        cursor.execute("SELECT id, time_zone FROM matchpal_organization ORDER BY id")
        organizations = cursor.fetchall()
    for org, tz in organizations:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT date_trunc('month', min(created_at) AT TIME ZONE %(tz)s)::date, "
                "date_trunc('month', max(created_at) AT TIME ZONE %(tz)s)::date "
                "FROM grants_grantentry WHERE organization_id = %(org)s",
                {"org": org, "tz": tz},
            )
            first, last = cursor.fetchone()
        month = first
        while month is not None and month <= last:
            end = _next_month(month)
            params = {"org": org, "tz": tz, "start": month, "end": end}
            with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
                for statement in MONTH:
                    cursor.execute(statement, params)
            month = end
        # Each grant's latest ending entries: one pass over the center's entries of those kinds.
        with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
            cursor.execute(MONTH[0])
            cursor.execute("DELETE FROM reports_grantending WHERE organization_id = %s", [org])
            cursor.execute(ledger_sql.insert_endings(where=" AND organization_id = %(org)s"), {"org": org})


class Migration(migrations.Migration):

    atomic = False

    dependencies = [
        ('reports', '0005_ledger_rollups'),
    ]

    operations = [
        migrations.RunPython(fill, migrations.RunPython.noop, elidable=False),
    ]
