"""Booking (docs/scheduling.md): a requested (pending) status, the session's provider (nullable
here), topic, place and series. The session's provider is filled in batches by
`0011_booking_provider_backfill` and made required, with its tenant keys and the exclusion
constraint that keeps one provider's live sessions apart, by `0012_booking_provider_required`,
so that no step holds the sessions table for longer than a moment on a large database
(docs/deploy.md, "Migrations while the old version serves"). Until then the column may be
empty; nothing reads it before 0012.

Sessions scheduled before this migration were booked without the rule and may overlap (a group
met together); they are kept as they are, `exclusive` false, outside the constraint."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


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
    ]
