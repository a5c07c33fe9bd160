"""The user's email kept on the membership, by the database, for the members page's index
(matchpal 0015).

The members page lists a center's memberships by role, then the user's email, then id. With the
email on the user's table alone, no index held that order: every request joined all of the
center's memberships to their users and sorted them to cut one page (docs/performance.md, "The
members page through one index"). Now `matchpal_membership.user_email` is a copy of the user's
email, and `membership_org_role_email` `(organization, role, user_email, id)` gives the page.

The copy is kept by triggers, so every path that writes an email keeps it, the ORM, allauth's
email change, an erasure, raw SQL, a COPY:

- a membership inserted, or moved to another user, takes its user's email, whatever the insert
  said (the ORM sends the column's default, "", and on PostgreSQL reads the value back with
  `RETURNING`);
- a user's email changed is written to all of their memberships, in the same statement.

PostgreSQL: one `BEFORE INSERT OR UPDATE OF user_id, user_email` trigger on the membership (an
update of the role alone does not fire it) and one `AFTER UPDATE OF email` on the user. The
insert reads the user `FOR SHARE`: an email change then waits for the new membership to commit,
and its own update of the memberships finds it (read without the lock, the insert could keep the
old address while a concurrent change, not seeing the uncommitted row, updated the others). An
update reads it without the lock: the row is already there for the email change to find, and a
lock taken after the membership's would invert the email change's order (user, then its
memberships) and deadlock with it.

SQLite (`make run`): the same rules as `AFTER` triggers updating the row (SQLite's `BEFORE`
triggers cannot change it). One writer at a time there, so no lock. Django rebuilds a SQLite
table to alter most columns, dropping its triggers: a later migration that alters the user or
membership table on SQLite must create these again (`create_triggers`);
tests/matchpal/test_member_order.py checks them there.

The existing rows are filled in this migration: memberships grow with a center's people, not its
history (6,301 at the large generated database, filled in a fraction of a second). The index
follows in its own migration, built on the filled column: built before the fill, it would hold
a dead entry for every row, and was twice the size (143 pages against 61 on that copy), enough
for the planner to sort the last page rather than walk the index. (Nor can PostgreSQL build it
in this migration's transaction after the fill: the fill's events for the admin home's deferred
trigger, `reports_dashboard_version`, are pending until the commit.)
"""

from django.db import migrations, models

POSTGRESQL = """
CREATE OR REPLACE FUNCTION matchpal_membership_user_email() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'INSERT' OR NEW.user_id IS DISTINCT FROM OLD.user_id THEN
        SELECT email INTO NEW.user_email FROM matchpal_user WHERE id = NEW.user_id FOR SHARE;
    ELSE
        SELECT email INTO NEW.user_email FROM matchpal_user WHERE id = NEW.user_id;
    END IF;
    RETURN NEW;
END $$ LANGUAGE plpgsql;

CREATE TRIGGER matchpal_membership_user_email
    BEFORE INSERT OR UPDATE OF user_id, user_email ON matchpal_membership
    FOR EACH ROW EXECUTE FUNCTION matchpal_membership_user_email();

CREATE OR REPLACE FUNCTION matchpal_user_email_to_memberships() RETURNS trigger AS $$
BEGIN
    UPDATE matchpal_membership SET user_email = NEW.email WHERE user_id = NEW.id;
    RETURN NULL;
END $$ LANGUAGE plpgsql;

CREATE TRIGGER matchpal_user_email_to_memberships
    AFTER UPDATE OF email ON matchpal_user
    FOR EACH ROW WHEN (OLD.email IS DISTINCT FROM NEW.email)
    EXECUTE FUNCTION matchpal_user_email_to_memberships();
"""

POSTGRESQL_REVERSE = """
DROP TRIGGER IF EXISTS matchpal_user_email_to_memberships ON matchpal_user;
DROP FUNCTION IF EXISTS matchpal_user_email_to_memberships();
DROP TRIGGER IF EXISTS matchpal_membership_user_email ON matchpal_membership;
DROP FUNCTION IF EXISTS matchpal_membership_user_email();
"""

# SQLite runs one statement per execute.
SQLITE = [
    """
CREATE TRIGGER IF NOT EXISTS matchpal_membership_user_email_insert
AFTER INSERT ON matchpal_membership
BEGIN
    UPDATE matchpal_membership
    SET user_email = (SELECT email FROM matchpal_user WHERE id = NEW.user_id)
    WHERE id = NEW.id;
END
""",
    """
CREATE TRIGGER IF NOT EXISTS matchpal_membership_user_email_update
AFTER UPDATE OF user_id, user_email ON matchpal_membership
WHEN NEW.user_email IS NOT (SELECT email FROM matchpal_user WHERE id = NEW.user_id)
BEGIN
    UPDATE matchpal_membership
    SET user_email = (SELECT email FROM matchpal_user WHERE id = NEW.user_id)
    WHERE id = NEW.id;
END
""",
    """
CREATE TRIGGER IF NOT EXISTS matchpal_user_email_to_memberships
AFTER UPDATE OF email ON matchpal_user
WHEN NEW.email IS NOT OLD.email
BEGIN
    UPDATE matchpal_membership SET user_email = NEW.email WHERE user_id = NEW.id;
END
""",
]

SQLITE_REVERSE = [
    "DROP TRIGGER IF EXISTS matchpal_user_email_to_memberships",
    "DROP TRIGGER IF EXISTS matchpal_membership_user_email_update",
    "DROP TRIGGER IF EXISTS matchpal_membership_user_email_insert",
]

# After the triggers: on PostgreSQL, creating the user's trigger holds that table against
# writes until the migration commits, so no email changes between the fill and the trigger.
FILL = """
UPDATE matchpal_membership
SET user_email = (SELECT email FROM matchpal_user WHERE matchpal_user.id = user_id)
"""


def create_triggers(apps: object, schema_editor: object) -> None:
    vendor = schema_editor.connection.vendor  # type: ignore[attr-defined]
    for sql in [POSTGRESQL] if vendor == "postgresql" else SQLITE:
        schema_editor.execute(sql)  # type: ignore[attr-defined]
    schema_editor.execute(FILL)  # type: ignore[attr-defined]


def drop_triggers(apps: object, schema_editor: object) -> None:
    vendor = schema_editor.connection.vendor  # type: ignore[attr-defined]
    for sql in [POSTGRESQL_REVERSE] if vendor == "postgresql" else SQLITE_REVERSE:
        schema_editor.execute(sql)  # type: ignore[attr-defined]


class Migration(migrations.Migration):
    dependencies = [
        ("matchpal", "0013_checkin_recap_suspension_settings"),
    ]

    operations = [
        migrations.AddField(
            model_name="membership",
            name="user_email",
            field=models.EmailField(blank=True, db_default="", editable=False, max_length=254),
        ),
        migrations.RunPython(create_triggers, drop_triggers),
    ]
