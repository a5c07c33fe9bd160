"""The Sessions report's roll-ups filled from the sessions already there, one month of one
center per transaction (the migration is not atomic).

The triggers of `0001_rollups` already keep the roll-ups as sessions are written. Each batch
holds off session writers (`SHARE ROW EXCLUSIVE`, as `reports_rollup_rebuild` does: readers go
on) only while it recomputes its month: it deletes the month's rows and inserts them again
grouped from the month's sessions, read through `session_org_starts`. A write between batches
adds its change to a month already filled (right) or to one not filled yet (recomputed when its
batch comes), so the roll-ups end exact; until the fill is over, a report of a month not filled
yet is incomplete. Safe to run again: each batch replaces its month. A database that ran the
single migration this replaces is filled again, the same way."""

from datetime import date

from django.db import migrations, transaction

from reports.models import FIGURES

_SUMS = ", ".join(f"sum(f[{n}])::integer" for n in range(1, len(FIGURES) + 1))
_COLUMNS = ", ".join(FIGURES)

# The month's sessions with their day, hour and month on the center's clock and their figures:
# `reports_session_facts` (reports/rollup_sql.py) narrowed to a range of starts.
_FACTS = """
WITH facts AS (
    SELECT
        s.relationship_id, r.provider_id, r.student_id, r.service_type_id,
        (s.starts_at AT TIME ZONE %(tz)s)::date AS day,
        extract(hour FROM s.starts_at AT TIME ZONE %(tz)s)::smallint AS hour,
        date_trunc('month', s.starts_at AT TIME ZONE %(tz)s)::date AS month,
        reports_session_figures(
            s.status, s.duration_minutes, s.charged_minutes, s.no_show_party, r.unit
        ) AS f
    FROM sessions_app_session s
    JOIN relationships_relationship r ON r.id = s.relationship_id
    WHERE s.organization_id = %(org)s
        AND s.starts_at >= (%(start)s::timestamp AT TIME ZONE %(tz)s)
        AND s.starts_at < (%(end)s::timestamp AT TIME ZONE %(tz)s)
)
"""

BATCH = [
    "LOCK TABLE sessions_app_session IN SHARE ROW EXCLUSIVE MODE",
    "DELETE FROM reports_sessionhour WHERE organization_id = %(org)s "
    "AND day >= %(start)s AND day < %(end)s",
    "DELETE FROM reports_relationshipperiod WHERE organization_id = %(org)s "
    "AND first_day >= %(start)s AND first_day < %(end)s",
    _FACTS
    + f"""INSERT INTO reports_sessionhour (organization_id, service_type_id, day, hour, {_COLUMNS})
    SELECT %(org)s, service_type_id, day, hour, {_SUMS}
    FROM facts GROUP BY service_type_id, day, hour""",
    _FACTS
    + f"""INSERT INTO reports_relationshipperiod (organization_id, relationship_id, grain,
        first_day, provider_id, student_id, service_type_id, {_COLUMNS})
    SELECT %(org)s, relationship_id, 'd', day, provider_id, student_id, service_type_id, {_SUMS}
    FROM facts GROUP BY relationship_id, day, provider_id, student_id, service_type_id
    UNION ALL
    SELECT %(org)s, relationship_id, 'm', month, provider_id, student_id, service_type_id,
        {_SUMS}
    FROM facts GROUP BY relationship_id, month, provider_id, student_id, service_type_id""",
]


def _next_month(first: date) -> date:
    return date(first.year + first.month // 12, first.month % 12 + 1, 1)


def fill(apps, schema_editor):
    connection = schema_editor.connection
    if connection.vendor != "postgresql":
        return  # no roll-ups on SQLite: the reports read the sessions there
    with connection.cursor() as cursor:
        cursor.execute("SELECT id, time_zone FROM matchpal_organization ORDER BY id")
        organizations = cursor.fetchall()
    for org, tz in organizations:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT date_trunc('month', min(starts_at) AT TIME ZONE %(tz)s)::date, "
                "date_trunc('month', max(starts_at) AT TIME ZONE %(tz)s)::date "
                "FROM sessions_app_session WHERE organization_id = %(org)s",
                {"org": org, "tz": tz},
            )
            first, last = cursor.fetchone()
        month = first
        while month is not None and month <= last:
            end = _next_month(month)
            with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
                for statement in BATCH:
                    cursor.execute(statement, {"org": org, "tz": tz, "start": month, "end": end})
            month = end


class Migration(migrations.Migration):

    atomic = False

    dependencies = [
        ('reports', '0001_rollups'),
    ]

    operations = [
        migrations.RunPython(fill, migrations.RunPython.noop, elidable=False),
    ]
