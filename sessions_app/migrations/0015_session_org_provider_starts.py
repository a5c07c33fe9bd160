"""The index of a provider's own sessions list, in the list's order (docs/indexes.md), built
without blocking writes to the sessions: `CREATE INDEX CONCURRENTLY` on PostgreSQL, so the
migration is not atomic. A build that failed half way leaves an invalid index of that name:
it is dropped (concurrently too) and built again. Elsewhere (SQLite, `make run`) a plain
`CREATE INDEX`."""

from django.db import migrations, models

from matchpal.migration_operations import AddIndexWithoutBlocking

NAME = "session_org_provider_starts"


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("sessions_app", "0014_pairing_activity_in_place"),
    ]

    operations = [
        AddIndexWithoutBlocking(
            model_name="session",
            index=models.Index(
                fields=["organization", "calendar_provider", "-starts_at", "-id"], name=NAME
            ),
        ),
    ]
