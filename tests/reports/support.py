"""What the reports' page tests share: a response's tables by name, and some of a table's
columns row by row."""

from typing import Any

from reports.framework import Table


def tables(response: Any) -> dict[str, Table]:
    return {table.name: table for table in response.context["tables"]}


def picked(table: Table, *keys: str) -> list[tuple[Any, ...]]:
    return [tuple(row[key] for key in keys) for row in table.shown]
