from django.db import migrations

from matchpal.db import CompositeForeignKey


class Migration(migrations.Migration):
    """An invitation's record belongs to the invitation's organization (PostgreSQL)."""

    dependencies = [("matchpal", "0002_initial")]

    operations = [
        CompositeForeignKey(table="matchpal_invitation", column="student_id",
                            ref_table="students_student", name="invitation_student_same_org"),
        CompositeForeignKey(table="matchpal_invitation", column="provider_id",
                            ref_table="providers_provider", name="invitation_provider_same_org"),
    ]
