"""Booking (docs/scheduling.md): a requested (pending) status, the session's provider, topic,
place and series, and the exclusion constraint that keeps one provider's live sessions apart.

Sessions scheduled before this migration were booked without the rule and may overlap (a group
met together); they are kept as they are, `exclusive` false, outside the constraint."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

from matchpal.db import CompositeForeignKey


def _backfill_provider(apps, schema_editor):
    # One statement; on PostgreSQL a join (a million sessions in a minute or so), elsewhere
    # the standard correlated form.
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            "UPDATE sessions_app_session s SET provider_id = r.provider_id "
            "FROM relationships_relationship r WHERE r.id = s.relationship_id"
        )
    else:
        schema_editor.execute(
            "UPDATE sessions_app_session SET provider_id = (SELECT provider_id FROM "
            "relationships_relationship r WHERE r.id = sessions_app_session.relationship_id)"
        )


# The end of a session, `starts_at` + `duration_minutes`: adding minutes to a timestamptz does
# not depend on the time zone, but PostgreSQL marks `timestamptz + interval` only STABLE (a day
# or a month would), so an index expression needs it declared IMMUTABLE.
END_FUNCTION = (
    "CREATE FUNCTION session_ends_at(timestamptz, integer) RETURNS timestamptz "
    "LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT $1 + make_interval(mins => $2) $$"
)
NO_OVERLAP = (
    "ALTER TABLE sessions_app_session ADD CONSTRAINT session_provider_no_overlap "
    "EXCLUDE USING gist (provider_id WITH =, "
    "tstzrange(starts_at, session_ends_at(starts_at, duration_minutes)) WITH &&) "
    "WHERE (exclusive AND status IN ('pending', 'scheduled'))"
)


def _no_overlap(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return  # SQLite (make run): the booking service's own check under the provider's lock
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
    schema_editor.execute(END_FUNCTION)
    schema_editor.execute(NO_OVERLAP)


def _drop_no_overlap(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        "ALTER TABLE sessions_app_session DROP CONSTRAINT session_provider_no_overlap"
    )
    schema_editor.execute("DROP FUNCTION session_ends_at(timestamptz, integer)")


class Migration(migrations.Migration):

    dependencies = [
        ('matchpal', '0010_booking_settings'),
        ('providers', '0003_availability'),
        ('relationships', '0008_relationship_provider_key'),
        ('sessions_app', '0007_list_order_and_open_dispute_indexes'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name='session',
            name='session_status_valid',
        ),
        # Existing rows: false (kept outside the rule); new ones: true.
        migrations.AddField(
            model_name='session',
            name='exclusive',
            field=models.BooleanField(default=False),
        ),
        migrations.AlterField(
            model_name='session',
            name='exclusive',
            field=models.BooleanField(default=True),
        ),
        migrations.AddField(
            model_name='session',
            name='location',
            field=models.CharField(blank=True, help_text='A room, or the meeting link.', max_length=300),
        ),
        migrations.AddField(
            model_name='session',
            name='calendar_provider',
            field=models.ForeignKey(db_column='provider_id', null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='providers.provider'),
        ),
        migrations.RunPython(_backfill_provider, migrations.RunPython.noop, elidable=False),
        migrations.AlterField(
            model_name='session',
            name='calendar_provider',
            field=models.ForeignKey(db_column='provider_id', on_delete=django.db.models.deletion.PROTECT, related_name='+', to='providers.provider'),
        ),
        CompositeForeignKey(table="sessions_app_session", column="provider_id",
                            ref_table="providers_provider", name="session_provider_org"),
        # The session's provider is its relationship's: (provider, relationship) refers to the
        # relationship's (provider, id).
        CompositeForeignKey(table="sessions_app_session", column="relationship_id",
                            ref_table="relationships_relationship",
                            name="session_relationship_provider",
                            org_column="provider_id", ref_org_column="provider_id"),
        migrations.AddField(
            model_name='session',
            name='requested_by',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL),
        ),
        migrations.AddField(
            model_name='session',
            name='series',
            field=models.UUIDField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='session',
            name='topic',
            field=models.CharField(blank=True, max_length=200),
        ),
        migrations.AlterField(
            model_name='session',
            name='status',
            field=models.CharField(choices=[('pending', 'Requested'), ('scheduled', 'Scheduled'), ('completed', 'Completed'), ('cancelled', 'Cancelled'), ('no_show', 'No-show')], default='completed', max_length=10),
        ),
        migrations.AddIndex(
            model_name='session',
            index=models.Index(condition=models.Q(('status__in', ('pending', 'scheduled'))), fields=['calendar_provider', 'starts_at'], name='session_provider_live'),
        ),
        migrations.AddIndex(
            model_name='session',
            index=models.Index(condition=models.Q(('series__isnull', False)), fields=['series', 'starts_at'], name='session_series'),
        ),
        migrations.AddConstraint(
            model_name='session',
            constraint=models.CheckConstraint(condition=models.Q(('status__in', ['pending', 'scheduled', 'completed', 'cancelled', 'no_show'])), name='session_status_valid'),
        ),
        migrations.AlterField(
            model_name='sessionchange',
            name='kind',
            field=models.CharField(choices=[('edited', 'Edited'), ('completed', 'Logged'), ('rescheduled', 'Rescheduled'), ('cancelled', 'Cancelled'), ('no_show', 'Marked a no-show'), ('dispute_resolved', 'Dispute resolved'), ('accepted', 'Request accepted'), ('declined', 'Request declined')], max_length=20),
        ),
        migrations.RunPython(_no_overlap, _drop_no_overlap, elidable=False),
    ]
