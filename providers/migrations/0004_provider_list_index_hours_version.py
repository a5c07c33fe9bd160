"""Two things for the admin pages of a large center (docs/performance.md, "The providers list and
the center's week at a large center"):

- the index of the providers list, in the list's order (organization, name, id), so its count
  and its page's ids are read from the index alone; built without blocking writes to the
  providers (`CREATE INDEX CONCURRENTLY` on PostgreSQL, so the migration is not atomic; a build
  that failed half way leaves an invalid index, dropped and built again; elsewhere a plain
  `CREATE INDEX`);
- the version of each organization's hours (`AvailabilityVersion`), kept by the database: a
  deferred constraint trigger on the weekly hours and the dated exceptions adds one to the
  organization's row at the commit of every transaction that wrote one of them (once per
  transaction and organization: a transaction-local setting remembers it), whatever wrote it.
  PostgreSQL only (SQLite does not cache the center's week)."""

from django.db import migrations, models

from matchpal.migration_operations import AddIndexWithoutBlocking

TABLES = ("providers_availabilitywindow", "providers_availabilityexception")
TRIGGER = "providers_hours_version"

FUNCTION = """
CREATE OR REPLACE FUNCTION providers_hours_touch() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    org bigint;
    flag text;
BEGIN
    IF TG_OP = 'DELETE' THEN org := OLD.organization_id; ELSE org := NEW.organization_id; END IF;
    flag := 'matchpal.hours_' || org;
    IF current_setting(flag, true) = '1' THEN
        RETURN NULL;
    END IF;
    PERFORM set_config(flag, '1', true);
    -- At the commit of a transaction that deleted the organization too (its hours with it),
    -- there is nothing left to count for.
    INSERT INTO providers_availabilityversion AS v (organization_id, n)
    SELECT org, 1 WHERE EXISTS (SELECT FROM matchpal_organization WHERE id = org)
    ON CONFLICT (organization_id) DO UPDATE SET n = v.n + 1;
    RETURN NULL;
END
$$;
"""

# An hour's row never moves to another organization (composite keys): the new row's is the old's.
TRIGGERS = "".join(
    f"""
DROP TRIGGER IF EXISTS {TRIGGER} ON {table};
CREATE CONSTRAINT TRIGGER {TRIGGER} AFTER INSERT OR UPDATE OR DELETE ON {table}
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    EXECUTE FUNCTION providers_hours_touch();
"""
    for table in TABLES
)

DROP = "".join(f"DROP TRIGGER IF EXISTS {TRIGGER} ON {table};\n" for table in TABLES) + (
    "DROP FUNCTION IF EXISTS providers_hours_touch();\n"
)


def _postgresql_only(sql: str) -> object:
    def run(apps: object, schema_editor: object) -> None:
        if schema_editor.connection.vendor == "postgresql":  # type: ignore[attr-defined]
            schema_editor.execute(sql)  # type: ignore[attr-defined]

    return run


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("providers", "0003_availability"),
    ]

    operations = [
        AddIndexWithoutBlocking(
            model_name="provider",
            index=models.Index(fields=["organization", "name", "id"], name="provider_org_name"),
        ),
        migrations.CreateModel(
            name="AvailabilityVersion",
            fields=[
                (
                    "organization",
                    models.OneToOneField(
                        on_delete=models.deletion.CASCADE,
                        db_constraint=False,
                        primary_key=True,
                        related_name="+",
                        serialize=False,
                        to="matchpal.organization",
                    ),
                ),
                ("n", models.BigIntegerField(default=0)),
            ],
        ),
        migrations.RunPython(
            _postgresql_only(FUNCTION + TRIGGERS), _postgresql_only(DROP), elidable=False
        ),
    ]
