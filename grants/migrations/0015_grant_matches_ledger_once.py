"""`grant_matches_ledger` sums a grant's entries once per transaction instead of once per row
event.

A posting changes a grant's balance and inserts its entry: two deferred events on the same
grant (`grant_matches_ledger_update` and `grant_matches_ledger`), each of which summed every
entry the grant ever had at the commit, so a session log summed its grant's history twice
(docs/performance.md, "Session logging: each grant's ledger summed once").

Now the first check of a grant in a transaction sums its entries as before and, when they
match, notes what it saw in a setting local to the transaction (`matchpal.ledger_checked`):
the grant's id, total, used, held and status, and the highest entry id then visible. A later
event on the same grant skips the sum only when nothing it could be about has changed since:

- the grant's event: its balance and status are still the ones found equal to the ledger (a
  later change of the row shows another balance and is summed again, whatever else changed);
- an entry's event: the grant's balance and status are still those, and the entry was already
  there when the sum was taken (its id is at most the highest then; any entry written later
  gets a higher id from the sequence, so its event sums again).

So a change of a grant's columns without its entry, or an entry without its balance change, is
refused at the commit as before, also after a `SET CONSTRAINTS … IMMEDIATE` that checked the
grant earlier in the transaction. The setting is transaction-local (rolled back with a
savepoint, gone at the commit) and short: past 2,000 characters it starts again from the newest
note, so a bulk transaction touching thousands of grants costs what it did (at worst a sum per
event), never more.
"""

from django.db import migrations

CHECK = r"""
CREATE OR REPLACE FUNCTION grants_grant_matches_ledger() RETURNS trigger AS $$
DECLARE
    gid bigint;
    g record;
    l record;
    marks text;
    mark text;
    at integer;
    last_id bigint;
BEGIN
    -- Two branches: PL/pgSQL resolves a field of NEW when it runs the statement.
    IF TG_TABLE_NAME = 'grants_grant' THEN
        gid := NEW.id;
    ELSE
        gid := NEW.grant_id;
    END IF;
    SELECT total, used, held, status,
           CASE WHEN status = 'active' THEN total - used - held ELSE 0 END AS usable
      INTO g FROM grants_grant WHERE id = gid;
    -- Already found equal to its ledger in this transaction, in this very state?
    marks := COALESCE(current_setting('matchpal.ledger_checked', true), '');
    mark := ',' || gid || ':' || g.total || ':' || g.used || ':' || g.held || ':'
            || g.status || ':';
    at := position(mark IN marks);
    IF at > 0 THEN
        IF TG_TABLE_NAME = 'grants_grant' THEN
            RETURN NULL;
        END IF;
        last_id := split_part(substr(marks, at + length(mark)), ',', 1)::bigint;
        IF NEW.id <= last_id THEN
            RETURN NULL;
        END IF;
    END IF;
    SELECT COALESCE(SUM(total_delta), 0) AS total,
           COALESCE(SUM(used_delta), 0) AS used,
           COALESCE(SUM(held_delta), 0) AS held,
           COALESCE(SUM(usable_delta), 0) AS usable
      INTO l FROM grants_grantentry WHERE grant_id = gid;
    IF g.total <> l.total OR g.used <> l.used OR g.held <> l.held THEN
        RAISE EXCEPTION 'grant %% has total %%, used %%, held %% but its ledger entries '
            'sum to total %%, used %%, held %%: a balance changes only together with '
            'its entry', gid, g.total, g.used, g.held, l.total, l.used, l.held
            USING ERRCODE = 'integrity_constraint_violation',
                  CONSTRAINT = 'grant_matches_ledger';
    END IF;
    -- The entries' usable deltas sum to the grant's available hours while it is
    -- active and to 0 otherwise: a status changed without its entry (expire,
    -- extend, refund) breaks it whenever hours were available.
    IF g.usable <> l.usable THEN
        RAISE EXCEPTION 'grant %% is %% with %% available to book but its ledger '
            'entries say %%: a status changes only together with its entry',
            gid, g.status, g.usable, l.usable
            USING ERRCODE = 'integrity_constraint_violation',
                  CONSTRAINT = 'grant_matches_ledger';
    END IF;
    -- Equal: noted with the highest entry id visible now (this transaction's entries
    -- included; any later one gets a higher id).
    SELECT max(id) INTO last_id FROM grants_grantentry;
    IF length(marks) > 2000 THEN
        marks := '';
    END IF;
    PERFORM set_config('matchpal.ledger_checked',
                       marks || mark || COALESCE(last_id, 0), true);
    RETURN NULL;
END
$$ LANGUAGE plpgsql;
"""

# grants 0010's function, as it was.
SUM_EVERY_TIME = r"""
CREATE OR REPLACE FUNCTION grants_grant_matches_ledger() RETURNS trigger AS $$
DECLARE
    gid bigint;
    g record;
    l record;
BEGIN
    -- Two branches: PL/pgSQL resolves a field of NEW when it runs the statement.
    IF TG_TABLE_NAME = 'grants_grant' THEN
        gid := NEW.id;
    ELSE
        gid := NEW.grant_id;
    END IF;
    SELECT total, used, held, status,
           CASE WHEN status = 'active' THEN total - used - held ELSE 0 END AS usable
      INTO g FROM grants_grant WHERE id = gid;
    SELECT COALESCE(SUM(total_delta), 0) AS total,
           COALESCE(SUM(used_delta), 0) AS used,
           COALESCE(SUM(held_delta), 0) AS held,
           COALESCE(SUM(usable_delta), 0) AS usable
      INTO l FROM grants_grantentry WHERE grant_id = gid;
    IF g.total <> l.total OR g.used <> l.used OR g.held <> l.held THEN
        RAISE EXCEPTION 'grant %% has total %%, used %%, held %% but its ledger entries '
            'sum to total %%, used %%, held %%: a balance changes only together with '
            'its entry', gid, g.total, g.used, g.held, l.total, l.used, l.held
            USING ERRCODE = 'integrity_constraint_violation',
                  CONSTRAINT = 'grant_matches_ledger';
    END IF;
    -- The entries' usable deltas sum to the grant's available hours while it is
    -- active and to 0 otherwise: a status changed without its entry (expire,
    -- extend, refund) breaks it whenever hours were available.
    IF g.usable <> l.usable THEN
        RAISE EXCEPTION 'grant %% is %% with %% available to book but its ledger '
            'entries say %%: a status changes only together with its entry',
            gid, g.status, g.usable, l.usable
            USING ERRCODE = 'integrity_constraint_violation',
                  CONSTRAINT = 'grant_matches_ledger';
    END IF;
    RETURN NULL;
END
$$ LANGUAGE plpgsql;
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CHECK)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(SUM_EVERY_TIME)


class Migration(migrations.Migration):
    dependencies = [
        ("grants", "0014_center_balance_fill"),
    ]

    operations = [migrations.RunPython(forwards, backwards, elidable=False)]
