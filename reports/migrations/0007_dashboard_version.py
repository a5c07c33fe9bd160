"""The admin home's version per organization, kept by a deferred trigger on every table the page
reads (reports/dashboard_version.py). PostgreSQL only: SQLite has no triggers, and the admin
home is computed on every view there."""

from django.db import migrations

from reports import dashboard_version


class DashboardVersion(migrations.operations.base.Operation):
    reduces_to_sql = True
    reversible = True

    def state_forwards(self, app_label, state):
        pass

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor != "postgresql":
            return
        schema_editor.execute(dashboard_version.CREATE, None)
        schema_editor.execute(dashboard_version.FUNCTIONS, None)
        schema_editor.execute(dashboard_version.TRIGGERS, None)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor != "postgresql":
            return
        schema_editor.execute(dashboard_version.DROP, None)

    def describe(self):
        return "Keep a version of each organization's admin home by triggers"


class Migration(migrations.Migration):

    dependencies = [
        ('grants', '0014_center_balance_fill'),
        ('integrations', '0004_list_order_indexes'),
        ('matchpal', '0013_checkin_recap_suspension_settings'),
        ('providers', '0003_availability'),
        ('relationships', '0008_relationship_provider_key'),
        ('reports', '0006_fill_ledger_rollups'),
        ('sessions_app', '0015_session_org_provider_starts'),
        ('students', '0004_booking_suspension'),
    ]

    operations = [DashboardVersion()]
