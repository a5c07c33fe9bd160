from django.db import migrations, models

from matchpal.db import CompositeForeignKey

ACTIVE, EXPIRED, REVOKED = "active", "expired", "revoked"


def backfill_usable_delta(apps, schema_editor):
    """Replay each grant's entries as the services wrote them (expire, extend and a refund in
    full change its status) and record what each did to the student's usable balance."""
    GrantEntry = apps.get_model("grants", "GrantEntry")
    postgres = schema_editor.connection.vendor == "postgresql"
    if postgres:
        # The one place an entry is ever updated: filling a new, derived column.
        schema_editor.execute(
            "ALTER TABLE grants_grantentry DISABLE TRIGGER grants_entry_append_only"
        )
    changed, grant_id = [], None
    rows = GrantEntry.objects.order_by("grant_id", "id").only(
        "id", "grant_id", "kind", "total_delta", "used_delta", "held_delta"
    )
    for entry in rows.iterator(chunk_size=5000):
        if entry.grant_id != grant_id:
            grant_id, status, total, used, held = entry.grant_id, ACTIVE, 0, 0, 0
        before = total - used - held if status == ACTIVE else 0
        total += entry.total_delta
        used += entry.used_delta
        held += entry.held_delta
        if entry.kind == "expire":
            status = EXPIRED
        elif entry.kind == "extend":
            status = ACTIVE
        elif entry.kind == "refund" and total == 0 and used == 0:
            status = REVOKED
        entry.usable_delta = (total - used - held if status == ACTIVE else 0) - before
        if entry.usable_delta:
            changed.append(entry)
    GrantEntry.objects.bulk_update(changed, ["usable_delta"], batch_size=1000)
    if postgres:
        schema_editor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        schema_editor.execute(
            "ALTER TABLE grants_grantentry ENABLE TRIGGER grants_entry_append_only"
        )


class AllocationSameStudent(migrations.operations.base.Operation):
    """An allocation's grant and relationship belong to the same student: checked when an
    allocation is written, and when a grant or a relationship with allocations changes student.
    (A composite key would need a unique (student, id) on relationships; a trigger keeps the
    rule inside the ledger's migrations.) Deferred to the commit like the tenant keys, whose
    triggers ("RI_…") fire first, so a row pointing into another organization is reported as
    that."""

    reduces_to_sql = True
    reversible = True

    def state_forwards(self, app_label, state):
        pass

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor != "postgresql":
            return
        schema_editor.execute("""
            CREATE FUNCTION grants_allocation_same_student() RETURNS trigger AS $$
            DECLARE
                mismatch record;
            BEGIN
                SELECT a.id, a.grant_id, g.student_id AS grant_student,
                       a.relationship_id, r.student_id AS relationship_student
                  INTO mismatch
                  FROM grants_allocation a
                  JOIN grants_grant g ON g.id = a.grant_id
                  JOIN relationships_relationship r ON r.id = a.relationship_id
                 WHERE g.student_id <> r.student_id
                   AND CASE TG_TABLE_NAME
                           WHEN 'grants_allocation' THEN a.id = NEW.id
                           WHEN 'grants_grant' THEN a.grant_id = NEW.id
                           ELSE a.relationship_id = NEW.id
                       END
                 LIMIT 1;
                IF FOUND THEN
                    RAISE EXCEPTION 'allocation_same_student: allocation %% holds grant %% of '
                                    'student %% for relationship %% of student %%',
                        mismatch.id, mismatch.grant_id, mismatch.grant_student,
                        mismatch.relationship_id, mismatch.relationship_student
                        USING ERRCODE = 'check_violation',
                              CONSTRAINT = 'allocation_same_student';
                END IF;
                RETURN NULL;
            END
            $$ LANGUAGE plpgsql;
            CREATE CONSTRAINT TRIGGER allocation_same_student
                AFTER INSERT OR UPDATE OF grant_id, relationship_id ON grants_allocation
                DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION grants_allocation_same_student();
            CREATE CONSTRAINT TRIGGER allocation_same_student
                AFTER UPDATE OF student_id ON grants_grant
                DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (OLD.student_id IS DISTINCT FROM NEW.student_id)
                EXECUTE FUNCTION grants_allocation_same_student();
            CREATE CONSTRAINT TRIGGER allocation_same_student
                AFTER UPDATE OF student_id ON relationships_relationship
                DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (OLD.student_id IS DISTINCT FROM NEW.student_id)
                EXECUTE FUNCTION grants_allocation_same_student();
        """)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor != "postgresql":
            return
        schema_editor.execute("""
            DROP TRIGGER allocation_same_student ON relationships_relationship;
            DROP TRIGGER allocation_same_student ON grants_grant;
            DROP TRIGGER allocation_same_student ON grants_allocation;
            DROP FUNCTION grants_allocation_same_student();
        """)

    def describe(self):
        return "An allocation's grant and relationship belong to the same student"


class Migration(migrations.Migration):
    """Entries record their effect on the usable balance (the history's running balance), an
    entry's allocation is one of its own grant's, and an allocation's grant and relationship
    belong to one student."""

    dependencies = [
        ("grants", "0004_database_guards"),
        ("relationships", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="grantentry",
            name="usable_delta",
            field=models.IntegerField(default=0),
        ),
        migrations.RunPython(backfill_usable_delta, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="allocation",
            constraint=models.UniqueConstraint(fields=("grant", "id"), name="allocation_grant_id"),
        ),
        CompositeForeignKey(
            table="grants_grantentry",
            column="allocation_id",
            ref_table="grants_allocation",
            name="entry_allocation_same_grant",
            org_column="grant_id",
            ref_org_column="grant_id",
        ),
        AllocationSameStudent(),
    ]
