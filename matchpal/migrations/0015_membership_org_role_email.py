"""The members page's order as an index, organization first (docs/indexes.md): `(organization,
role, user_email, id)`, on the column matchpal 0014 filled. A center's memberships are a few
thousand rows: built in well under a second, so not concurrently."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("matchpal", "0014_membership_user_email"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="membership",
            index=models.Index(
                fields=["organization", "role", "user_email", "id"],
                name="membership_org_role_email",
            ),
        ),
    ]
