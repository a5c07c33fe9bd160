"""The index of the check-in list, scheduled and missed sessions in start order
(docs/indexes.md), built without blocking writes to the sessions."""

from django.db import migrations, models

from matchpal.migration_operations import AddIndexWithoutBlocking


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("sessions_app", "0016_session_org_provider_live"),
    ]

    operations = [
        AddIndexWithoutBlocking(
            model_name="session",
            index=models.Index(
                condition=models.Q(("status__in", ("scheduled", "missed"))),
                fields=["organization", "starts_at", "id"],
                name="session_org_check_in",
            ),
        ),
    ]
