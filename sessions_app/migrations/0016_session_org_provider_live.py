"""The index of a provider's live sessions with their organization, the provider home's three
session lists' (docs/indexes.md), built without blocking writes to the sessions."""

from django.db import migrations, models

from matchpal.migration_operations import AddIndexWithoutBlocking


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("sessions_app", "0015_session_org_provider_starts"),
    ]

    operations = [
        AddIndexWithoutBlocking(
            model_name="session",
            index=models.Index(
                condition=models.Q(("status__in", ("pending", "scheduled"))),
                fields=["organization", "calendar_provider", "starts_at"],
                name="session_org_provider_live",
            ),
        ),
    ]
