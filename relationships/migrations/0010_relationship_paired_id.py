"""The paired relationships' keys (docs/indexes.md: the check-in list), built without
blocking writes to the relationships."""

from django.db import migrations, models

from matchpal.migration_operations import AddIndexWithoutBlocking


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("relationships", "0009_relationship_org_provider_st"),
    ]

    operations = [
        AddIndexWithoutBlocking(
            model_name="relationship",
            index=models.Index(
                condition=models.Q(("status", "paired")),
                fields=["id"],
                name="relationship_paired_id",
            ),
        ),
    ]
