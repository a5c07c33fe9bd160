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

import functools
import hashlib
import re
import uuid
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, Final

from django.db import DEFAULT_DB_ALIAS, DatabaseError, connection, connections
from django.db.models import Field, Model


def available() -> bool:
    """Whether the prebuilt statements run here: PostgreSQL with client-side binding."""
    db = connections[DEFAULT_DB_ALIAS]  # looked up once: `connection.x` looks it up for each x
    options = db.settings_dict.get("OPTIONS", {})
    return db.vendor == "postgresql" and not options.get("server_side_binding")


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
        db = connections[DEFAULT_DB_ALIAS]
        return [self._instance(row, n, db) for n in range(len(self.slices))]

    def instance(self, row: Sequence[Any], part: int) -> Model:
        """The instance of the `part`-th part (from 0), from one row: for a caller that skips
        the parts a row has none of (a left join that found nothing)."""
        return self._instance(row, part, connections[DEFAULT_DB_ALIAS])

    def _instance(self, row: Sequence[Any], part: int, db: Any) -> Model:
        # `db` is the connection itself, found once per row: each `connection.x` finds it again
        # (a context-local lookup), some twenty times per session logged.
        model, names, start, end, converters = self.slices[part]
        values = list(row[start:end])
        for i, convert in converters:
            values[i] = convert(values[i], None, db)
        return model.from_db(db.alias, names, values)


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


@functools.cache
def _insert_of(model: type[Model]) -> tuple[str, list[Field[Any, Any]], Field[Any, Any]]:
    """`insert`'s text and fields for `model`, written once per process."""
    meta = model._meta
    pk = meta.pk
    assert pk is not None
    fields = [f for f in meta.concrete_fields if f is not pk and not f.generated]
    columns = ", ".join(quote(str(f.column)) for f in fields)
    placeholders = ", ".join(["%s"] * len(fields))
    sql = (
        f"INSERT INTO {table(model)} ({columns}) VALUES ({placeholders}) "  # noqa: S608 (the model's names only)
        f"RETURNING {quote(str(pk.column))}"
    )
    return sql, fields, pk


def insert(instance: Model) -> Statement:
    """`INSERT` of a new instance with every concrete field but an auto primary key, `RETURNING`
    that key, which `then` sets: what `save(force_insert=True)` sends, values prepared the
    same way (`pre_save` for `auto_now_add`, `get_db_prep_save`). No signals are sent, as the
    callers have none."""
    sql, fields, pk = _insert_of(type(instance))
    db = connections[DEFAULT_DB_ALIAS]  # the connection itself, looked up once
    params = [f.get_db_prep_save(f.pre_save(instance, True), db) for f in fields]

    def then(rows: list[tuple[Any, ...]]) -> None:
        ((value,),) = rows
        setattr(instance, pk.attname, value)
        instance._state.adding, instance._state.db = False, db.alias

    return Statement(sql, params, then)


def send_together(statements: Sequence[tuple[str, Sequence[Any]]]) -> list[list[tuple[Any, ...]]]:
    """Run the statements in one round trip, in order; returns each one's rows. A statement
    that fails stops the rest (PostgreSQL runs them in the one transaction, as if sent one by
    one), and its error is raised as Django raises any other.

    Each statement is prepared on the connection the first time it is sent there (`PREPARE`,
    at the head of that round trip) and from then on sent as `EXECUTE name(values)`:
    PostgreSQL parses it once per connection and, once its generic plan is as good as a
    custom one, plans it once too, instead of parsing and planning the whole text for every
    log."""
    db = connections[DEFAULT_DB_ALIAS]
    prepared = _prepared_on(db)
    new: list[str] = []
    names: list[str] = []  # of the statements `new` prepares
    texts: list[str] = []
    params: list[Any] = []
    for text, values in statements:
        types = declared_types(values)
        name, numbered, arity = _prepared_form(text, types)
        if name not in prepared:
            if len(prepared) + len(new) >= MAX_PREPARED:
                texts.append(text)  # enough prepared here: sent whole, as before
                params += values
                continue
            new.append(
                f"PREPARE {name}({', '.join(types)}) AS {numbered}"
                if types
                else f"PREPARE {name} AS {numbered}"
            )
            names.append(name)
        assert arity == len(values), (arity, len(values))
        texts.append(f"EXECUTE {name}({', '.join(['%s'] * arity)})" if arity else f"EXECUTE {name}")
        params += values
    # The PREPAREs go first: nothing before them can fail, so once the round trip has run (or
    # failed in a later statement) they exist on the connection, transaction or not (PREPARE
    # is not undone by a rollback).
    sql = ";\n".join([*new, *texts])
    results: list[list[tuple[Any, ...]]] = []
    try:
        with db.cursor() as cursor:
            cursor.execute(sql, params)
            for _ in new:
                cursor.nextset()
            results.append(cursor.fetchall())
            for _ in statements[1:]:
                cursor.nextset()
                results.append(cursor.fetchall())
    except DatabaseError as exc:
        sqlstate = getattr(exc.__cause__, "sqlstate", None)
        if sqlstate in _OUT_OF_STEP:
            _STALE.add(db)  # asked again of the server next time
        elif sqlstate not in _NOT_PREPARED:
            prepared.update(names)
        raise
    prepared.update(names)
    return results


def fetch(sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
    """The rows of one statement, prepared on the connection (`send_together` of one)."""
    (rows,) = send_together([(sql, params)])
    return rows


# At most this many statements prepared per connection: each shape of a posting is one, and
# each statement compiled once (`matchpal.compiled`) another. A prepared statement and its
# cached plan take some of the server process's memory; past this, statements go whole.
MAX_PREPARED: Final = 256
# The round trip failed before its PREPAREs ran (the transaction was already aborted), or
# with an error that does not say: none is counted.
_NOT_PREPARED: Final = {"25P02", None}
# What the server has prepared is not what this process counted (a statement it does not know:
# `DISCARD ALL`; or one it already has): the list is read from the server before the next use.
_OUT_OF_STEP: Final = {"26000", "42P05"}
_STALE: weakref.WeakSet[Any] = weakref.WeakSet()

# Per connection wrapper: its database connection and the names prepared on it. A new database
# connection (after a close or a lost one) starts with none.
_PREPARED: weakref.WeakKeyDictionary[Any, tuple[Any, set[str]]] = weakref.WeakKeyDictionary()


def _prepared_on(db: Any) -> set[str]:
    if db.connection is None:
        db.ensure_connection()
    known = _PREPARED.get(db)
    if known is None or known[0] is not db.connection:
        known = (db.connection, set())
        _PREPARED[db] = known
    if db in _STALE:
        with db.cursor() as cursor:
            cursor.execute("SELECT name FROM pg_prepared_statements")
            known[1].clear()
            known[1].update(name for (name,) in cursor.fetchall())
        _STALE.discard(db)
    return known[1]


# Each prepared statement's text by name, for `expand`.
_TEXTS: dict[str, str] = {}


def expand(sent: str) -> str:
    """What a round trip of `send_together` stands for, as the statements' own text: its
    `PREPARE`s left out and each `EXECUTE name(…)` written as the statement it runs (with `%s`
    for its values). For tests and logs that read the SQL sent."""
    parts = []
    for part in sent.split(";\n"):
        if part.startswith("PREPARE matchpal_"):
            continue
        if part.startswith("EXECUTE matchpal_"):
            part = _TEXTS.get(part.removeprefix("EXECUTE ").split("(", 1)[0], part)
        parts.append(part)
    return ";\n".join(parts)


def declared_types(values: Sequence[Any]) -> tuple[str, ...]:
    """The type of each parameter as the `PREPARE` declares it: the type PostgreSQL gives the
    literal the client's binding writes for the value (`5` an integer, `3000000000` a bigint,
    a moment `'…'::timestamptz`), so that the prepared statement resolves its operators and
    functions as the statement sent whole did. A string is `text` (a literal string takes the
    type its place asks for, but a parameter in a place that asks for none, `COALESCE(…,
    $1)` or a select list, would have no type at all); any other value (`NULL`, JSON, an
    array) is `unknown`, its type taken from its place."""
    return tuple(_declared_type(value) for value in values)


def _declared_type(value: Any) -> str:
    kind = type(value)
    if kind is bool:
        return "boolean"
    if isinstance(value, int):
        if -(2**31) <= value < 2**31:
            return "integer"
        return "bigint" if -(2**63) <= value < 2**63 else "numeric"
    if isinstance(value, str):  # a choice (`TextChoices`) too
        return "text"
    if isinstance(value, datetime):
        return "timestamp" if value.tzinfo is None else "timestamptz"
    if isinstance(value, date):
        return "date"
    if isinstance(value, uuid.UUID):
        return "uuid"
    if isinstance(value, Decimal | float):
        return "numeric"
    if isinstance(value, timedelta):
        return "interval"
    return "unknown"


def as_run(sent: str) -> str:
    """`expand` with each `EXECUTE`'s values written in the places of its `%s` (as the client's
    binding wrote them: `5`, `'text'`, `'…'::timestamptz`), the statement as if sent whole. For
    tests that read a value in the SQL sent."""
    texts = expand(sent).split(";\n")
    sent_parts = [p for p in sent.split(";\n") if not p.startswith("PREPARE matchpal_")]
    parts = []
    for text, part in zip(texts, sent_parts, strict=True):
        if part.startswith("EXECUTE matchpal_") and "(" in part:
            values = _arguments(part[part.index("(") + 1 : part.rindex(")")])
            pieces = re.split(r"(%s|%%)", text)
            out, taken = [], iter(values)
            for piece in pieces:
                out.append(next(taken) if piece == "%s" else "%" if piece == "%%" else piece)
            text = "".join(out)
        parts.append(text)
    return ";\n".join(parts)


def _arguments(listed: str) -> list[str]:
    """The top-level comma-separated items of an `EXECUTE`'s argument list (commas inside a
    quoted string or parentheses belong to their item)."""
    items: list[str] = []
    current: list[str] = []
    depth, quoted = 0, False
    for char in listed:
        if char == "'":
            quoted = not quoted  # a doubled '' turns it off and on again
        elif not quoted and char == "(":
            depth += 1
        elif not quoted and char == ")":
            depth -= 1
        elif not quoted and depth == 0 and char == ",":
            items.append("".join(current).strip())
            current = []
            continue
        current.append(char)
    items.append("".join(current).strip())
    return items


@functools.lru_cache(maxsize=1024)
def _prepared_form(text: str, types: tuple[str, ...] = ()) -> tuple[str, str, int]:
    """The statement's name (from its text and its parameters' types: another text, or the
    same with a value of another type, is another statement), its text with `$1`, `$2`… for
    the `%s` placeholders (the client's binding then sends `%%` as `%`), and their number."""
    key = text if not types else f"{text}\n{','.join(types)}"
    name = "matchpal_" + hashlib.sha1(key.encode(), usedforsecurity=False).hexdigest()[:24]
    _TEXTS[name] = text
    parts = re.split(r"(%s|%%)", text)
    out: list[str] = []
    arity = 0
    for part in parts:
        if part == "%s":
            arity += 1
            out.append(f"${arity}")
        else:  # `%%` stays: the round trip's text goes through the client's binding
            out.append(part)
    return name, "".join(out), arity
