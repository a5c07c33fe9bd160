"""The user's session generation (matchpal/sessions.py): raised to end every session of a person
when a sign-out cannot reach the cache. A constant database default, so the running release's
inserts, which do not name it, still work (docs/deploy.md, "Migrations while the old version
serves").

SQLite (`make run`) rebuilds the user's table to add a NOT NULL column, which the triggers of
0014 (the membership's copy of the email, reading this table) do not survive: they are dropped
before and created again after, there only. PostgreSQL adds the column in place.
"""

import importlib

from django.db import migrations, models

email_copy = importlib.import_module("matchpal.migrations.0014_membership_user_email")


def drop_triggers_on_sqlite(apps: object, schema_editor: object) -> None:
    if schema_editor.connection.vendor == "sqlite":  # type: ignore[attr-defined]
        email_copy.drop_triggers(apps, schema_editor)


def create_triggers_on_sqlite(apps: object, schema_editor: object) -> None:
    if schema_editor.connection.vendor == "sqlite":  # type: ignore[attr-defined]
        email_copy.create_triggers(apps, schema_editor)


class Migration(migrations.Migration):
    dependencies = [
        ("matchpal", "0015_membership_org_role_email"),
    ]

    operations = [
        migrations.RunPython(drop_triggers_on_sqlite, create_triggers_on_sqlite),
        migrations.AddField(
            model_name="user",
            name="session_generation",
            field=models.PositiveIntegerField(db_default=0, default=0, editable=False),
        ),
        migrations.RunPython(create_triggers_on_sqlite, drop_triggers_on_sqlite),
    ]
