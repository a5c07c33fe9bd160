"""The index of a provider's pairings by state with their organization, the provider home's
proposals and students (docs/indexes.md), built without blocking writes."""

from django.db import migrations, models

from matchpal.migration_operations import AddIndexWithoutBlocking


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("relationships", "0008_relationship_provider_key"),
    ]

    operations = [
        AddIndexWithoutBlocking(
            model_name="relationship",
            index=models.Index(
                fields=["organization", "provider", "status"],
                name="relationship_org_provider_st",
            ),
        ),
    ]
