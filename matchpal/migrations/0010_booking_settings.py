"""Booking settings: notice, horizon, a booked session's length and its start step."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('matchpal', '0009_merge_membership_key_and_thresholds'),
    ]

    operations = [
        migrations.AddField(
            model_name='organization',
            name='booking_horizon_days',
            field=models.PositiveSmallIntegerField(default=60, help_text='Students book at most this many days ahead.'),
        ),
        migrations.AddField(
            model_name='organization',
            name='booking_notice_hours',
            field=models.PositiveSmallIntegerField(default=12, help_text='Students book at least this many hours ahead.'),
        ),
        migrations.AddField(
            model_name='organization',
            name='booking_slot_minutes',
            field=models.PositiveSmallIntegerField(default=60, help_text='The length of a booked session, in minutes.'),
        ),
        migrations.AddField(
            model_name='organization',
            name='booking_slot_step_minutes',
            field=models.PositiveSmallIntegerField(default=30, help_text='Booked sessions start on this step: every 30 minutes, …'),
        ),
        migrations.AddConstraint(
            model_name='organization',
            constraint=models.CheckConstraint(condition=models.Q(('booking_slot_minutes__gte', 5), ('booking_slot_step_minutes__gte', 5)), name='org_booking_slots_positive'),
        ),
        migrations.AddConstraint(
            model_name='organization',
            constraint=models.CheckConstraint(condition=models.Q(('booking_horizon_days__gte', 1)), name='org_booking_horizon_positive'),
        ),
    ]
