"""Providers' weekly availability and its exceptions (docs/scheduling.md)."""

import django.db.models.deletion
import uuid
from django.db import migrations, models

from matchpal.db import CompositeForeignKey


class Migration(migrations.Migration):

    dependencies = [
        ('matchpal', '0009_merge_membership_key_and_thresholds'),
        ('providers', '0002_tenant_composite_keys'),
    ]

    operations = [
        migrations.CreateModel(
            name='AvailabilityException',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('public_id', models.UUIDField(default=uuid.uuid4, editable=False, unique=True)),
                ('kind', models.CharField(choices=[('off', 'Time off'), ('extra', 'Extra hours')], max_length=5)),
                ('date', models.DateField()),
                ('start', models.TimeField(blank=True, null=True)),
                ('end', models.TimeField(blank=True, null=True)),
                ('mode', models.CharField(choices=[('in_person', 'In person'), ('online', 'Online')], default='in_person', max_length=10)),
                ('location', models.CharField(blank=True, max_length=300)),
                ('note', models.CharField(blank=True, max_length=200)),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('organization', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='matchpal.organization')),
                ('provider', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='availability_exceptions', to='providers.provider')),
            ],
            options={
                'ordering': ['date', 'start', 'id'],
                'indexes': [models.Index(fields=['organization', 'provider', 'date'], name='providers_a_organiz_9c109e_idx')],
                'constraints': [models.CheckConstraint(condition=models.Q(models.Q(('end__isnull', True), ('kind', 'off'), ('start__isnull', True)), models.Q(('end__gt', models.F('start')), ('start__isnull', False)), _connector='OR'), name='availability_exception_times'), models.CheckConstraint(condition=models.Q(('kind__in', ['off', 'extra'])), name='availability_exception_kind'), models.CheckConstraint(condition=models.Q(('mode__in', ['in_person', 'online'])), name='availability_exception_mode')],
            },
        ),
        migrations.CreateModel(
            name='AvailabilityWindow',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('public_id', models.UUIDField(default=uuid.uuid4, editable=False, unique=True)),
                ('weekday', models.PositiveSmallIntegerField(choices=[(0, 'Monday'), (1, 'Tuesday'), (2, 'Wednesday'), (3, 'Thursday'), (4, 'Friday'), (5, 'Saturday'), (6, 'Sunday')])),
                ('start', models.TimeField()),
                ('end', models.TimeField()),
                ('mode', models.CharField(choices=[('in_person', 'In person'), ('online', 'Online')], default='in_person', max_length=10)),
                ('location', models.CharField(blank=True, help_text='The room or address, or the meeting link.', max_length=300)),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('organization', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='matchpal.organization')),
                ('provider', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='availability_windows', to='providers.provider')),
            ],
            options={
                'ordering': ['weekday', 'start', 'id'],
                'indexes': [models.Index(fields=['organization', 'provider', 'weekday'], name='providers_a_organiz_a4afed_idx')],
                'constraints': [models.CheckConstraint(condition=models.Q(('end__gt', models.F('start'))), name='availability_window_ordered'), models.CheckConstraint(condition=models.Q(('weekday__gte', 0), ('weekday__lte', 6)), name='availability_weekday_valid'), models.CheckConstraint(condition=models.Q(('mode__in', ['in_person', 'online'])), name='availability_window_mode_valid')],
            },
        ),
        CompositeForeignKey(table="providers_availabilitywindow", column="provider_id",
                            ref_table="providers_provider", name="availability_window_provider_org"),
        CompositeForeignKey(table="providers_availabilityexception", column="provider_id",
                            ref_table="providers_provider",
                            name="availability_exception_provider_org"),
    ]
