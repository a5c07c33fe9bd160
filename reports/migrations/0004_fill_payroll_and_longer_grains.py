"""The payroll's roll-up and the relationships' quarter and year rows filled from what is
already there, in short transactions (the migration is not atomic), as `0002_fill_rollups` does.

First the widened check of the relationships' grains is validated (writers go on). Then, per
center: a month at a time, the payroll's day and month rows are recomputed from the month's
sessions (read through `session_org_starts`); then a year at a time, the payroll's weeks (from
its days), quarters and year (from its months) and the relationships' quarters and year (from
their months, which `0002` filled). Each batch holds off session writers (`SHARE ROW
EXCLUSIVE`, readers go on) only while it replaces its rows, so a write between batches lands
in rows already filled (right) or recomputed by a later batch; the roll-ups end exact. Safe to
run again: each batch replaces its rows."""

from datetime import date

from django.db import migrations, transaction

from reports.models import FIGURES, PAYROLL_COUNTS, PAYROLL_FIGURES
from reports.payroll_sql import ARGUMENTS

_KEY = "organization_id, grain, first_day, provider_id, service_type_id"
_COLUMNS = ", ".join(PAYROLL_FIGURES)


def _cast(name: str) -> str:
    return "integer" if name in PAYROLL_COUNTS else "numeric(14, 2)"


_SUM_FACTS = ", ".join(
    f"sum(f[{n}])::{_cast(name)}" for n, name in enumerate(PAYROLL_FIGURES, start=1)
)
_SUM_ROWS = ", ".join(f"sum({name})::{_cast(name)}" for name in PAYROLL_FIGURES)
_REL_COLUMNS = ", ".join(FIGURES)
_REL_SUMS = ", ".join(f"sum({name})::integer" for name in FIGURES)

_LOCK = "LOCK TABLE sessions_app_session IN SHARE ROW EXCLUSIVE MODE"

# The month's payroll sessions with their local day and figures (`reports_payroll_facts`,
# reports/payroll_sql.py, narrowed to a range of starts).
_FACTS = f"""
WITH facts AS (
    SELECT r.provider_id, r.service_type_id,
        (s.starts_at AT TIME ZONE %(tz)s)::date AS day,
        reports_payroll_figures({ARGUMENTS.format(s="s", unit="r.unit", revision="o.revision_minutes")}) AS f
    FROM sessions_app_session s
    JOIN relationships_relationship r ON r.id = s.relationship_id
    JOIN matchpal_organization o ON o.id = s.organization_id
    WHERE s.organization_id = %(org)s
        AND s.starts_at >= (%(start)s::timestamp AT TIME ZONE %(tz)s)
        AND s.starts_at < (%(end)s::timestamp AT TIME ZONE %(tz)s)
        AND NOT (s.status = 'scheduled' OR (s.status = 'cancelled' AND s.charged_minutes = 0))
)
"""  # noqa: S608

MONTH = [
    _LOCK,
    "DELETE FROM reports_payrollperiod WHERE organization_id = %(org)s AND ("
    "(grain = 'd' AND first_day >= %(start)s AND first_day < %(end)s) "
    "OR (grain = 'm' AND first_day = %(start)s))",
    _FACTS
    + f"""INSERT INTO reports_payrollperiod ({_KEY}, {_COLUMNS})
    SELECT %(org)s, 'd', day, provider_id, service_type_id, {_SUM_FACTS}
    FROM facts GROUP BY day, provider_id, service_type_id
    UNION ALL
    SELECT %(org)s, 'm', %(start)s, provider_id, service_type_id, {_SUM_FACTS}
    FROM facts GROUP BY provider_id, service_type_id""",
]

YEAR = [
    _LOCK,
    "DELETE FROM reports_payrollperiod WHERE organization_id = %(org)s "
    "AND grain IN ('w', 'q', 'y') AND first_day >= %(start)s AND first_day < %(end)s",
    f"""INSERT INTO reports_payrollperiod ({_KEY}, {_COLUMNS})
    SELECT %(org)s, 'w', date_trunc('week', first_day)::date, provider_id, service_type_id,
        {_SUM_ROWS}
    FROM reports_payrollperiod
    WHERE organization_id = %(org)s AND grain = 'd'
        AND first_day >= %(start)s AND first_day < %(end)s::date + 6
    GROUP BY 3, provider_id, service_type_id
    HAVING date_trunc('week', first_day)::date >= %(start)s
        AND date_trunc('week', first_day)::date < %(end)s
    UNION ALL
    SELECT %(org)s, g.grain, g.first_day, provider_id, service_type_id, {_SUM_ROWS}
    FROM reports_payrollperiod, LATERAL (VALUES
        ('q'::varchar(1), date_trunc('quarter', first_day)::date),
        ('y', date_trunc('year', first_day)::date)
    ) g(grain, first_day)
    WHERE organization_id = %(org)s AND reports_payrollperiod.grain = 'm'
        AND reports_payrollperiod.first_day >= %(start)s
        AND reports_payrollperiod.first_day < %(end)s
    GROUP BY g.grain, g.first_day, provider_id, service_type_id""",
    "DELETE FROM reports_relationshipperiod WHERE organization_id = %(org)s "
    "AND grain IN ('q', 'y') AND first_day >= %(start)s AND first_day < %(end)s",
    f"""INSERT INTO reports_relationshipperiod (organization_id, relationship_id, grain,
        first_day, provider_id, student_id, service_type_id, {_REL_COLUMNS})
    SELECT %(org)s, relationship_id, g.grain, g.first_day, provider_id, student_id,
        service_type_id, {_REL_SUMS}
    FROM reports_relationshipperiod, LATERAL (VALUES
        ('q'::varchar(1), date_trunc('quarter', first_day)::date),
        ('y', date_trunc('year', first_day)::date)
    ) g(grain, first_day)
    WHERE organization_id = %(org)s AND reports_relationshipperiod.grain = 'm'
        AND reports_relationshipperiod.first_day >= %(start)s
        AND reports_relationshipperiod.first_day < %(end)s
    GROUP BY relationship_id, g.grain, g.first_day, provider_id, student_id, service_type_id""",
]


def _next_month(first: date) -> date:
    return date(first.year + first.month // 12, first.month % 12 + 1, 1)


def _run(connection, statements, params) -> None:
    with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement, params)


def validate(apps, schema_editor):
    """The check widened by `0003` holds for the rows already there (writers go on)."""
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            "ALTER TABLE reports_relationshipperiod VALIDATE CONSTRAINT relationship_period_grain"
        )


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
        if first is None:
            continue
        month = first
        while month <= last:
            end = _next_month(month)
            _run(connection, MONTH, {"org": org, "tz": tz, "start": month, "end": end})
            month = end
        # A week starting in the December before the first year holds days of it.
        for year in range(first.year - 1, last.year + 1):
            start, end = date(year, 1, 1), date(year + 1, 1, 1)
            _run(connection, YEAR, {"org": org, "tz": tz, "start": start, "end": end})


class Migration(migrations.Migration):

    atomic = False

    dependencies = [
        ('reports', '0003_payroll_rollup_and_longer_grains'),
    ]

    operations = [
        migrations.RunPython(validate, migrations.RunPython.noop, elidable=False),
        migrations.RunPython(fill, migrations.RunPython.noop, elidable=False),
    ]


