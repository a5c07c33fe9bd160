import uuid

from django.db import migrations, models


def give_public_ids(apps, schema_editor):
    Notification = apps.get_model("matchpal", "Notification")
    for notice in Notification.objects.filter(public_id__isnull=True).only("pk").iterator():
        Notification.objects.filter(pk=notice.pk).update(public_id=uuid.uuid4())


class Migration(migrations.Migration):
    dependencies = [
        ("matchpal", "0009_merge_membership_key_and_thresholds"),
    ]

    operations = [
        migrations.AddField(
            model_name="notification",
            name="public_id",
            field=models.UUIDField(editable=False, null=True),
        ),
        migrations.RunPython(give_public_ids, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="notification",
            name="public_id",
            field=models.UUIDField(default=uuid.uuid4, editable=False, unique=True),
        ),
        migrations.AddField(
            model_name="notification",
            name="kind",
            field=models.CharField(blank=True, max_length=40),
        ),
        migrations.AlterModelOptions(name="notification", options={"ordering": ["-id"]}),
        migrations.RemoveIndex(
            model_name="notification",
            name="matchpal_no_organiz_734fc1_idx",
        ),
        migrations.AddIndex(
            model_name="notification",
            index=models.Index(
                fields=["organization", "user", "-id"], name="notification_inbox"
            ),
        ),
        migrations.AddIndex(
            model_name="notification",
            index=models.Index(
                condition=models.Q(("read_at__isnull", True)),
                fields=["organization", "user"],
                name="notification_unread",
            ),
        ),
        migrations.AddField(
            model_name="organization",
            name="session_reminder_hours",
            field=models.PositiveSmallIntegerField(
                default=24,
                help_text="Remind the student and the provider this many hours before a session "
                "(and again one hour before).",
            ),
        ),
        migrations.AddConstraint(
            model_name="organization",
            constraint=models.CheckConstraint(
                condition=models.Q(("session_reminder_hours__range", (2, 168))),
                name="org_session_reminder_hours_range",
            ),
        ),
    ]
