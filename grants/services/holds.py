"""Holds and consumption: a relationship reserves hours (`hold`), gives them back
(`release`), its sessions consume them (`consume`) and a cancelled or shortened session gives
back exactly what it took (`restore`)."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from grants.models import Allocation, EntryKind, Grant, GrantEntry, end_of_day
from grants.selectors import consumed_for_session
from grants.services.posting import (
    InsufficientHours,
    LedgerError,
    Posting,
    RelationshipLike,
    SessionLike,
    check_positive,
    ensure_new_key,
    lock_grants,
    retry_on_conflict,
    soonest_expiry_first,
)
from matchpal import prebuilt
from matchpal.quantities import format_quantity

if TYPE_CHECKING:
    from matchpal.models import User


def _usable_grants(
    relationship: RelationshipLike, at: datetime, valid_by: datetime | None = None
) -> QuerySet[Grant]:
    """The student's usable grants that the relationship may hold and consume: its unit,
    covering its service type."""
    return Grant.objects.usable(at=at, valid_by=valid_by).filter(
        organization_id=relationship.organization_id,
        student_id=relationship.student_id,
        unit=relationship.unit,
        grantservicetype__service_type_id=relationship.service_type_id,
    )


def _allocations_of(relationship: RelationshipLike) -> dict[int, Allocation]:
    return {
        a.grant_id: a
        for a in Allocation.objects.select_for_update()
        .filter(relationship_id=relationship.pk)
        .order_by("pk")
    }


def _allocation_for(
    relationship: RelationshipLike, grant: Grant, allocations: dict[int, Allocation]
) -> Allocation:
    """The relationship's allocation on `grant`, made (and added to `allocations`) if none."""
    allocation = allocations.get(grant.pk)
    if allocation is None:
        allocation = Allocation.objects.create(
            organization_id=relationship.organization_id,
            relationship_id=relationship.pk,
            grant=grant,
        )
        allocations[grant.pk] = allocation
    return allocation


@retry_on_conflict
def hold(
    *,
    actor: User | None,
    relationship: RelationshipLike,
    quantity: int,
    reason: str = "",
    idempotency_key: str | None = None,
) -> int:
    """Reserve `quantity` for the relationship from the student's grants covering its service
    type, soonest expiry first, across as many grants as it takes. All or nothing."""
    check_positive(quantity)
    now = timezone.now()
    with transaction.atomic():
        ensure_new_key(idempotency_key)
        grants = lock_grants(_usable_grants(relationship, now).values_list("pk", flat=True))
        # Re-check after locking: another transaction may have expired one meanwhile.
        usable = [g for g in soonest_expiry_first(grants.values()) if g.is_usable(now)]
        available = sum(max(g.available, 0) for g in usable)
        if available < quantity:
            raise InsufficientHours(
                f"Only {format_quantity(available, relationship.unit)} are free to book for this "
                f"service; reserving {format_quantity(quantity, relationship.unit)} needs "
                f"{format_quantity(quantity - available, relationship.unit)} more.",
                shortfall=quantity - available,
            )
        allocations = _allocations_of(relationship)
        posting = Posting(
            actor=actor, reason=reason, idempotency_key=idempotency_key, relationship=relationship
        )
        remaining = quantity
        for grant in usable:
            take = min(remaining, grant.available)
            if take <= 0:
                continue
            allocation = _allocation_for(relationship, grant, allocations)
            posting.add(grant, EntryKind.HOLD, held=take, allocation=allocation)
            remaining -= take
            if remaining == 0:
                break
        posting.write()
    return quantity


@retry_on_conflict
def release(
    *,
    actor: User | None,
    relationship: RelationshipLike,
    quantity: int | None = None,
    reason: str = "",
    idempotency_key: str | None = None,
) -> int:
    """Give back all (`quantity=None`) or part of what the relationship holds. The hold on the
    latest-expiring grant goes first, so the hours that expire soonest stay reserved."""
    if quantity is not None:
        check_positive(quantity)
    with transaction.atomic():
        ensure_new_key(idempotency_key)
        grant_ids = Allocation.objects.filter(
            relationship_id=relationship.pk, held__gt=0
        ).values_list("grant_id", flat=True)
        grants = lock_grants(ids=grant_ids)
        allocations = _allocations_of(relationship)
        holding = [
            allocations[g.pk]
            for g in reversed(soonest_expiry_first(grants.values()))
            if g.pk in allocations and allocations[g.pk].held > 0
        ]
        total_held = sum(a.held for a in holding)
        wanted = total_held if quantity is None else quantity
        if wanted > total_held:
            raise LedgerError(
                f"This relationship holds only {format_quantity(total_held, relationship.unit)}; "
                f"it cannot release {format_quantity(wanted, relationship.unit)}."
            )
        posting = Posting(
            actor=actor, reason=reason, idempotency_key=idempotency_key, relationship=relationship
        )
        remaining = wanted
        for allocation in holding:
            take = min(remaining, allocation.held)
            if take <= 0:
                break
            posting.add(
                grants[allocation.grant_id], EntryKind.RELEASE, held=-take, allocation=allocation
            )
            remaining -= take
        if posting.entries:
            posting.write()
    return wanted


# --- Sessions ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Consumption:
    grant_id: int
    quantity: int
    from_hold: bool


@retry_on_conflict
def consume(
    *,
    actor: User | None,
    relationship: RelationshipLike,
    session: SessionLike,
    quantity: int,
    at: datetime,
    draw_shortfall: bool = False,
    idempotency_key: str | None = None,
    first: prebuilt.Statement | None = None,
) -> list[Consumption]:
    """Consume `quantity` for a session held at `at`.

    First from the relationship's holds on grants valid on the session's date (already valid
    that day, in the organization's time zone, and not expired at `at`), soonest expiry first;
    when those are short, `draw_shortfall` (the organization's policy) decides: refuse, or draw
    the rest from the student's available balance on grants covering the service. What came
    from which grant is recorded on the ledger, so `restore` gives back exactly that.

    `first`: the caller's statement (the new session's `INSERT`) to run before the locks, sent
    in their round trip when they go together (`_lock_held`).
    """
    check_positive(quantity)
    # "Valid on the session's date": a grant bought later that day covers a morning session.
    day_end = end_of_day(at, relationship.organization.tz)
    # Joining the caller's transaction (the session's), without a savepoint of its own: every
    # refusal is decided before anything is written and raised once the block is left, so a
    # caller may ask again for less (`sessions_app.services._charge`). Only an idempotency key
    # can be refused inside (`AlreadyApplied`); then a savepoint keeps the caller's work.
    with transaction.atomic(savepoint=idempotency_key is not None):
        ensure_new_key(idempotency_key)
        valid, allocations = _lock_for_session(relationship, at, day_end, draw_shortfall, first)
        short = _shortfall(relationship, valid, allocations, quantity, draw_shortfall)
        if short is None:
            posting = Posting(
                actor=actor,
                idempotency_key=idempotency_key,
                relationship=relationship,
                session=session,
            )
            result = _take_from_holds(posting, valid, allocations, quantity)
            remaining = quantity - sum(c.quantity for c in result)
            if remaining:
                result += _draw_from_available(posting, relationship, valid, allocations, remaining)
            posting.reason = (
                "Drawn from the hours free to book" if any(not c.from_hold for c in result) else ""
            )
            posting.write()
    if short is not None:
        raise short
    return result


def _lock_for_session(
    relationship: RelationshipLike,
    at: datetime,
    day_end: datetime,
    draw_shortfall: bool,
    first: prebuilt.Statement | None = None,
) -> tuple[list[Grant], dict[int, Allocation]]:
    """Lock the grants the relationship holds on (and, when a shortfall may be drawn, the
    student's usable grants it may draw from), then its allocations. Returns the grants valid on
    the session's date, soonest expiry first, and the allocations by grant id."""
    if draw_shortfall or not prebuilt.available():
        if first is not None:
            first.run()
        # One statement: the held grants' ids are a subquery of the lock.
        held_ids = Allocation.objects.filter(relationship_id=relationship.pk).values_list(
            "grant_id", flat=True
        )
        drawable = _usable_grants(relationship, at, day_end) if draw_shortfall else None
        grants = lock_grants(held_ids, also=drawable)
        allocations = _allocations_of(relationship)
    else:
        grants, allocations = _lock_held(relationship.pk, first)
    valid = [g for g in soonest_expiry_first(grants.values()) if g.is_usable(at, valid_by=day_end)]
    return valid, allocations


@functools.cache
def _held_locks() -> tuple[str, prebuilt.Rows, str, prebuilt.Rows]:
    """`_lock_for_session`'s two locks without a shortfall to draw, written once: the grants
    the relationship holds on (`lock_grants` of the allocations' grant ids), then its
    allocations (`_allocations_of`), column for column (tests/matchpal/test_prebuilt.py runs
    them beside the ORM's)."""
    grant, allocation = prebuilt.table(Grant), prebuilt.table(Allocation)
    grant_rows = prebuilt.Rows([prebuilt.Part(Grant, Grant._meta.db_table)])
    allocation_rows = prebuilt.Rows([prebuilt.Part(Allocation, Allocation._meta.db_table)])
    pk, grant_id, relationship_id = (
        prebuilt.quote(c) for c in ("id", "grant_id", "relationship_id")
    )
    # Only the models' table and column names, quoted, go into the text; the id is a parameter.
    grants_sql = (
        f"SELECT {grant_rows.select_list()} FROM {grant} "  # noqa: S608
        f"WHERE {grant}.{pk} IN (SELECT {grant_id} FROM {allocation} "
        f"WHERE {relationship_id} = %s) ORDER BY {grant}.{pk} ASC FOR UPDATE OF {grant}"
    )
    allocations_sql = (
        f"SELECT {allocation_rows.select_list()} FROM {allocation} "  # noqa: S608
        f"WHERE {allocation}.{relationship_id} = %s ORDER BY {allocation}.{pk} ASC FOR UPDATE"
    )
    return grants_sql, grant_rows, allocations_sql, allocation_rows


def _lock_held(
    relationship_id: int, first: prebuilt.Statement | None = None
) -> tuple[dict[int, Grant], dict[int, Allocation]]:
    """The grants, by id, then the allocations: two statements in one round trip, each run to
    completion before the next, so the lock order is the one of every ledger write. The
    caller's `first` statement goes before them in the same round trip; if it fails (a
    constraint), the locks are not taken and its error is raised."""
    grants_sql, grant_rows, allocations_sql, allocation_rows = _held_locks()
    statements: list[tuple[str, Sequence[Any]]] = [
        (grants_sql, [relationship_id]),
        (allocations_sql, [relationship_id]),
    ]
    if first is not None:
        statements.insert(0, (first.sql, first.params))
    results = prebuilt.send_together(statements)
    if first is not None:
        first.then(results.pop(0))
    found_grants, found_allocations = results
    grants: dict[int, Grant] = {}
    for row in found_grants:
        (grant,) = grant_rows.instances(row)
        assert isinstance(grant, Grant)
        grants[grant.pk] = grant
    allocations: dict[int, Allocation] = {}
    for row in found_allocations:
        (held,) = allocation_rows.instances(row)
        assert isinstance(held, Allocation)
        allocations[held.grant_id] = held
    return grants, allocations


def _shortfall(
    relationship: RelationshipLike,
    valid: list[Grant],
    allocations: dict[int, Allocation],
    quantity: int,
    draw_shortfall: bool,
) -> InsufficientHours | None:
    """The refusal, with the shortfall, when the holds (and the balance that may be drawn)
    fall short of `quantity`; None when they cover it."""
    unit = relationship.unit
    on_hold = sum(allocations[g.pk].held for g in valid if g.pk in allocations)
    drawable = sum(max(g.available, 0) for g in valid) if draw_shortfall else 0
    if on_hold + drawable >= quantity:
        return None
    if draw_shortfall:
        message = (
            f"The relationship's reserved hours and the student's hours free to book cover "
            f"{format_quantity(on_hold + drawable, unit)}; "
            f"the session needs {format_quantity(quantity, unit)}."
        )
    else:
        message = (
            f"Only {format_quantity(on_hold, unit)} are reserved for this relationship; "
            f"the session needs {format_quantity(quantity, unit)}."
        )
    return InsufficientHours(message, shortfall=quantity - on_hold - drawable)


def _take_from_holds(
    posting: Posting, valid: list[Grant], allocations: dict[int, Allocation], quantity: int
) -> list[Consumption]:
    """Consume up to `quantity` out of the relationship's holds, soonest expiry first."""
    result: list[Consumption] = []
    remaining = quantity
    for grant in valid:
        allocation = allocations.get(grant.pk)
        take = min(remaining, allocation.held) if allocation else 0
        if take > 0:
            posting.add(grant, EntryKind.CONSUME, used=take, held=-take, allocation=allocation)
            result.append(Consumption(grant.pk, take, True))
            remaining -= take
        if remaining == 0:
            break
    return result


def _draw_from_available(
    posting: Posting,
    relationship: RelationshipLike,
    valid: list[Grant],
    allocations: dict[int, Allocation],
    quantity: int,
) -> list[Consumption]:
    """Consume `quantity` out of the available balance of the valid grants, soonest expiry
    first, recorded on the relationship's allocations (made where it had none)."""
    result: list[Consumption] = []
    remaining = quantity
    for grant in valid:
        take = min(remaining, max(grant.available, 0))
        if take <= 0:
            continue
        allocation = _allocation_for(relationship, grant, allocations)
        posting.add(grant, EntryKind.CONSUME, used=take, allocation=allocation)
        result.append(Consumption(grant.pk, take, False))
        remaining -= take
        if remaining == 0:
            break
    return result


@dataclass
class _Piece:
    quantity: int
    from_hold: bool


class _SessionConsumption:
    """What a session consumed, per grant a stack of pieces with the last consumed on top.

    A restore gives back from the top, so minutes drawn from the available balance (consumed
    after the hold ran out) come back before those that came out of the hold."""

    def __init__(self) -> None:
        self.pieces: dict[int, list[_Piece]] = {}
        self.last_consumed: dict[int, int] = {}  # grant id → its latest consume entry

    @classmethod
    def read(cls, session: SessionLike) -> _SessionConsumption:
        consumed = cls()
        rows = (
            GrantEntry.objects.filter(session_id=session.pk, allocation__isnull=False)
            .order_by("pk")
            .values_list("pk", "grant_id", "kind", "used_delta", "held_delta")
        )
        for pk, grant_id, kind, used, held in rows:
            if kind == EntryKind.CONSUME:
                consumed.pieces.setdefault(grant_id, []).append(_Piece(used, held < 0))
                consumed.last_consumed[grant_id] = pk
            elif used:
                consumed.give_back(grant_id, -used)
        return consumed

    @property
    def net(self) -> dict[int, int]:
        net = {g: sum(p.quantity for p in pieces) for g, pieces in self.pieces.items()}
        return {g: n for g, n in net.items() if n}

    def give_back(self, grant_id: int, quantity: int) -> int:
        """Take `quantity` off the top of the grant's stack; returns how much of it came from
        the hold."""
        pieces, from_hold = self.pieces[grant_id], 0
        while quantity:
            top = pieces[-1]
            take = min(quantity, top.quantity)
            top.quantity -= take
            quantity -= take
            from_hold += take if top.from_hold else 0
            if top.quantity == 0:
                pieces.pop()
        return from_hold


@retry_on_conflict
def restore(
    *,
    actor: User | None,
    relationship: RelationshipLike,
    session: SessionLike,
    quantity: int | None = None,
    to_hold: bool = True,
    reason: str = "",
    idempotency_key: str | None = None,
) -> int:
    """Give back what a session consumed: all of it (`quantity=None`, a cancellation) or part
    (a shortened session), to exactly the grants it came from, the last consumed first.

    With `to_hold` (the relationship still runs) the hours that came out of its hold return to
    it where the grant is still usable; hours drawn from the available balance, or restored
    with `to_hold=False` or to an expired grant, return to the grant's balance.
    """
    if quantity is not None:
        check_positive(quantity)
    now = timezone.now()
    with transaction.atomic():
        ensure_new_key(idempotency_key)
        grants = lock_grants(ids=consumed_for_session(session=session).keys())
        allocations = _allocations_of(relationship)
        # Re-read under the locks: a concurrent restore may have committed meanwhile.
        consumed = _SessionConsumption.read(session)
        net = consumed.net
        total = sum(net.values())
        wanted = total if quantity is None else quantity
        if wanted > total:
            raise LedgerError(
                f"This session consumed {format_quantity(total, relationship.unit)}; "
                f"{format_quantity(wanted, relationship.unit)} cannot be restored."
            )
        posting = Posting(
            actor=actor,
            reason=reason,
            idempotency_key=idempotency_key,
            relationship=relationship,
            session=session,
        )
        remaining = wanted
        # The last consumed goes back first: holds are consumed soonest expiry first and any
        # shortfall is drawn after them, so the order is that of the consume entries, not of
        # the expiries.
        for grant in sorted(
            (g for g in grants.values() if g.pk in net),
            key=lambda g: consumed.last_consumed[g.pk],
            reverse=True,
        ):
            take = min(remaining, net[grant.pk])
            if take <= 0:
                continue
            from_hold = consumed.give_back(grant.pk, take)
            # Only what came out of the hold returns to it; what was drawn from the available
            # balance goes back there, or the relationship would end up holding more than it
            # reserved.
            back_to_hold = from_hold if to_hold and grant.is_usable(now) else 0
            posting.add(
                grant,
                EntryKind.RESTORE,
                used=-take,
                held=back_to_hold,
                allocation=allocations[grant.pk],
            )
            remaining -= take
            if remaining == 0:
                break
        if posting.entries:
            posting.write()
    return wanted
