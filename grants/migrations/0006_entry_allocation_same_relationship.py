from django.db import migrations, models

from matchpal.db import CompositeForeignKey


class Migration(migrations.Migration):
    """An entry that names an allocation and a relationship names the allocation's own
    relationship (entries drawn from the available balance name a relationship and no
    allocation: MATCH SIMPLE leaves those alone)."""

    dependencies = [
        ("grants", "0005_usable_delta_and_student_guards"),
    ]

    operations = [
        migrations.AddConstraint(
            model_name="allocation",
            constraint=models.UniqueConstraint(
                fields=("relationship", "id"), name="allocation_relationship_id"
            ),
        ),
        CompositeForeignKey(
            table="grants_grantentry",
            column="allocation_id",
            ref_table="grants_allocation",
            name="entry_allocation_same_relationship",
            org_column="relationship_id",
            ref_org_column="relationship_id",
        ),
    ]
