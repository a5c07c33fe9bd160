from django.db import migrations

from matchpal.db import CompositeForeignKey


class Migration(migrations.Migration):
    """A relationship's student, provider and service type belong to its organization."""

    dependencies = [("relationships", "0001_initial")]

    operations = [
        CompositeForeignKey(table="relationships_relationship", column="student_id",
                            ref_table="students_student", name="relationship_student_same_org"),
        CompositeForeignKey(table="relationships_relationship", column="provider_id",
                            ref_table="providers_provider", name="relationship_provider_same_org"),
        CompositeForeignKey(table="relationships_relationship", column="service_type_id",
                            ref_table="matchpal_servicetype", name="relationship_type_same_org"),
    ]
