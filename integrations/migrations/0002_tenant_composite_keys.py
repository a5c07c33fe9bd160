from django.db import migrations

from matchpal.db import CompositeForeignKey


def fk(table, column, ref_table, name):
    return CompositeForeignKey(table=table, column=column, ref_table=ref_table, name=name)


class Migration(migrations.Migration):
    """Deliveries, orders, line grants and errors never point at another tenant's rows."""

    dependencies = [("integrations", "0001_initial"), ("grants", "0004_database_guards")]

    operations = [
        fk("integrations_delivery", "store_id", "integrations_store", "woo_delivery_store_org"),
        fk("integrations_order", "store_id", "integrations_store", "woo_order_store_org"),
        fk("integrations_order", "student_id", "students_student", "woo_order_student_org"),
        fk("integrations_orderlinegrant", "order_id", "integrations_order", "woo_line_order_org"),
        fk("integrations_orderlinegrant", "grant_id", "grants_grant", "woo_line_grant_org"),
        fk("integrations_orderlinegrant", "package_id", "grants_package", "woo_line_package_org"),
        fk("integrations_orderlinegrant", "store_id", "integrations_store", "woo_line_store_org"),
        fk("integrations_ordererror", "store_id", "integrations_store", "woo_error_store_org"),
        fk("integrations_ordererror", "order_id", "integrations_order", "woo_error_order_org"),
    ]
