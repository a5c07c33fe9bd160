"""What each student's sessions have been charged, per unit (`students.ChargedTotal`), kept by
PostgreSQL: triggers on the sessions and on the relationships add each change in the
transaction that writes it, and the rows are then filled from the sessions already there,
`BATCH` students per transaction (the migration is not atomic, so the sessions are never held
for the whole fill).

Each batch holds off writers of sessions and relationships (`SHARE ROW EXCLUSIVE`: readers go
on) only while it recomputes its students from scratch: it deletes their rows and inserts them
again. A write between batches is added by its trigger to a student already filled (right) or
not filled yet (recomputed when its batch comes), so the rows end exact. Safe to run again.
The same computation is `sessions_app.rollups.CHARGED` (written out here: a migration does not
import the app's code)."""

from django.db import migrations, models, transaction
import django.db.models.deletion

BATCH = 500  # students (about 15,000 sessions on the large generated center)

# One static statement per branch: PL/pgSQL keeps a plan per statement, and a statement that
# chose its row by TG_OP or the table's name scanned every row under the generic plan (issue 11,
# the allocation trigger).
TRIGGERS = r"""
CREATE FUNCTION students_charged_total_session() RETURNS trigger AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        IF OLD.charged_minutes <> 0 THEN
            INSERT INTO students_chargedtotal AS t (organization_id, student_id, unit, charged)
            SELECT r.organization_id, r.student_id, r.unit, -OLD.charged_minutes
              FROM relationships_relationship r WHERE r.id = OLD.relationship_id
            ON CONFLICT (student_id, unit) DO UPDATE SET charged = t.charged + EXCLUDED.charged;
        END IF;
    END IF;
    IF TG_OP <> 'DELETE' THEN
        IF NEW.charged_minutes <> 0 THEN
            INSERT INTO students_chargedtotal AS t (organization_id, student_id, unit, charged)
            SELECT r.organization_id, r.student_id, r.unit, NEW.charged_minutes
              FROM relationships_relationship r WHERE r.id = NEW.relationship_id
            ON CONFLICT (student_id, unit) DO UPDATE SET charged = t.charged + EXCLUDED.charged;
        END IF;
    END IF;
    RETURN NULL;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER students_charged_total_write
    AFTER INSERT OR DELETE ON sessions_app_session
    FOR EACH ROW EXECUTE FUNCTION students_charged_total_session();
CREATE TRIGGER students_charged_total_update
    AFTER UPDATE OF charged_minutes, relationship_id ON sessions_app_session
    FOR EACH ROW
    WHEN (OLD.charged_minutes <> NEW.charged_minutes OR OLD.relationship_id <> NEW.relationship_id)
    EXECUTE FUNCTION students_charged_total_session();

-- A relationship whose unit or student changes takes what its sessions were charged along.
CREATE FUNCTION students_charged_total_relationship() RETURNS trigger AS $$
DECLARE
    moved bigint;
BEGIN
    SELECT COALESCE(SUM(charged_minutes), 0) INTO moved
      FROM sessions_app_session WHERE relationship_id = NEW.id;
    IF moved <> 0 THEN
        INSERT INTO students_chargedtotal AS t (organization_id, student_id, unit, charged)
        VALUES (OLD.organization_id, OLD.student_id, OLD.unit, -moved)
        ON CONFLICT (student_id, unit) DO UPDATE SET charged = t.charged + EXCLUDED.charged;
        INSERT INTO students_chargedtotal AS t (organization_id, student_id, unit, charged)
        VALUES (NEW.organization_id, NEW.student_id, NEW.unit, moved)
        ON CONFLICT (student_id, unit) DO UPDATE SET charged = t.charged + EXCLUDED.charged;
    END IF;
    RETURN NULL;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER students_charged_total_relationship
    AFTER UPDATE OF unit, student_id ON relationships_relationship
    FOR EACH ROW WHEN (OLD.unit <> NEW.unit OR OLD.student_id <> NEW.student_id)
    EXECUTE FUNCTION students_charged_total_relationship();
"""

DROP_TRIGGERS = """
DROP TRIGGER students_charged_total_relationship ON relationships_relationship;
DROP FUNCTION students_charged_total_relationship();
DROP TRIGGER students_charged_total_update ON sessions_app_session;
DROP TRIGGER students_charged_total_write ON sessions_app_session;
DROP FUNCTION students_charged_total_session();
"""

_RANGE = "student_id >= %(start)s AND student_id < %(end)s"
STATEMENTS = [
    "LOCK TABLE sessions_app_session, relationships_relationship IN SHARE ROW EXCLUSIVE MODE",
    f"DELETE FROM students_chargedtotal WHERE {_RANGE}",
    "INSERT INTO students_chargedtotal (organization_id, student_id, unit, charged)"
    " SELECT r.organization_id, r.student_id, r.unit, SUM(s.charged_minutes)"
    " FROM relationships_relationship r"
    " JOIN sessions_app_session s ON s.relationship_id = r.id"
    " WHERE r.student_id >= %(start)s AND r.student_id < %(end)s"
    " GROUP BY r.organization_id, r.student_id, r.unit"
    " HAVING SUM(s.charged_minutes) <> 0",
]


def triggers(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        with transaction.atomic(using=schema_editor.connection.alias):
            schema_editor.execute(TRIGGERS)


def drop_triggers(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP_TRIGGERS)


def fill(apps, schema_editor):
    connection = schema_editor.connection
    if connection.vendor != "postgresql":
        return  # kept on PostgreSQL only (no triggers elsewhere)
    with connection.cursor() as cursor:
        cursor.execute("SELECT min(id), max(id) FROM students_student")
        low, high = cursor.fetchone()
    if low is None:
        return
    for start in range(low, high + 1, BATCH):
        with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
            for statement in STATEMENTS:
                cursor.execute(statement, {"start": start, "end": start + BATCH})


class Migration(migrations.Migration):

    atomic = False

    dependencies = [
        ('matchpal', '0016_user_session_generation'),
        ('students', '0004_booking_suspension'),
        ('relationships', '0010_relationship_paired_id'),
        ('sessions_app', '0018_covering_list_indexes'),
    ]

    operations = [
        migrations.CreateModel(
            name='ChargedTotal',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('unit', models.CharField(max_length=10)),
                ('charged', models.BigIntegerField(default=0)),
                ('organization', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='matchpal.organization')),
                ('student', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='students.student')),
            ],
            options={
                'constraints': [models.UniqueConstraint(fields=('student', 'unit'), name='charged_total_unique')],
            },
        ),
        migrations.RunPython(triggers, drop_triggers, elidable=False),
        migrations.RunPython(fill, migrations.RunPython.noop, elidable=False),
    ]
