from django.db import migrations

from matchpal.db import CompositeForeignKey


class AppendOnlyLedger(migrations.operations.base.Operation):
    """PostgreSQL refuses UPDATE and DELETE on ledger entries: mistakes get a new entry."""

    reduces_to_sql = True
    reversible = True

    def state_forwards(self, app_label, state):
        pass

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor != "postgresql":
            return
        schema_editor.execute("""
            CREATE FUNCTION grants_entry_append_only() RETURNS trigger AS $$
            BEGIN
                RAISE EXCEPTION 'grant entries are append-only: %% refused', TG_OP
                    USING ERRCODE = 'restrict_violation';
            END
            $$ LANGUAGE plpgsql;
            CREATE TRIGGER grants_entry_append_only
                BEFORE UPDATE OR DELETE ON grants_grantentry
                FOR EACH ROW EXECUTE FUNCTION grants_entry_append_only();
        """)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor != "postgresql":
            return
        schema_editor.execute("""
            DROP TRIGGER grants_entry_append_only ON grants_grantentry;
            DROP FUNCTION grants_entry_append_only();
        """)

    def describe(self):
        return "Make grant entries append-only"


def fk(table, column, ref_table, name):
    return CompositeForeignKey(table=table, column=column, ref_table=ref_table, name=name)


class Migration(migrations.Migration):
    """Rows of the ledger never point at another organization's rows, and entries never change."""

    dependencies = [
        ("grants", "0003_initial"),
        ("relationships", "0001_initial"),
        ("sessions_app", "0001_initial"),
    ]

    operations = [
        fk("grants_grant", "student_id", "students_student", "grant_student_same_org"),
        fk("grants_grant", "package_id", "grants_package", "grant_package_same_org"),
        fk("grants_grantservicetype", "grant_id", "grants_grant", "grant_st_grant_same_org"),
        fk("grants_grantservicetype", "service_type_id", "matchpal_servicetype",
           "grant_st_type_same_org"),
        fk("grants_packageservicetype", "package_id", "grants_package", "package_st_package_same_org"),
        fk("grants_packageservicetype", "service_type_id", "matchpal_servicetype",
           "package_st_type_same_org"),
        fk("grants_packageshopmapping", "package_id", "grants_package", "package_shop_same_org"),
        fk("grants_allocation", "grant_id", "grants_grant", "allocation_grant_same_org"),
        fk("grants_allocation", "relationship_id", "relationships_relationship",
           "allocation_relationship_same_org"),
        fk("grants_grantentry", "grant_id", "grants_grant", "entry_grant_same_org"),
        fk("grants_grantentry", "allocation_id", "grants_allocation", "entry_allocation_same_org"),
        fk("grants_grantentry", "relationship_id", "relationships_relationship",
           "entry_relationship_same_org"),
        fk("grants_grantentry", "session_id", "sessions_app_session", "entry_session_same_org"),
        AppendOnlyLedger(),
    ]
