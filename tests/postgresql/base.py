"""PostgreSQL as production uses it, but a transactional test ends by deleting the rows it left
instead of truncating every table.

Django empties the database after each transactional test (the race tests, the browser, the
Celery worker) with one `TRUNCATE` of every table: PostgreSQL then gives each of some three
hundred tables, indexes and sequences a new file, more than a second a test on an idle machine
and several when loaded. The rows a test leaves are a few dozen, and deleting them takes a few
milliseconds. Foreign keys are all deferrable, so deleting in any order is checked at commit,
when nothing is left to point anywhere. A table whose rows may not be deleted (a trigger
refuses it, before the delete: the append-only ledger) is still truncated; so is everything when
a test asks for its sequences reset. The Sessions report's roll-ups are emptied last: deleting a
session has its trigger write them (docs/reports.md, "Roll-ups"), and so are the students'
charged totals (students 0005). The hours' version, written at commit by a deferred trigger,
is not written for an organization deleted in the same transaction (providers 0004).

The content types and permissions stay: Django writes them back after every flush (its
`post_migrate` signal), identical, at a quarter of a second a test; no test writes either.
"""

from collections.abc import Sequence

from django.core.management.color import Style
from django.db.backends.postgresql import base, operations

# Bits of pg_trigger.tgtype: when a trigger fires, and on which events.
BEFORE = 2
DELETE = 8
TRUNCATE = 32
# Rows `post_migrate` would write back as they were.
KEPT = ("django_content_type", "auth_permission")
# Tables the other tables' delete triggers write: emptied after them.
LAST = (
    "reports_sessionhour",
    "reports_relationshipperiod",
    "reports_payrollperiod",
    "reports_ledgerday",
    "reports_studentledgerperiod",
    "reports_grantending",
    "sessions_app_pairingactivity",
    "students_chargedtotal",
)


class DatabaseOperations(operations.DatabaseOperations):
    def sql_flush(
        self,
        style: Style,
        tables: Sequence[str],
        *,
        reset_sequences: bool = False,
        allow_cascade: bool = False,
    ) -> list[str]:
        if reset_sequences or not tables:
            return self._around_truncate_guards(
                tables,
                super().sql_flush(
                    style, tables, reset_sequences=reset_sequences, allow_cascade=allow_cascade
                ),
            )
        guarded = self._tables_refusing(DELETE)
        tables = [table for table in tables if table not in KEPT]
        tables.sort(key=lambda table: table in LAST)
        truncated = [table for table in tables if table in guarded]
        statements = ["SET CONSTRAINTS ALL DEFERRED;"]
        if truncated:
            statements += self._around_truncate_guards(
                truncated, super().sql_flush(style, truncated, allow_cascade=allow_cascade)
            )
        statements += [
            f"{style.SQL_KEYWORD('DELETE FROM')} {style.SQL_FIELD(self.quote_name(table))};"
            for table in tables
            if table not in guarded
        ]
        return statements

    def _around_truncate_guards(self, tables: Sequence[str], statements: list[str]) -> list[str]:
        """The ledger refuses TRUNCATE (grants 0010): the guards of the tables truncated are
        switched off around the flush's TRUNCATE, inside its transaction, and on again after."""
        guards = [
            (table, name)
            for table, name in self._triggers_refusing(TRUNCATE)
            if table.strip('"') in tables
        ]
        off = [f"ALTER TABLE {table} DISABLE TRIGGER {name};" for table, name in guards]
        on = [f"ALTER TABLE {table} ENABLE TRIGGER {name};" for table, name in guards]
        return [*off, *statements, *on]

    def _tables_refusing(self, event: int) -> set[str]:
        return {table.strip('"') for table, _ in self._triggers_refusing(event)}

    def _triggers_refusing(self, event: int) -> list[tuple[str, str]]:
        """Enabled triggers of our own BEFORE `event` (a bit of `tgtype`), with their tables:
        ones that may refuse it. A trigger after it (the roll-ups') only follows the rows."""
        mask = event | BEFORE
        with self.connection.cursor() as cursor:
            cursor.execute(
                "SELECT tgrelid::regclass::text, quote_ident(tgname) FROM pg_trigger "
                "WHERE NOT tgisinternal AND tgenabled <> 'D' AND tgtype & %s = %s "
                "ORDER BY 1, 2",
                [mask, mask],
            )
            return list(cursor.fetchall())


class DatabaseWrapper(base.DatabaseWrapper):
    ops_class = DatabaseOperations
