"""The pairings' signs' counts through their own ranges (docs/indexes.md, "The pairings' signs
counted"):

- the activity rows lose the index of their organization alone: the signs' prepared counts took
  it under their generic plan, which cannot tell the large center from the small ones, and
  walked every pairing of the large center (29,412 entries, 3–6 ms a count) instead of the range
  of the sign's partial index. Nothing reads these rows by organization alone but the
  summaries' rebuild;
- the irregular pairings' count reads the pairings over the center's variation
  (`pairing_paired_irregular`, their last session in the entries) instead of every pairing met
  since the gap's edge (10,103 entries for 642 at the large center); it replaces
  `pairing_paired_gap_variation`, which lacked the last session. Built without blocking
  writes, so the migration is not atomic."""

import django.db.models.deletion
from django.db import migrations, models

from matchpal.migration_operations import AddIndexWithoutBlocking


INDEX = "sessions_app_pairingactivity_organization_id_87b27204"


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("matchpal", "0016_user_session_generation"),
        ("sessions_app", "0020_session_check_in_open"),
    ]

    # Only the index goes: Django's own AlterField would also drop the foreign key and add it
    # again, checking every row.
    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="pairingactivity",
                    name="organization",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="matchpal.organization",
                    ),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    f"DROP INDEX IF EXISTS {INDEX}",
                    f"CREATE INDEX IF NOT EXISTS {INDEX} ON sessions_app_pairingactivity"
                    " (organization_id)",
                ),
            ],
        ),
        AddIndexWithoutBlocking(
            model_name="pairingactivity",
            index=models.Index(
                condition=models.Q(
                    ("completed__gt", 0), ("gap_variation__isnull", False), ("status", "paired")
                ),
                fields=["organization", "gap_variation"],
                include=["last_session_at"],
                name="pairing_paired_irregular",
            ),
        ),
        migrations.RemoveIndex(
            model_name="pairingactivity",
            name="pairing_paired_gap_variation",
        ),
]
