"""The version of each organization's data (reports/dashboard_version.py) now also keeps the
report pages in the cache (reports/report_cache.py): the packages, whose names and quantities
the Financial report shows, add to it too. PostgreSQL only, as 0007."""

from django.db import migrations

from reports import dashboard_version

TABLE = "grants_package"


class PackageVersionTrigger(migrations.operations.base.Operation):
    reduces_to_sql = True
    reversible = True

    def state_forwards(self, app_label, state):
        pass

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor != "postgresql":
            return
        column = dashboard_version.TABLES[TABLE]
        # The function of that column exists since 0007 (`organization_id`); created again in
        # case, it is the same.
        schema_editor.execute(
            dashboard_version._FUNCTION.format(
                column=column, table=dashboard_version.TABLE, shards=dashboard_version.SHARDS
            ),
            None,
        )
        schema_editor.execute(
            f"""
            DROP TRIGGER IF EXISTS {dashboard_version.TRIGGER} ON {TABLE};
            CREATE CONSTRAINT TRIGGER {dashboard_version.TRIGGER}
                AFTER INSERT OR UPDATE OR DELETE ON {TABLE}
                DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
                EXECUTE FUNCTION reports_dashboard_touch_{column}();
            """,
            None,
        )

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor != "postgresql":
            return
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {dashboard_version.TRIGGER} ON {TABLE};", None)

    def describe(self):
        return "Count the packages' writes in each organization's version"


class Migration(migrations.Migration):

    dependencies = [
        ('grants', '0015_grant_matches_ledger_once'),
        ('reports', '0007_dashboard_version'),
    ]

    operations = [PackageVersionTrigger()]
