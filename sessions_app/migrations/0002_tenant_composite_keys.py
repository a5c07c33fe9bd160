from django.db import migrations

from matchpal.db import CompositeForeignKey


class Migration(migrations.Migration):
    """A session's relationship belongs to the session's organization."""

    dependencies = [("sessions_app", "0001_initial")]

    operations = [
        CompositeForeignKey(table="sessions_app_session", column="relationship_id",
                            ref_table="relationships_relationship",
                            name="session_relationship_same_org"),
    ]
