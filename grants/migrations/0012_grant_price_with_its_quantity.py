from django.db import migrations, models

# Apart from 0011: its backfill's UPDATEs leave deferred trigger events on the grants, and
# PostgreSQL refuses to ALTER a table with pending events in the same transaction.


class Migration(migrations.Migration):
    dependencies = [
        ("grants", "0011_price_at_sale"),
    ]

    operations = [
        migrations.AddConstraint(
            model_name='grant',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('price__isnull', True), ('sold_quantity__isnull', True)), models.Q(('price__gte', 0), ('sold_quantity__gte', 1)), _connector='OR'), name='grant_price_with_its_quantity'),
        ),
    ]
