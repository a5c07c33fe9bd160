"""The (provider, id) key a session's provider and relationship refer to together."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('relationships', '0007_proposed_respond_by_index'),
        ('students', '0003_student_org_created'),
    ]

    operations = [
        migrations.AddConstraint(
            model_name='relationship',
            constraint=models.UniqueConstraint(fields=('provider', 'id'), name='relationship_provider_id'),
        ),
    ]
