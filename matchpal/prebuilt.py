"""Statements of the hottest write path built once from the models, not by the ORM per call.

Logging a session is the providers' most frequent write; about half of its Python time went
into the ORM compiling the same few `SELECT … FOR UPDATE` statements again for every log
(docs/performance.md, "Session logging beside `pgbench`"). `Select` writes such a statement's
column list from the models' own metadata once per process, and turns each row back into model
instances with `Model.from_db`, the way the ORM does (including any field's `from_db_value`).
Each statement has a test that runs it beside its ORM twin and compares every field
(tests/matchpal/test_prebuilt.py).

PostgreSQL only: on SQLite (`make run`) the callers keep their ORM query, and `available()`
says which one runs. `send_together()` sends several such statements in one round trip
(psycopg's client-side binding, Django's default, runs them one after the other in the
transaction, each to completion: the lock order of the separate statements is kept).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.db.models import Field, Model


def available() -> bool:
    """Whether the prebuilt statements run here: PostgreSQL with client-side binding."""
    options = connection.settings_dict.get("OPTIONS", {})
    return connection.vendor == "postgresql" and not options.get("server_side_binding")


def quote(name: str) -> str:
    return connection.ops.quote_name(name)


def table(model: type[Model]) -> str:
    return quote(model._meta.db_table)


@dataclass(frozen=True)
class Part:
    """One model's columns in a statement's select list, under the table alias `alias`: every
    concrete field, or only those named in `only` (the others deferred, as `only()` leaves
    them), in the model's order."""

    model: type[Model]
    alias: str
    only: tuple[str, ...] = ()

    @property
    def fields(self) -> list[Field[Any, Any]]:
        fields = list(self.model._meta.concrete_fields)
        if not self.only:
            return fields
        unknown = set(self.only) - {f.name for f in fields}
        assert not unknown, f"{self.model.__name__} has no fields {sorted(unknown)}"
        return [f for f in fields if f.name in self.only]

    def columns(self) -> str:
        return ", ".join(f"{quote(self.alias)}.{quote(str(f.column))}" for f in self.fields)


class Rows:
    """Turns the rows of a statement whose select list is `parts`, in order, into instances."""

    def __init__(self, parts: Sequence[Part]) -> None:
        self.parts = list(parts)
        self.slices: list[tuple[type[Model], list[str], int, int, list[tuple[int, Any]]]] = []
        start = 0
        for part in self.parts:
            fields = part.fields
            converters = [
                (i, f.from_db_value) for i, f in enumerate(fields) if hasattr(f, "from_db_value")
            ]
            names = [f.attname for f in fields]
            self.slices.append((part.model, names, start, start + len(fields), converters))
            start += len(fields)

    def select_list(self) -> str:
        return ", ".join(part.columns() for part in self.parts)

    def instances(self, row: Sequence[Any]) -> list[Model]:
        """One instance per part, from one row."""
        made = []
        for model, names, start, end, converters in self.slices:
            values = list(row[start:end])
            for i, convert in converters:
                values[i] = convert(values[i], None, connection)
            made.append(model.from_db(connection.alias, names, values))
        return made


@dataclass(frozen=True)
class Statement:
    """A caller's statement handed to another app's service to go first in that service's next
    round trip; `then` receives its rows (an `INSERT … RETURNING` learns its id)."""

    sql: str
    params: Sequence[Any]
    then: Callable[[list[tuple[Any, ...]]], None]

    def run(self) -> None:
        """Alone, in a round trip of its own (where nothing is sent together)."""
        (rows,) = send_together([(self.sql, self.params)])
        self.then(rows)


def insert(instance: Model) -> Statement:
    """`INSERT` of a new instance with every concrete field but an auto primary key, `RETURNING`
    that key, which `then` sets: what `save(force_insert=True)` sends, values prepared the
    same way (`pre_save` for `auto_now_add`, `get_db_prep_save`). No signals are sent, as the
    callers have none."""
    meta = instance._meta
    pk = meta.pk
    assert pk is not None
    fields = [f for f in meta.concrete_fields if f is not pk and not f.generated]
    columns = ", ".join(quote(str(f.column)) for f in fields)
    placeholders = ", ".join(["%s"] * len(fields))
    params = [f.get_db_prep_save(f.pre_save(instance, True), connection) for f in fields]
    sql = (
        f"INSERT INTO {table(type(instance))} ({columns}) VALUES ({placeholders}) "  # noqa: S608 (the model's names only)
        f"RETURNING {quote(str(pk.column))}"
    )

    def then(rows: list[tuple[Any, ...]]) -> None:
        ((value,),) = rows
        setattr(instance, pk.attname, value)
        instance._state.adding, instance._state.db = False, connection.alias

    return Statement(sql, params, then)


def send_together(statements: Sequence[tuple[str, Sequence[Any]]]) -> list[list[tuple[Any, ...]]]:
    """Run the statements in one round trip, in order; returns each one's rows. A statement
    that fails stops the rest (PostgreSQL runs them in the one transaction, as if sent one by
    one), and its error is raised as Django raises any other."""
    sql = ";\n".join(text for text, _ in statements)
    params = [value for _, values in statements for value in values]
    results: list[list[tuple[Any, ...]]] = []
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        results.append(cursor.fetchall())
        for _ in statements[1:]:
            cursor.nextset()
            results.append(cursor.fetchall())
    return results
