"""Database helpers shared by the apps' migrations."""

from typing import Any

from django.db import migrations
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.state import ProjectState


class CompositeForeignKey(migrations.operations.base.Operation):
    """`FOREIGN KEY (organization_id, <column>) REFERENCES <table> (organization_id, id)`.

    Keeps a tenant row from pointing at another tenant's row, in the database itself. The
    referenced table needs a unique constraint on (organization, id). PostgreSQL only: the
    embedded SQLite database of `make run` relies on the services' checks.
    """

    reduces_to_sql = True
    reversible = True

    def __init__(
        self,
        *,
        table: str,
        column: str,
        ref_table: str,
        name: str,
        org_column: str = "organization_id",
        ref_org_column: str = "organization_id",
    ) -> None:
        self.table = table
        self.column = column
        self.ref_table = ref_table
        self.name = name
        self.org_column = org_column
        self.ref_org_column = ref_org_column

    def state_forwards(self, app_label: str, state: ProjectState) -> None:
        pass

    def database_forwards(
        self,
        app_label: str,
        schema_editor: BaseDatabaseSchemaEditor,
        from_state: ProjectState,
        to_state: ProjectState,
    ) -> None:
        if schema_editor.connection.vendor != "postgresql":
            return
        # MATCH SIMPLE: a NULL column skips the check, as a nullable reference should.
        schema_editor.execute(
            f'ALTER TABLE "{self.table}" ADD CONSTRAINT "{self.name}" '
            f'FOREIGN KEY ("{self.org_column}", "{self.column}") '
            f'REFERENCES "{self.ref_table}" ("{self.ref_org_column}", "id") '
            f"DEFERRABLE INITIALLY DEFERRED"
        )

    def database_backwards(
        self,
        app_label: str,
        schema_editor: BaseDatabaseSchemaEditor,
        from_state: ProjectState,
        to_state: ProjectState,
    ) -> None:
        if schema_editor.connection.vendor != "postgresql":
            return
        schema_editor.execute(f'ALTER TABLE "{self.table}" DROP CONSTRAINT "{self.name}"')

    def describe(self) -> str:
        return f"Composite tenant foreign key {self.name}"

    def deconstruct(self) -> tuple[str, list[Any], dict[str, Any]]:
        return (
            self.__class__.__name__,
            [],
            {
                "table": self.table,
                "column": self.column,
                "ref_table": self.ref_table,
                "name": self.name,
                "org_column": self.org_column,
                "ref_org_column": self.ref_org_column,
            },
        )
