"""The warning lists' and the check-in list's indexes (docs/indexes.md): each list's keys in
its order, read from the index's entries alone. Three replace an index they extend; all are
built, then the old ones dropped, without blocking writes to their tables."""

from django.db import migrations, models

from matchpal.migration_operations import AddIndexWithoutBlocking, RemoveIndexWithoutBlocking


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("sessions_app", "0017_session_org_check_in"),
    ]

    operations = [
        AddIndexWithoutBlocking(
            model_name="session",
            index=models.Index(
                condition=models.Q(("status__in", ("scheduled", "missed"))),
                fields=["organization", "starts_at", "id"],
                include=["relationship"],
                name="session_org_check_in_rel",
            ),
        ),
        AddIndexWithoutBlocking(
            model_name="session",
            index=models.Index(
                condition=models.Q(("status", "cancelled")),
                fields=["organization", "starts_at"],
                include=["relationship"],
                name="session_org_cancelled",
            ),
        ),
        AddIndexWithoutBlocking(
            model_name="pairingactivity",
            index=models.Index(
                condition=models.Q(("completed__gt", 0), ("status", "paired")),
                fields=["organization", "last_session_at", "paired_at", "relationship"],
                include=["gap_variation"],
                name="pairing_paired_last_order",
            ),
        ),
        AddIndexWithoutBlocking(
            model_name="shortsession",
            index=models.Index(
                fields=["organization", "starts_at", "session"], name="short_session_starts_id"
            ),
        ),
        RemoveIndexWithoutBlocking(model_name="session", name="session_org_check_in"),
        RemoveIndexWithoutBlocking(
            model_name="pairingactivity", name="pairing_paired_last_session"
        ),
        RemoveIndexWithoutBlocking(model_name="shortsession", name="short_session_starts"),
    ]
