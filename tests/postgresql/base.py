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
session has its trigger write them (docs/reports.md, "Roll-ups").

The content types and permissions stay: Django writes them back after every flush (its
`post_migrate` signal), identical, at a quarter of a second a test; no test writes either.
"""

from collections.abc import Sequence

from django.core.management.color import Style
from django.db.backends.postgresql import base, operations

# Rows `post_migrate` would write back as they were.
KEPT = ("django_content_type", "auth_permission")
# Tables the other tables' delete triggers write: emptied after them.
LAST = ("reports_sessionhour", "reports_relationshipperiod")


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
            return super().sql_flush(
                style, tables, reset_sequences=reset_sequences, allow_cascade=allow_cascade
            )
        guarded = self._tables_refusing_delete()
        tables = [table for table in tables if table not in KEPT]
        tables.sort(key=lambda table: table in LAST)
        truncated = [table for table in tables if table in guarded]
        statements = ["SET CONSTRAINTS ALL DEFERRED;"]
        if truncated:
            statements += super().sql_flush(style, truncated, allow_cascade=allow_cascade)
        statements += [
            f"{style.SQL_KEYWORD('DELETE FROM')} {style.SQL_FIELD(self.quote_name(table))};"
            for table in tables
            if table not in guarded
        ]
        return statements

    def _tables_refusing_delete(self) -> set[str]:
        """Tables with an enabled trigger of our own before DELETE (bits 8 and 2 of `tgtype`):
        one that may refuse it. A trigger after it (the roll-ups') only follows the rows."""
        with self.connection.cursor() as cursor:
            cursor.execute(
                "SELECT DISTINCT tgrelid::regclass::text FROM pg_trigger "
                "WHERE NOT tgisinternal AND tgenabled <> 'D' AND tgtype & 10 = 10"
            )
            return {name.strip('"') for (name,) in cursor.fetchall()}


class DatabaseWrapper(base.DatabaseWrapper):
    ops_class = DatabaseOperations
