from django.db import migrations


class LedgerKeptByTheDatabase(migrations.operations.base.Operation):
    """PostgreSQL itself keeps every balance equal to its ledger entries (docs/ledger.md,
    "Database guards"), whatever SQL is run:

    - the ledger cannot be truncated (the append-only trigger already refuses UPDATE and
      DELETE; TRUNCATE fires no row trigger, so it gets a statement trigger of its own), nor
      can the grants under it;
    - a grant's total, used and held equal the sums of its entries at every commit: checked
      when a grant's balance columns change, when a grant is inserted with a balance, and
      when an entry that moves a balance is inserted (so a balance changed without its entry,
      and an entry written without its balance change, are both refused);
    - a grant's status changes only with its entry: the entries' usable deltas sum to the
      grant's available hours while it is active and to 0 otherwise (the rule
      `reconcile_grants` checks), so a status changed alone breaks it whenever hours were
      available;

    A session's charged minutes are checked against its entries by `reconcile_grants` (not a
    trigger: the ledger's services consume for a session and the session's service stores the
    figure, two steps that callers of the ledger alone, and its tests, take separately).

    The checks are deferred constraint triggers: they run at commit, once per row a
    transaction touched, each reading one grant's entries through its index,
    so their cost follows what the transaction changed, never the size of the ledger. The
    scale generator's COPY switches the row checks off for its load and reconciles the whole
    ledger afterwards (demo/scale/load.py).
    """

    reduces_to_sql = True
    reversible = True

    def state_forwards(self, app_label, state):
        pass

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor != "postgresql":
            return
        schema_editor.execute(r"""
            CREATE TRIGGER grants_entry_no_truncate
                BEFORE TRUNCATE ON grants_grantentry
                FOR EACH STATEMENT EXECUTE FUNCTION grants_entry_append_only();
            CREATE TRIGGER grants_grant_no_truncate
                BEFORE TRUNCATE ON grants_grant
                FOR EACH STATEMENT EXECUTE FUNCTION grants_entry_append_only();

            CREATE FUNCTION grants_grant_matches_ledger() RETURNS trigger AS $$
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

            CREATE CONSTRAINT TRIGGER grant_matches_ledger_update
                AFTER UPDATE OF total, used, held, status ON grants_grant
                DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
                WHEN (OLD.total <> NEW.total OR OLD.used <> NEW.used OR OLD.held <> NEW.held
                      OR OLD.status <> NEW.status)
                EXECUTE FUNCTION grants_grant_matches_ledger();
            CREATE CONSTRAINT TRIGGER grant_matches_ledger_insert
                AFTER INSERT ON grants_grant
                DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
                WHEN (NEW.total <> 0 OR NEW.used <> 0 OR NEW.held <> 0)
                EXECUTE FUNCTION grants_grant_matches_ledger();
            CREATE CONSTRAINT TRIGGER grant_matches_ledger
                AFTER INSERT ON grants_grantentry
                DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
                WHEN (NEW.total_delta <> 0 OR NEW.used_delta <> 0 OR NEW.held_delta <> 0
                      OR NEW.usable_delta <> 0)
                EXECUTE FUNCTION grants_grant_matches_ledger();
        """)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor != "postgresql":
            return
        schema_editor.execute("""
            DROP TRIGGER grant_matches_ledger ON grants_grantentry;
            DROP TRIGGER grant_matches_ledger_update ON grants_grant;
            DROP TRIGGER grant_matches_ledger_insert ON grants_grant;
            DROP FUNCTION grants_grant_matches_ledger();
            DROP TRIGGER grants_grant_no_truncate ON grants_grant;
            DROP TRIGGER grants_entry_no_truncate ON grants_grantentry;
        """)

    def describe(self):
        return "Keep grants' balances and statuses equal to their ledger entries"


class Migration(migrations.Migration):
    dependencies = [
        ("grants", "0009_dashboard_indexes"),
        ("sessions_app", "0007_list_order_and_open_dispute_indexes"),
    ]

    operations = [LedgerKeptByTheDatabase()]
