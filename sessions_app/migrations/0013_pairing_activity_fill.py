"""The warning signs' summaries (`PairingActivity`, `ShortSession`) filled from the
relationships and sessions already there, `BATCH` relationships per transaction (the migration
is not atomic): the sessions are never held for the whole fill.

The triggers of `0009_pairing_activity_short_sessions` already keep the summaries as sessions
and relationships are written. Each batch holds off writers of sessions, relationships and
centers (`SHARE ROW EXCLUSIVE`: readers go on) only while it recomputes its relationships from
scratch (`sessions_app.rollups`, narrowed to a range of relationship ids, read through the
sessions' `(relationship, starts_at)` index): it deletes their rows and inserts them again. A
write between batches is summed by its trigger into a relationship already filled (right) or
one not filled yet (recomputed when its batch comes), so the summaries end exact; until the
fill is over, a warning sign counts only the relationships filled so far. Safe to run again:
each batch replaces its relationships. A database that ran the single migration this replaces
is filled again, the same way, and ends where it was."""

from django.db import migrations, transaction

from sessions_app.rollups import ACTIVITY, ACTIVITY_COLUMNS, SHORT, SHORT_COLUMNS

BATCH = 200  # relationships (about 7,000 sessions on the large generated center)

_SESSIONS = "AND s.relationship_id >= %(start)s AND s.relationship_id < %(end)s"
_RANGE = "relationship_id >= %(start)s AND relationship_id < %(end)s"

STATEMENTS = [
    "LOCK TABLE sessions_app_session, relationships_relationship, matchpal_organization "
    "IN SHARE ROW EXCLUSIVE MODE",
    f"DELETE FROM sessions_app_shortsession WHERE {_RANGE}",
    f"DELETE FROM sessions_app_pairingactivity WHERE {_RANGE}",
    f"INSERT INTO sessions_app_pairingactivity ({ACTIVITY_COLUMNS}) "
    + ACTIVITY.format(and_where=_SESSIONS, r_where="WHERE r.id >= %(start)s AND r.id < %(end)s"),
    f"INSERT INTO sessions_app_shortsession ({SHORT_COLUMNS}) " + SHORT.format(and_where=_SESSIONS),
]


def fill(apps, schema_editor):
    connection = schema_editor.connection
    if connection.vendor != "postgresql":
        return  # the summaries are kept on PostgreSQL only (no triggers elsewhere)
    with connection.cursor() as cursor:
        cursor.execute("SELECT min(id), max(id) FROM relationships_relationship")
        low, high = cursor.fetchone()
    if low is None:
        return
    for start in range(low, high + 1, BATCH):
        with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
            for statement in STATEMENTS:
                cursor.execute(statement, {"start": start, "end": start + BATCH})


class Migration(migrations.Migration):

    atomic = False

    dependencies = [
        ('sessions_app', '0012_booking_provider_required'),
    ]

    operations = [
        migrations.RunPython(fill, migrations.RunPython.noop, elidable=False),
    ]
