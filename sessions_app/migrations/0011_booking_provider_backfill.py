"""Each session's provider, copied from its relationship in batches of `BATCH` ids, each batch
its own short transaction (the migration is not atomic): a large sessions table is never held
for the whole copy, and the version still serving keeps writing meanwhile. Safe to run again:
only the rows still empty are written. What the old version inserts after its batch passed is
filled by `0012_booking_provider_required`, just before the column becomes required."""

from django.db import migrations, transaction

BATCH = 20_000

COPY = {
    # On PostgreSQL a join; elsewhere the standard correlated form.
    "postgresql": (
        "UPDATE sessions_app_session s SET provider_id = r.provider_id "
        "FROM relationships_relationship r "
        "WHERE r.id = s.relationship_id AND s.provider_id IS NULL AND s.id >= %s AND s.id < %s"
    ),
    "default": (
        "UPDATE sessions_app_session SET provider_id = (SELECT provider_id FROM "
        "relationships_relationship r WHERE r.id = sessions_app_session.relationship_id) "
        "WHERE provider_id IS NULL AND id >= %s AND id < %s"
    ),
}


def copy_providers(apps, schema_editor):
    connection = schema_editor.connection
    sql = COPY.get(connection.vendor, COPY["default"])
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT min(id), max(id) FROM sessions_app_session WHERE provider_id IS NULL"
        )
        low, high = cursor.fetchone()
    if low is None:
        return
    for start in range(low, high + 1, BATCH):
        with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
            cursor.execute(sql, [start, start + BATCH])


class Migration(migrations.Migration):

    atomic = False

    dependencies = [
        ('sessions_app', '0010_messages_checkin_calendar_missed'),
    ]

    operations = [
        migrations.RunPython(copy_providers, migrations.RunPython.noop, elidable=False),
    ]
