"""Querysets compiled to SQL once per process, their values bound per call.

A page's queries have the same shape on every request; only values change (the organization,
the student, a moment). Building a queryset (its clones, lookups, joins) and compiling it to
SQL took a third of the homes' and the hours pages' Python (docs/performance.md, "The homes:
statements compiled once"). `Compiled` builds its queryset once with a marker value for each
named parameter, compiles it, records where each marker landed among the statement's
parameters, and from then on runs that SQL with the call's values in those places, turning the
rows into what the queryset would return (models with their `select_related` rows and
annotations, dicts or tuples) through Django's own iterables.

What it refuses (`NotCompilable`, raised on the first call, so a test that runs the statement
finds it): SQL that reads the clock or anything else that varies between runs (`NOW()`,
`random()`…), and querysets whose SQL or fixed parameters change with the values (a list
whose length is a value, a moment taken by the build function itself, a value the ORM
transformed before binding): the queryset is compiled a second time with other markers and
both compilations must agree on everything but the markers. Prefetches (`prefetch_related`)
are refused too: they run queries of their own.

Each statement is also prepared on its connection (`matchpal.prebuilt.fetch`): PostgreSQL
parses it once per connection and, once its generic plan costs no more than a custom one,
plans it once too (docs/performance.md, "Statements prepared per connection"). A generic plan
is made without the values: a statement must not lead the planner from a filter whose
selectivity it cannot know without them (the organization alone, on a table where one center
holds most rows); `scripts/profile_pages.py --explain` compares the two plans of each.

PostgreSQL only, with client-side binding (Django's default): elsewhere (SQLite, `make run`)
every call builds and runs the queryset through the ORM, which gives the same rows.
"""

from __future__ import annotations

import copy
import functools
import re
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import Model, QuerySet
from django.db.models.sql.compiler import SQLCompiler
from django.db.models.sql.constants import GET_ITERATOR_CHUNK_SIZE, MULTI, SINGLE

from matchpal import prebuilt

# SQL functions whose value differs from one run of the same statement to the next.
VOLATILE = re.compile(
    r"\b(now|current_timestamp|current_date|current_time|localtime|localtimestamp"
    r"|clock_timestamp|statement_timestamp|transaction_timestamp|timeofday|random"
    r"|gen_random_uuid|uuid_generate_v4|nextval|setseed)\b",
    re.IGNORECASE,
)


class Rows(int):
    """The kind of a slice's bound, an offset or a count of rows (`qs[offset:offset + limit]`):
    Django writes `LIMIT` and `OFFSET` into the SQL as numbers, not parameters, so a compiled
    statement finds its markers there and binds them as parameters (`LIMIT %s OFFSET %s`).
    Values are plain `int`s of 0 or more."""


KINDS = (int, str, datetime, date, uuid.UUID, Rows)

# Where Django writes a slice's bounds (`DatabaseOperations.limit_offset_sql`).
_SLICE = re.compile(r"\b(LIMIT|OFFSET) (\d+)\b")


class NotCompilable(Exception):
    """The queryset's SQL cannot be reused with other values as it is."""


def _marker(kind: type, n: int, variant: int) -> Any:
    """A value of `kind` that nothing else in a statement holds: the n-th parameter's, in the
    first (`variant` 0) or the second compilation."""
    if kind is int:
        return -(7_340_033 + 1_009 * n + variant)
    if kind is str:
        return f"\u2063compiled-marker-{variant}-{n}\u2063"
    if kind is datetime:
        return datetime(1901 + variant, 1, 1, 0, 0, n % 60, 700_000 + n, tzinfo=UTC)
    if kind is date:
        return date(1901 + variant, 1 + n // 28, 1 + n % 28)
    if kind is uuid.UUID:
        return uuid.UUID(int=(0xC0DE << 112) | (variant << 32) | n)
    if kind is Rows:
        # Positive (a slice refuses negative bounds), and far apart, so that the limit an
        # offset and its end make (`end - offset`) is the limit's own marker.
        return 7_340_033 * 10**9 + 10**6 * n + variant
    raise TypeError(f"no marker for {kind.__name__}")


def _same(a: Any, b: Any) -> bool:
    return type(a) is type(b) and a == b


def _wrapped(value: Any, marker: Any) -> bool:
    """Whether `value` is `marker` in one of psycopg's typed integers (`Int4`…), as the
    PostgreSQL backend binds a number compared with an integer expression: bound the same way
    per call."""
    return (
        type(marker) is int
        and isinstance(value, int)
        and type(value).__module__.startswith("psycopg")
        and int(value) == marker
    )


class _Shape:
    """One compilation: the SQL, its parameters with each value's place, and the compiler as
    it stood after compiling (what it selects, how its rows become models)."""

    def __init__(self, queryset: QuerySet[Any], markers: dict[str, Any]) -> None:
        compiler = queryset.query.get_compiler(using=queryset.db)
        sql, params = compiler.as_sql()
        sql, params = _bind_slices(sql, list(params), markers)
        self.sql: str = sql
        self.params: list[Any] = list(params)
        self.compiler: SQLCompiler = compiler
        self.places: list[tuple[int, str]] = [
            (i, name)
            for i, value in enumerate(self.params)
            for name, marker in markers.items()
            if _same(value, marker) or _wrapped(value, marker)
        ]
        # The type each place is bound as: the value's own, or psycopg's wrapper of it.
        self.binds: dict[int, Any] = {
            i: type(self.params[i])
            for i, name in self.places
            if _wrapped(self.params[i], markers[name])
        }

    def write_fixed_values(self, connection: Any) -> None:
        """Write the statement's fixed parameters (a status, a unit: what the build function
        filters by, not a value of the call) into its SQL as literals, as the client-side
        binding writes them (`'scheduled'`, `0`), and keep only the values' places as
        parameters. A prepared statement's generic plan then knows them: it can use a partial
        index whose condition names them (`WHERE status = 'scheduled'`), which a parameter
        hides from it, and a statement with a few parameters instead of forty plans like the
        statement sent whole (docs/performance.md, "Statements prepared per connection")."""
        placed = dict(self.places)
        pieces = re.split(r"(%s|%%)", self.sql)
        out: list[str] = []
        params: list[Any] = []
        places: list[tuple[int, str]] = []
        binds: dict[int, Any] = {}
        index = 0
        for piece in pieces:
            if piece != "%s":
                out.append(piece)
                continue
            if index in placed:
                if index in self.binds:
                    binds[len(params)] = self.binds[index]
                places.append((len(params), placed[index]))
                params.append(self.params[index])
                out.append("%s")
            else:
                literal = connection.ops.compose_sql("%s", [self.params[index]])
                out.append(literal.replace("%", "%%"))
            index += 1
        assert index == len(self.params), (index, len(self.params))
        self.sql, self.params, self.places, self.binds = "".join(out), params, places, binds

    def bound(self, values: dict[str, Any]) -> list[Any]:
        """The parameters with the call's `values` in their places."""
        params = list(self.params)
        for i, name in self.places:
            bind = self.binds.get(i)
            params[i] = values[name] if bind is None else bind(values[name])
        return params


def _bind_slices(sql: str, params: list[Any], markers: dict[str, Any]) -> tuple[str, list[Any]]:
    """`sql` with each `LIMIT`/`OFFSET` whose number is a `Rows` marker written `%s`, the marker
    put among `params` in its place (the placeholders before it counted), so it is bound."""
    rows = {marker for name, marker in markers.items() if type(marker) is int and marker > 0}
    if not rows:
        return sql, params
    out: list[str] = []
    bound = list(params)
    placeholders, start = 0, 0
    for match in _SLICE.finditer(sql):
        value = int(match.group(2))
        if value not in rows:
            continue
        before = sql[start : match.start()]
        placeholders += _placeholders(before)
        out.append(before + f"{match.group(1)} %s")
        bound.insert(placeholders, value)
        placeholders += 1
        start = match.end()
    out.append(sql[start:])
    return "".join(out), bound


def _placeholders(sql: str) -> int:
    """The `%s` placeholders in a piece of Django's SQL (`%%` is a literal percent sign)."""
    return sql.replace("%%", "").count("%s")


class _Query:
    """The template's query, except that its compiler is the call's."""

    def __init__(self, query: Any, compiler: SQLCompiler) -> None:
        self._query, self._compiler = query, compiler

    def get_compiler(self, using: str | None = None, *args: Any, **kwargs: Any) -> SQLCompiler:
        return self._compiler

    def __getattr__(self, name: str) -> Any:
        return getattr(self._query, name)


class _Bound:
    """What Django's iterables read of a queryset, for one call of a compiled one."""

    def __init__(self, template: QuerySet[Any], compiler: SQLCompiler) -> None:
        self.model = template.model
        self.db = compiler.using
        self.query = _Query(template.query, compiler)
        self._fetch_mode = template._fetch_mode  # type: ignore[attr-defined]
        self._known_related_objects = template._known_related_objects  # type: ignore[attr-defined]
        self._fields = template._fields  # type: ignore[attr-defined]


class Compiled:
    """A queryset of a fixed shape: `build(**values)` returns it for the named values, each of
    the kind declared (`int`, `str`, `datetime` with its zone, `date`, `UUID`).

        grants_of = Compiled(
            lambda organization, student: Grant.objects.filter(
                organization_id=organization, student_id=student
            ).select_related("package"),
            organization=int,
            student=int,
        )
        grants_of.rows(organization=org.pk, student=student.pk)

    A build function receives markers, not the call's values: it must not compute with them
    (add, pick the earliest), or the statement keeps the markers' answer; whatever is derived
    from the values is a value of its own. (A comparison is caught: the second compilation's
    markers run in the reverse order.)

    A build function may call a selector that takes model instances with `stand_in`s made
    from its values (`stand_in(Organization, organization)`): their primary keys are bound.

    Values are what the ORM binds unchanged: primary keys, not model instances."""

    def __init__(self, build: Callable[..., QuerySet[Any]], **kinds: type) -> None:
        for name, kind in kinds.items():
            if kind not in KINDS:
                raise TypeError(f"{name}: a compiled value is one of {KINDS}, not {kind}")
        self.build, self.kinds = build, kinds
        self._shapes: dict[str, tuple[QuerySet[Any], _Shape]] = {}
        self._db: str | None = None
        self._lock = threading.Lock()

    # The two paths ----------------------------------------------------------------------

    def queryset(self, **values: Any) -> QuerySet[Any]:
        """The ORM's queryset for these values (what `rows` returns the rows of)."""
        return self.build(**values)

    def rows(self, **values: Any) -> list[Any]:
        """The queryset's rows for `values`, from the SQL compiled once."""
        (rows,) = together((self, values))
        return rows

    def _orm_rows(self, values: dict[str, Any]) -> list[Any]:
        self._check(values)
        return list(self.queryset(**values))

    def count(self, **values: Any) -> int:
        """How many rows the queryset has for `values` (`QuerySet.count()`): the compiled
        statement counted, `SELECT COUNT(*) FROM (…)`, as Django counts a sliced queryset."""
        self._check(values)
        alias = self._alias()
        if not available(alias):
            return self.queryset(**values).count()
        _, shape = self._shape(alias)
        params = shape.bound(values)
        ((count,),) = prebuilt.fetch(f"SELECT COUNT(*) FROM ({shape.sql}) subquery", params)  # noqa: S608
        return int(count)

    def count_statement(self, **values: Any) -> tuple[str, list[Any]]:
        """`count`'s statement and parameters, for `together` (PostgreSQL only)."""
        self._check(values)
        _, shape = self._shape(self._alias())
        return f"SELECT COUNT(*) FROM ({shape.sql}) subquery", shape.bound(values)  # noqa: S608

    def sql(self) -> str:
        """The compiled statement (PostgreSQL), for tests and `EXPLAIN`."""
        return self._shape(self._alias())[1].sql

    # Compiling --------------------------------------------------------------------------

    def _check(self, values: dict[str, Any]) -> None:
        if values.keys() != self.kinds.keys():
            raise TypeError(f"expected the values {sorted(self.kinds)}, got {sorted(values)}")
        for name, value in values.items():
            kind = self.kinds[name]
            if kind is Rows:
                if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                    raise TypeError(f"{name}: a number of rows (an int of 0 or more)")
                continue
            if kind is date and isinstance(value, datetime):
                raise TypeError(f"{name}: a date, not a datetime")
            if not isinstance(value, kind) or isinstance(value, bool):
                raise TypeError(f"{name}: expected {kind.__name__}, got {type(value).__name__}")
            if isinstance(value, datetime) and value.tzinfo is None:
                raise TypeError(f"{name}: a datetime with its time zone")

    def _alias(self) -> str:
        if self._db is None:
            self._db = str(self.build(**self._markers(0)).db)
        return self._db

    def _markers(self, variant: int) -> dict[str, Any]:
        """The values of one compilation. The second's run in the reverse order of the first's,
        so a build function that compares its values (the earliest of two moments) compiles
        differently the second time and is refused."""
        last = len(self.kinds) - 1
        return {
            name: _marker(kind, last - n if variant else n, variant)
            for n, (name, kind) in enumerate(self.kinds.items())
        }

    def _shape(self, alias: str) -> tuple[QuerySet[Any], _Shape]:
        found = self._shapes.get(alias)
        if found is None:
            with self._lock:
                found = self._shapes.get(alias) or self._compile()
                self._shapes[alias] = found
        return found

    def _compile(self) -> tuple[QuerySet[Any], _Shape]:
        first, second = self._markers(0), self._markers(1)
        template = self.build(**first)
        if template._prefetch_related_lookups:  # type: ignore[attr-defined]
            raise NotCompilable("prefetch_related runs queries of its own")
        shape = _Shape(template, first)
        other = _Shape(self.build(**second), second)
        if VOLATILE.search(shape.sql):
            raise NotCompilable(f"its SQL varies from run to run: {shape.sql}")
        if shape.sql != other.sql:
            raise NotCompilable("its SQL depends on the values")
        if len(shape.params) != len(other.params) or shape.places != other.places:
            raise NotCompilable("its parameters depend on the values")
        placed = {i for i, _ in shape.places}
        for i, (a, b) in enumerate(zip(shape.params, other.params, strict=True)):
            if i not in placed and not _same(a, b):
                raise NotCompilable(f"its parameter {i} changes between builds ({a!r}, {b!r})")
        missing = set(self.kinds) - {name for _, name in shape.places}
        if missing:
            raise NotCompilable(f"the values {sorted(missing)} are not bound as given")
        shape.write_fixed_values(connections[self._alias()])
        return template, shape


def together(*calls: tuple[Compiled | str, Any]) -> list[list[Any]]:
    """The rows of several compiled statements, each `(compiled, values)`, in one round trip
    (`prebuilt.send_together`, each prepared on the connection): what a page reads at once,
    none of the statements depending on another's rows. Each list is what `rows` returns. A
    call may also be a statement of the caller's own, `(sql, params)`, whose rows come back as
    tuples (PostgreSQL only: its caller reads it some other way elsewhere).

    Each statement is sent prepared (`PREPARE` the first time on a connection, `EXECUTE`
    after), so PostgreSQL parses it once per connection and, once its generic plan costs no
    more than a custom one, plans it once too. Off PostgreSQL, each queryset runs in turn."""
    if not available(DEFAULT_DB_ALIAS):
        assert all(isinstance(c, Compiled) for c, _ in calls), "a statement of PostgreSQL's"
        return [compiled._orm_rows(values) for compiled, values in calls]  # type: ignore[union-attr]
    statements: list[tuple[QuerySet[Any] | None, _Shape | None, str, list[Any]]] = []
    for compiled, values in calls:
        if isinstance(compiled, str):
            statements.append((None, None, compiled, list(values)))
            continue
        alias = compiled._alias()
        assert alias == DEFAULT_DB_ALIAS, alias
        compiled._check(values)
        template, shape = compiled._shape(alias)
        statements.append((template, shape, shape.sql, shape.bound(values)))
    fetched = prebuilt.send_together([(sql, params) for _, _, sql, params in statements])
    return [
        found
        if shape is None or template is None
        else _instances(template, shape, params, found, DEFAULT_DB_ALIAS)
        for (template, shape, _, params), found in zip(statements, fetched, strict=True)
    ]


def _instances(
    template: QuerySet[Any], shape: _Shape, params: list[Any], found: list[Any], alias: str
) -> list[Any]:
    """What the queryset would return for the rows `found` of its statement: Django's own
    iterable (models with their `select_related` rows and annotations, dicts or tuples) run on
    a copy of the compiled compiler that hands it these rows."""
    compiler = copy.copy(shape.compiler)
    # The compiler keeps the connection of the thread that compiled it: each call runs on
    # its own thread's.
    compiler.connection = connections[alias]
    sql = shape.sql
    compiler.as_sql = lambda *args, **kwargs: (sql, tuple(params))  # type: ignore[method-assign]
    compiler.execute_sql = functools.partial(_fetched, compiler, found)  # type: ignore[method-assign]
    iterable_class: Any = template._iterable_class
    return list(iterable_class(_Bound(template, compiler)))


def _fetched(
    compiler: SQLCompiler,
    rows: list[Any],
    result_type: str = MULTI,
    chunked_fetch: bool = False,
    chunk_size: int = GET_ITERATOR_CHUNK_SIZE,
) -> Any:
    """`SQLCompiler.execute_sql` for rows already fetched: as the compiler's own would return
    them (a list of one chunk; a single row cut to the selected columns)."""
    assert result_type in (MULTI, SINGLE), result_type
    if result_type == SINGLE:
        return rows[0][: compiler.col_count] if rows else None
    if compiler.has_extra_select:
        rows = [row[: compiler.col_count] for row in rows]
    return [rows]


def stand_in[M: Model](model: type[M], pk: int, **fields: Any) -> M:
    """An instance of `model` with primary key `pk` (and `fields`), not read from the
    database: what a build function hands to a selector that takes model instances, so the
    compiled statement is the selector's own (one definition of each read)."""
    instance = model(pk=pk, **fields)
    instance._state.adding = False
    return instance


def available(alias: str = "default") -> bool:
    """Whether compiled statements run on this database: PostgreSQL with client-side binding
    (with server-side binding, psycopg prepares statements itself)."""
    connection = connections[alias]
    options = connection.settings_dict.get("OPTIONS", {})
    return connection.vendor == "postgresql" and not options.get("server_side_binding")
