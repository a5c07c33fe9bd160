"""The posting engine every ledger write goes through: the errors it raises, the retry on
PostgreSQL conflicts, row locks (grants by id, then allocations: one order everywhere, so
concurrent writers queue instead of deadlocking) and `Posting`, which applies one operation's
entries to the locked rows and writes the `GrantEntry` rows that explain them.

Callers pass relationship and session objects in; this package never imports those apps.
"""

from __future__ import annotations

import functools
import random
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final, Protocol

from django.db import (
    DEFAULT_DB_ALIAS,
    IntegrityError,
    OperationalError,
    connection,
    connections,
    transaction,
)
from django.db.models import Field, Model, Q, QuerySet
from django.utils import timezone

from grants import balances
from grants.models import Allocation, Grant, GrantEntry
from matchpal import prebuilt
from matchpal.constraints import violated_constraint
from matchpal.errors import DomainError

if TYPE_CHECKING:
    from matchpal.models import Organization, User


class RelationshipLike(Protocol):
    pk: int
    organization_id: int
    student_id: int
    service_type_id: int
    unit: str

    # The session services lock the relationship with its organization (`select_related`), so
    # the ledger reads the organization's time zone from it without a query of its own.
    @property
    def organization(self) -> Organization: ...


class SessionLike(Protocol):
    pk: int
    organization_id: int


class LedgerError(DomainError):
    """A ledger rule refused the change."""


class InsufficientHours(LedgerError):
    def __init__(self, message: str, *, shortfall: int) -> None:
        super().__init__(message)
        self.shortfall = shortfall


class AlreadyApplied(LedgerError):
    """The same request (idempotency key) was applied before; nothing changed this time."""

    def __init__(self) -> None:
        super().__init__("This was already applied; nothing changed.")


RETRYABLE_SQLSTATES = {"40001", "40P01"}  # serialization failure, deadlock detected
MAX_ATTEMPTS = 4
# Before attempt n+1, wait a random time up to n × this. Retrying at once can take the first
# row back before the transaction that won the conflict (woken by the abort) gets it, and form
# the same cycle again; a short, jittered pause lets the winner through.
RETRY_PAUSE_SECONDS = 0.02


def retry_on_conflict[**P, R](fn: Callable[P, R]) -> Callable[P, R]:
    """Run `fn` again (a bounded number of times) when PostgreSQL aborts it for a conflict."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        if transaction.get_connection().in_atomic_block:
            # Inside a caller's transaction a conflict aborts the caller's work too: only the
            # outermost transaction can be retried, so let the error go up to it.
            return fn(*args, **kwargs)
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                return fn(*args, **kwargs)
            except OperationalError as exc:
                sqlstate = getattr(exc.__cause__, "sqlstate", None)
                if sqlstate not in RETRYABLE_SQLSTATES or attempt == MAX_ATTEMPTS:
                    raise
                time.sleep(random.uniform(0, attempt * RETRY_PAUSE_SECONDS))
        raise AssertionError("unreachable")

    return wrapper


def check_positive(quantity: int, what: str = "The quantity") -> None:
    if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity <= 0:
        raise LedgerError(f"{what} must be a whole number above zero.")


@dataclass
class _Entry:
    grant: Grant
    kind: str
    total: int = 0
    used: int = 0
    held: int = 0
    usable: int = 0
    allocation: Allocation | None = None
    relationship_id: int | None = None


def _usable(grant: Grant) -> int:
    """What the grant adds to the student's usable balance (see `GrantEntry.usable_delta`)."""
    return grant.usable_now


class Posting:
    """The entries of one operation: applies them to the locked rows and writes them."""

    def __init__(
        self,
        *,
        actor: User | None,
        reason: str = "",
        idempotency_key: str | None,
        relationship: RelationshipLike | None = None,
        session: SessionLike | None = None,
    ) -> None:
        self.actor = actor
        self.reason = reason.strip()
        self.key = idempotency_key or None
        self.relationship = relationship
        self.session = session
        self.entries: list[_Entry] = []

    def add(
        self,
        grant: Grant,
        kind: str,
        *,
        total: int = 0,
        used: int = 0,
        held: int = 0,
        allocation: Allocation | None = None,
        relationship_id: int | None = None,
        status: str | None = None,
    ) -> None:
        """One entry on a locked grant. A status change goes through here too (`status`), so
        the entry records what it did to the student's usable balance."""
        before = _usable(grant)
        grant.total += total
        grant.used += used
        grant.held += held
        if status is not None:
            grant.status = status
        usable = _usable(grant) - before
        if allocation is not None:
            allocation.held += held
            allocation.consumed += used
        if relationship_id is None and self.relationship is not None:
            relationship_id = self.relationship.pk
        self.entries.append(
            _Entry(grant, kind, total, used, held, usable, allocation, relationship_id)
        )

    def write(self) -> list[GrantEntry]:
        """Insert the entries, then update every grant and allocation they changed: three
        statements whatever the number of rows (`bulk_update`), on rows already locked."""
        now = timezone.now()
        grants = {id(e.grant): e.grant for e in self.entries}
        allocations = {id(e.allocation): e.allocation for e in self.entries if e.allocation}
        rows = [
            GrantEntry(
                organization_id=e.grant.organization_id,
                grant=e.grant,
                allocation=e.allocation,
                kind=e.kind,
                total_delta=e.total,
                used_delta=e.used,
                held_delta=e.held,
                usable_delta=e.usable,
                relationship_id=e.relationship_id,
                session_id=self.session.pk if self.session else None,
                actor=self.actor,
                reason=self.reason,
                created_at=now,
                idempotency_key=(
                    None if self.key is None else self.key if n == 0 else f"{self.key}:{n + 1}"
                ),
            )
            for n, e in enumerate(self.entries)
        ]
        grant_rows, allocation_rows = list(grants.values()), list(allocations.values())
        # The students' summaries change by the entries' usable deltas (`StudentBalance`).
        changes = balances.changes_of((e.grant, e.usable) for e in self.entries)
        if self.key is None and connection.vendor == "postgresql":
            return _write_at_once(rows, grant_rows, allocation_rows, changes)
        created = self._insert(rows)
        _update(Grant, grant_rows, GRANT_BALANCES)
        _update(Allocation, allocation_rows, ALLOCATION_BALANCES)
        balances.apply(changes)
        return created

    def _insert(self, rows: list[GrantEntry]) -> list[GrantEntry]:
        """With an idempotency key the insert may meet its unique constraint, which callers
        may survive (fulfilment goes on with the order's other lines), so it runs in a
        savepoint and the conflict becomes `AlreadyApplied`. Without a key nothing here can
        fail but a broken invariant, which aborts the caller's transaction anyway: no
        savepoint, two statements fewer."""
        if self.key is None:
            return GrantEntry.objects.bulk_create(rows)
        try:
            with transaction.atomic():
                return GrantEntry.objects.bulk_create(rows)
        except IntegrityError as exc:
            if violated_constraint(exc) == "grant_entry_idempotency_key_unique":
                raise AlreadyApplied from exc
            raise


GRANT_BALANCES: Final = ["total", "used", "held", "status", "expires_at"]
ALLOCATION_BALANCES: Final = ["held", "consumed"]


def _fields(model: type[Model], names: Sequence[str]) -> list[Field[Any, Any]]:
    by_name = {f.name: f for f in model._meta.concrete_fields}
    return [by_name[name] for name in names]


def _column(field: Field[Any, Any]) -> str:
    return connection.ops.quote_name(str(field.column))


@dataclass(frozen=True)
class _Shape:
    """The text `_write_at_once` writes for one model's fields, worked out once per process:
    the same for every posting, only the number of rows and the values vary. Every value is
    cast to its column's type (`row`): in a `FROM (VALUES …)` a column of NULLs would
    otherwise be text."""

    fields: list[Field[Any, Any]]
    row: str  # `(%s::type, …)`
    columns: list[str]
    table: str


@functools.cache
def _shape(model: type[Model], names: tuple[str, ...] | None = None) -> _Shape:
    """The shape of `names` (every concrete field but the primary key when None)."""
    if names is None:
        fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    else:
        fields = _fields(model, names)
    cast = ", ".join(f"%s::{f.db_type(connection)}" for f in fields)
    return _Shape(
        fields=fields,
        row=f"({cast})",
        columns=[_column(f) for f in fields],
        table=connection.ops.quote_name(model._meta.db_table),
    )


def _values(rows: Sequence[Model], fields: list[Field[Any, Any]]) -> list[Any]:
    """The rows' values of `fields`, prepared as the ORM prepares them for a save."""
    db = connections[DEFAULT_DB_ALIAS]  # the connection itself, looked up once
    params: list[Any] = []
    for row in rows:
        params += [f.get_db_prep_save(getattr(row, f.attname), db) for f in fields]
    return params


def _update_sql(
    model: type[Model], rows: Sequence[Model], names: Sequence[str]
) -> tuple[str, list[Any]]:
    """`UPDATE table SET col = v.col, … FROM (VALUES …) WHERE id = v.id`: every row at once."""
    shape = _shape(model, ("id", *names))
    tuples, params = ", ".join([shape.row] * len(rows)), _values(rows, shape.fields)
    columns = shape.columns
    sets = ", ".join(f"{c} = v.{c}" for c in columns[1:])
    # Only the models' own table and column names, quoted, go into the text; values are
    # parameters.
    sql = f"UPDATE {shape.table} AS t SET {sets} FROM (VALUES {tuples}) AS v({', '.join(columns)}) "  # noqa: S608
    return sql + f"WHERE t.{columns[0]} = v.{columns[0]}", params


def _write_at_once(
    entries: list[GrantEntry],
    grants: list[Grant],
    allocations: list[Allocation],
    changes: list[tuple[int, int, str, int]],
) -> list[GrantEntry]:
    """On PostgreSQL, a posting without an idempotency key is one statement: the grants' and
    allocations' `UPDATE`s and the students' summaries' upsert as data-modifying CTEs of the
    entries' `INSERT`. One round trip instead of four, on rows already locked; the CHECK
    constraints, foreign keys and triggers hold as for four statements (each runs to
    completion; the deferred ones wait for the commit)."""
    shape = _shape(GrantEntry)
    tuples, params = ", ".join([shape.row] * len(entries)), _values(entries, shape.fields)
    ctes: list[str] = []
    cte_params: list[Any] = []
    if grants:
        sql, values = _update_sql(Grant, grants, GRANT_BALANCES)
        ctes.append(f"grants AS ({sql})")
        cte_params += values
    if allocations:
        sql, values = _update_sql(Allocation, allocations, ALLOCATION_BALANCES)
        ctes.append(f"allocations AS ({sql})")
        cte_params += values
    if changes:
        sql, values = balances.upsert_sql(changes)
        ctes.append(f"balances AS ({sql})")
        cte_params += values
    insert = f"INSERT INTO {shape.table} ({', '.join(shape.columns)}) VALUES {tuples} RETURNING id"  # noqa: S608 (as above)
    sql = (f"WITH {', '.join(ctes)} " if ctes else "") + insert
    if prebuilt.available():
        # Prepared once per connection and shape (the number of entries, grants, allocations
        # and students' rows): a session's posting is nearly always one of each.
        (found,) = prebuilt.send_together([(sql, cte_params + params)])
    else:
        with connection.cursor() as cursor:
            cursor.execute(sql, cte_params + params)
            found = cursor.fetchall()
    ids = [row[0] for row in found]
    for entry, pk in zip(entries, ids, strict=True):
        entry.pk = pk
        entry._state.adding, entry._state.db = False, connection.alias
    return entries


def _update[M: (Grant, Allocation)](model: type[M], rows: list[M], fields: list[str]) -> None:
    """One UPDATE for all the rows: a plain one for a single row (the common case, a session
    on one grant), `bulk_update`'s CASE per column for several."""
    if len(rows) == 1:
        rows[0].save(update_fields=fields)
    elif rows:
        model.objects.bulk_update(rows, fields)


def ensure_new_key(key: str | None) -> None:
    # A fast path only: the unique constraint on the key is what guarantees "once".
    if key and GrantEntry.objects.filter(idempotency_key=key).exists():
        raise AlreadyApplied


def lock_grants(
    ids: Iterable[int] | QuerySet[Any, int] = (), *, also: QuerySet[Grant] | None = None
) -> dict[int, Grant]:
    """Lock the grants `ids` (and those of `also`) in id order; returns them by id. `ids` may
    be a query of grant ids (`values_list`): it runs inside the locking statement as a
    subquery, one round trip instead of two."""
    condition = Q(pk__in=ids if isinstance(ids, QuerySet) else list(ids))
    if also is not None:
        condition |= Q(pk__in=also.values("pk"))
    locked = Grant.objects.select_for_update(of=("self",)).filter(condition).order_by("pk")
    return {g.pk: g for g in locked}


def soonest_expiry_first(grants: Iterable[Grant]) -> list[Grant]:
    far = datetime.max.replace(tzinfo=UTC)
    return sorted(grants, key=lambda g: (g.expires_at or far, g.pk))
