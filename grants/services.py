"""Every write that changes hours. Each service runs in its own transaction, locks the rows it
changes (grants by id, then allocations: one order everywhere, so concurrent writers queue
instead of deadlocking), writes the ledger entries that explain the change, and raises a
`LedgerError` whose message is fit to show a person.

Callers pass relationship and session objects in; this module never imports those apps.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from django.db import IntegrityError, OperationalError, transaction
from django.db.models import Q, Sum
from django.utils import timezone

from grants.models import (
    GRANT_MAX_TOTAL,
    SHOP_KEY_MAX_LENGTH,
    VALIDITY_DAYS_MAX,
    Allocation,
    EntryKind,
    Grant,
    GrantEntry,
    GrantServiceType,
    GrantSource,
    GrantStatus,
    Package,
    PackageServiceType,
    PackageShopMapping,
    Unit,
    grant_too_large,
)
from matchpal.bounds import check_date
from matchpal.constraints import violated_constraint
from matchpal.errors import DomainError
from matchpal.models import Organization, ServiceType
from matchpal.quantities import format_quantity

if TYPE_CHECKING:
    from matchpal.models import User
    from students.models import Student


class RelationshipLike(Protocol):
    pk: int
    organization_id: int
    student_id: int
    service_type_id: int
    unit: str


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


ADJUST_REVOKED = "This grant was refunded in full and is revoked; add a new grant instead."
REFUND_REVOKED = "This grant was refunded in full already; nothing is left to refund."

RETRYABLE_SQLSTATES = {"40001", "40P01"}  # serialization failure, deadlock detected
MAX_ATTEMPTS = 4


def _retry_on_conflict[**P, R](fn: Callable[P, R]) -> Callable[P, R]:
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
        raise AssertionError("unreachable")

    return wrapper


def q(value: int, unit: str) -> str:
    return format_quantity(value, unit)


def _positive(quantity: int, what: str = "The quantity") -> None:
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
    return grant.available if grant.status == GrantStatus.ACTIVE else 0


class _Posting:
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
        try:
            with transaction.atomic():
                created = GrantEntry.objects.bulk_create(rows)
        except IntegrityError as exc:
            if violated_constraint(exc) == "grant_entry_idempotency_key_unique":
                raise AlreadyApplied from exc
            raise
        for grant in grants.values():
            grant.save(update_fields=["total", "used", "held", "status", "expires_at"])
        for allocation in allocations.values():
            allocation.save(update_fields=["held", "consumed"])
        return created


def _ensure_new(key: str | None) -> None:
    # A fast path only: the unique constraint on the key is what guarantees "once".
    if key and GrantEntry.objects.filter(idempotency_key=key).exists():
        raise AlreadyApplied


def _lock_grants(query: Q | None = None, ids: Iterable[int] = ()) -> dict[int, Grant]:
    condition = Q(pk__in=list(ids))
    if query is not None:
        condition |= query
    locked = Grant.objects.select_for_update(of=("self",)).filter(condition).order_by("pk")
    return {g.pk: g for g in locked}


def _past_expiry(grant: Grant, now: datetime) -> bool:
    return grant.expires_at is not None and grant.expires_at <= now


def _soonest_expiry_first(grants: Iterable[Grant]) -> list[Grant]:
    far = datetime.max.replace(tzinfo=UTC)
    return sorted(grants, key=lambda g: (g.expires_at or far, g.pk))


# --- Grants ------------------------------------------------------------------------------


@_retry_on_conflict
def grant_create(
    *,
    actor: User | None,
    student: Student,
    quantity: int,
    unit: str,
    service_types: Sequence[ServiceType],
    package: Package | None = None,
    valid_from: datetime | None = None,
    expires_at: datetime | None = None,
    source: str = GrantSource.MANUAL,
    reference: str = "",
    reason: str = "",
    idempotency_key: str | None = None,
) -> Grant:
    """Credit a student with `quantity` minutes (or sessions) of the given service types."""
    _positive(quantity)
    if unit not in Unit.values:
        raise LedgerError(f"“{unit}” is not a unit.")
    if quantity > GRANT_MAX_TOTAL[unit]:
        raise LedgerError(grant_too_large(unit), field="amount")
    if not service_types:
        raise LedgerError("Choose at least one service type the hours cover.")
    if any(st.organization_id != student.organization_id for st in service_types):
        raise LedgerError("A service type of another organization was chosen.")
    check_date(valid_from, field="valid_from", error=LedgerError)
    check_date(expires_at, field="expires_on", error=LedgerError)
    valid_from = valid_from or timezone.now()
    if expires_at is not None and expires_at <= valid_from:
        raise LedgerError("The expiry must be after the start of validity.")
    with transaction.atomic():
        _ensure_new(idempotency_key)
        grant = Grant.objects.create(
            organization_id=student.organization_id,
            student=student,
            package=package,
            unit=unit,
            valid_from=valid_from,
            expires_at=expires_at,
            source=source,
            reference=reference.strip(),
            created_by=actor,
        )
        GrantServiceType.objects.bulk_create(
            GrantServiceType(organization_id=student.organization_id, grant=grant, service_type=st)
            for st in service_types
        )
        posting = _Posting(actor=actor, reason=reason or reference, idempotency_key=idempotency_key)
        posting.add(grant, EntryKind.CREDIT, total=quantity)
        posting.write()
    return grant


def grant_from_package(
    *,
    actor: User | None,
    student: Student,
    package: Package,
    count: int = 1,
    valid_from: datetime | None = None,
    source: str = GrantSource.MANUAL,
    reference: str = "",
    reason: str = "",
    expires_at: datetime | None = None,
    idempotency_key: str | None = None,
) -> Grant:
    """Credit `count` × the package's quantity; it expires after the package's validity
    unless `expires_at` says otherwise."""
    _positive(count, "The number of packages")
    if package.organization_id != student.organization_id:
        raise LedgerError("That package belongs to another organization.")
    if package.quantity * count > GRANT_MAX_TOTAL[package.unit]:
        raise LedgerError(grant_too_large(package.unit), field="count")
    valid_from = valid_from or timezone.now()
    if expires_at is None and package.validity_days:
        expires_at = valid_from + timedelta(days=package.validity_days)
    return grant_create(
        actor=actor,
        student=student,
        quantity=package.quantity * count,
        unit=package.unit,
        service_types=list(package.service_types.all()),
        package=package,
        valid_from=valid_from,
        expires_at=expires_at,
        source=source,
        reference=reference,
        reason=reason or f"{count} × {package.name}",
        idempotency_key=idempotency_key,
    )


@_retry_on_conflict
def grant_adjust(
    *, actor: User, grant: Grant, delta: int, reason: str, idempotency_key: str | None = None
) -> Grant:
    """Raise or lower a grant's total; never below what is used and held."""
    if not isinstance(delta, int) or delta == 0:
        raise LedgerError("The adjustment must be a whole number other than zero.")
    if not reason.strip():
        raise LedgerError("Give a reason for the adjustment.")
    with transaction.atomic(durable=True):
        _ensure_new(idempotency_key)
        locked = _lock_grants(ids=[grant.pk])[grant.pk]
        if locked.status == GrantStatus.REVOKED:
            # Revoked = refunded in full: bringing it back would blur what was paid back.
            raise LedgerError(ADJUST_REVOKED)
        floor = locked.used + locked.held
        if locked.total + delta > GRANT_MAX_TOTAL[locked.unit]:
            raise LedgerError(grant_too_large(locked.unit), field="amount")
        if locked.total + delta < floor:
            raise LedgerError(
                f"This grant has {q(locked.used, locked.unit)} used and "
                f"{q(locked.held, locked.unit)} reserved, so its total cannot go below "
                f"{q(floor, locked.unit)}. Release reserved hours first."
            )
        posting = _Posting(actor=actor, reason=reason, idempotency_key=idempotency_key)
        posting.add(locked, EntryKind.ADJUST, total=delta)
        posting.write()
    return locked


@_retry_on_conflict
def grant_transfer(
    *,
    actor: User,
    from_grant: Grant,
    quantity: int,
    reason: str,
    to_grant: Grant | None = None,
    to_service_types: Sequence[ServiceType] | None = None,
    idempotency_key: str | None = None,
) -> Grant:
    """Move unused, unheld hours to another grant of the student (or a new one), atomically."""
    _positive(quantity)
    if not reason.strip():
        raise LedgerError("Give a reason for the transfer.")
    if to_grant is None and not to_service_types:
        raise LedgerError("Choose the grant, or the service types, the hours move to.")
    if to_grant is not None:
        if to_grant.pk == from_grant.pk:
            raise LedgerError("Choose a different grant to transfer to.")
        if to_grant.student_id != from_grant.student_id:
            raise LedgerError("Hours can only move between grants of the same student.")
        if to_grant.unit != from_grant.unit:
            raise LedgerError("Both grants must count the same unit (minutes or sessions).")
    with transaction.atomic(durable=True):
        _ensure_new(idempotency_key)
        # Both grants locked in id order, whichever direction the transfer goes.
        locked = _lock_grants(ids=[from_grant.pk] + ([to_grant.pk] if to_grant else []))
        source = locked[from_grant.pk]
        now = timezone.now()
        # Past its date is expired, whether or not the daily job has marked it yet.
        if source.status == GrantStatus.EXPIRED or _past_expiry(source, now):
            raise LedgerError("This grant has expired; extend it before moving its hours.")
        if source.status != GrantStatus.ACTIVE:
            raise LedgerError("This grant is revoked; its hours cannot move.")
        if quantity > source.available:
            raise InsufficientHours(
                f"Only {q(max(source.available, 0), source.unit)} of this grant are free to "
                f"book; release reserved hours first to transfer more.",
                shortfall=quantity - max(source.available, 0),
            )
        if to_grant is not None:
            target = locked[to_grant.pk]
            if target.status != GrantStatus.ACTIVE or _past_expiry(target, now):
                raise LedgerError("The grant receiving the hours is not active.")
        else:
            types = list(to_service_types or [])
            if any(st.organization_id != source.organization_id for st in types):
                raise LedgerError("A service type of another organization was chosen.")
            target = Grant.objects.create(
                organization_id=source.organization_id,
                student_id=source.student_id,
                unit=source.unit,
                valid_from=source.valid_from,
                expires_at=source.expires_at,
                source=GrantSource.TRANSFER,
                reference=f"Transfer from {source.reference or 'grant'}"[:200],
                created_by=actor,
            )
            GrantServiceType.objects.bulk_create(
                GrantServiceType(
                    organization_id=source.organization_id, grant=target, service_type=st
                )
                for st in types
            )
        posting = _Posting(actor=actor, reason=reason, idempotency_key=idempotency_key)
        posting.add(source, EntryKind.TRANSFER_OUT, total=-quantity)
        posting.add(target, EntryKind.TRANSFER_IN, total=quantity)
        posting.write()
    return target


@_retry_on_conflict
def grant_refund(
    *,
    actor: User | None,
    grant: Grant,
    quantity: int,
    reason: str,
    reference: str = "",
    idempotency_key: str | None = None,
) -> Grant:
    """Take back unused, unheld hours (the money goes back elsewhere); reference and reason kept."""
    _positive(quantity)
    if not reason.strip():
        raise LedgerError("Give a reason for the refund.")
    with transaction.atomic():
        _ensure_new(idempotency_key)
        locked = _lock_grants(ids=[grant.pk])[grant.pk]
        if locked.status == GrantStatus.REVOKED:
            raise LedgerError(REFUND_REVOKED)
        if quantity > locked.available:
            raise InsufficientHours(
                f"Only {q(max(locked.available, 0), locked.unit)} of this grant are free to "
                f"book; release reserved hours first to refund more.",
                shortfall=quantity - max(locked.available, 0),
            )
        posting = _Posting(
            actor=actor,
            reason=" — ".join(filter(None, [reason.strip(), reference.strip()])),
            idempotency_key=idempotency_key,
        )
        refunded_in_full = locked.total == quantity and locked.used == 0
        posting.add(
            locked,
            EntryKind.REFUND,
            total=-quantity,
            status=GrantStatus.REVOKED if refunded_in_full else None,
        )
        posting.write()
    return locked


@_retry_on_conflict
def grant_extend(
    *,
    actor: User,
    grant: Grant,
    expires_at: datetime | None,
    reason: str,
    idempotency_key: str | None = None,
) -> Grant:
    """Move the expiry later (or remove it); an expired grant becomes active again."""
    if not reason.strip():
        raise LedgerError("Give a reason for the extension.")
    check_date(expires_at, field="expires_on", error=LedgerError)
    now = timezone.now()
    if expires_at is not None and expires_at <= now:
        raise LedgerError("The new expiry must be in the future.")
    with transaction.atomic(durable=True):
        _ensure_new(idempotency_key)
        locked = _lock_grants(ids=[grant.pk])[grant.pk]
        if locked.status == GrantStatus.REVOKED:
            raise LedgerError("A revoked grant cannot be extended.")
        if expires_at is not None and locked.expires_at is None:
            # No date is later than "never": that would shorten the grant, not extend it.
            raise LedgerError("This grant never expires; an extension cannot give it an expiry.")
        if (
            expires_at is not None
            and locked.expires_at is not None
            and expires_at <= locked.expires_at
        ):
            raise LedgerError(
                f"The new expiry must be after the current one "
                f"({timezone.localtime(locked.expires_at):%Y-%m-%d %H:%M})."
            )
        locked.expires_at = expires_at
        posting = _Posting(actor=actor, reason=reason, idempotency_key=idempotency_key)
        posting.add(locked, EntryKind.EXTEND, status=GrantStatus.ACTIVE)
        posting.write()
    return locked


@_retry_on_conflict
def grant_expire(
    *, actor: User | None, grant: Grant, reason: str = "Expired", due_at: datetime | None = None
) -> Grant:
    """Mark a grant expired and release what relationships still hold on it.

    With `due_at` (the daily job), only if its expiry has passed by then: it is re-read under
    the lock, because an admin may have extended it since the job listed it."""
    with transaction.atomic(durable=True):
        locked = _lock_grants(ids=[grant.pk])[grant.pk]
        if locked.status != GrantStatus.ACTIVE:
            return locked
        if due_at is not None and (locked.expires_at is None or locked.expires_at > due_at):
            return locked
        allocations = list(
            Allocation.objects.select_for_update().filter(grant=locked, held__gt=0).order_by("pk")
        )
        posting = _Posting(actor=actor, reason=reason, idempotency_key=None)
        for allocation in allocations:
            posting.add(
                locked,
                EntryKind.RELEASE,
                held=-allocation.held,
                allocation=allocation,
                relationship_id=allocation.relationship_id,
            )
        posting.add(locked, EntryKind.EXPIRE, status=GrantStatus.EXPIRED)
        posting.write()
    return locked


def expire_due_grants(*, now: datetime | None = None) -> int:
    """The daily job: expire every active grant whose date has passed. Safe to run twice."""
    now = now or timezone.now()
    due = list(
        Grant.objects.filter(status=GrantStatus.ACTIVE, expires_at__lte=now)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    for pk in due:
        grant_expire(actor=None, grant=Grant(pk=pk), reason="Expired on its date", due_at=now)
    return len(due)


# --- Holds ---------------------------------------------------------------------------------


def _candidate_grants(
    relationship: RelationshipLike, at: datetime, valid_by: datetime | None = None
) -> Q:
    return Q(
        organization_id=relationship.organization_id,
        student_id=relationship.student_id,
        unit=relationship.unit,
        status=GrantStatus.ACTIVE,
        valid_from__lte=valid_by or at,
        grantservicetype__service_type_id=relationship.service_type_id,
    ) & (Q(expires_at__isnull=True) | Q(expires_at__gt=at))


def _allocations_of(relationship: RelationshipLike) -> dict[int, Allocation]:
    return {
        a.grant_id: a
        for a in Allocation.objects.select_for_update()
        .filter(relationship_id=relationship.pk)
        .order_by("pk")
    }


@_retry_on_conflict
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
    _positive(quantity)
    now = timezone.now()
    with transaction.atomic():
        _ensure_new(idempotency_key)
        ids = Grant.objects.filter(_candidate_grants(relationship, now)).values_list(
            "pk", flat=True
        )
        grants = _lock_grants(ids=ids)
        # Re-check after locking: another transaction may have expired one meanwhile.
        usable = [g for g in _soonest_expiry_first(grants.values()) if g.is_usable(now)]
        available = sum(max(g.available, 0) for g in usable)
        if available < quantity:
            raise InsufficientHours(
                f"Only {q(available, relationship.unit)} are free to book for this service; "
                f"reserving {q(quantity, relationship.unit)} needs "
                f"{q(quantity - available, relationship.unit)} more.",
                shortfall=quantity - available,
            )
        allocations = _allocations_of(relationship)
        posting = _Posting(
            actor=actor, reason=reason, idempotency_key=idempotency_key, relationship=relationship
        )
        remaining = quantity
        for grant in usable:
            take = min(remaining, grant.available)
            if take <= 0:
                continue
            allocation = allocations.get(grant.pk)
            if allocation is None:
                allocation = Allocation.objects.create(
                    organization_id=relationship.organization_id,
                    relationship_id=relationship.pk,
                    grant=grant,
                )
                allocations[grant.pk] = allocation
            posting.add(grant, EntryKind.HOLD, held=take, allocation=allocation)
            remaining -= take
            if remaining == 0:
                break
        posting.write()
    return quantity


@_retry_on_conflict
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
        _positive(quantity)
    with transaction.atomic():
        _ensure_new(idempotency_key)
        grant_ids = Allocation.objects.filter(
            relationship_id=relationship.pk, held__gt=0
        ).values_list("grant_id", flat=True)
        grants = _lock_grants(ids=grant_ids)
        allocations = _allocations_of(relationship)
        holding = [
            allocations[g.pk]
            for g in reversed(_soonest_expiry_first(grants.values()))
            if g.pk in allocations and allocations[g.pk].held > 0
        ]
        total_held = sum(a.held for a in holding)
        wanted = total_held if quantity is None else quantity
        if wanted > total_held:
            raise LedgerError(
                f"This relationship holds only {q(total_held, relationship.unit)}; "
                f"it cannot release {q(wanted, relationship.unit)}."
            )
        posting = _Posting(
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


@_retry_on_conflict
def consume(
    *,
    actor: User | None,
    relationship: RelationshipLike,
    session: SessionLike,
    quantity: int,
    at: datetime,
    draw_shortfall: bool = False,
    idempotency_key: str | None = None,
) -> list[Consumption]:
    """Consume `quantity` for a session held at `at`.

    First from the relationship's holds on grants valid on the session's date (already valid
    that day, in the organization's time zone, and not expired at `at`), soonest expiry first;
    when
    those are short, `draw_shortfall` (the organization's policy) decides: refuse, or draw the
    rest from the student's available balance on grants covering the service. What came from
    which grant is recorded on the ledger, so `restore` gives back exactly that.
    """
    _positive(quantity)
    unit = relationship.unit
    # "Valid on the session's date": a grant bought later that day covers a morning session.
    tz = Organization.objects.only("time_zone").get(pk=relationship.organization_id).tz
    day_end = (timezone.localtime(at, tz) + timedelta(days=1)).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    with transaction.atomic():
        _ensure_new(idempotency_key)
        held_ids = Allocation.objects.filter(relationship_id=relationship.pk).values_list(
            "grant_id", flat=True
        )
        extra = _candidate_grants(relationship, at, day_end) if draw_shortfall else None
        grants = _lock_grants(extra, ids=held_ids)
        allocations = _allocations_of(relationship)
        valid = [
            g for g in _soonest_expiry_first(grants.values()) if g.is_usable(at, valid_by=day_end)
        ]
        on_hold = sum(allocations[g.pk].held for g in valid if g.pk in allocations)
        drawable = 0
        if draw_shortfall:
            drawable = sum(max(g.available, 0) for g in valid)
        if on_hold + drawable < quantity:
            if draw_shortfall:
                message = (
                    f"The relationship's reserved hours and the student's hours free to book cover "
                    f"{q(on_hold + drawable, unit)}; the session needs {q(quantity, unit)}."
                )
            else:
                message = (
                    f"Only {q(on_hold, unit)} are reserved for this relationship; "
                    f"the session needs {q(quantity, unit)}."
                )
            raise InsufficientHours(message, shortfall=quantity - on_hold - drawable)
        posting = _Posting(
            actor=actor, idempotency_key=idempotency_key, relationship=relationship, session=session
        )
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
        for grant in valid if remaining else []:
            take = min(remaining, max(grant.available, 0))
            if take <= 0:
                continue
            allocation = allocations.get(grant.pk)
            if allocation is None:
                allocation = Allocation.objects.create(
                    organization_id=relationship.organization_id,
                    relationship_id=relationship.pk,
                    grant=grant,
                )
                allocations[grant.pk] = allocation
            posting.add(grant, EntryKind.CONSUME, used=take, allocation=allocation)
            result.append(Consumption(grant.pk, take, False))
            remaining -= take
            if remaining == 0:
                break
        posting.reason = (
            "Drawn from the hours free to book" if any(not c.from_hold for c in result) else ""
        )
        posting.write()
    return result


def consumed_for_session(*, session: SessionLike) -> dict[int, int]:
    """What a session has consumed, net of restores, per grant id."""
    rows = (
        GrantEntry.objects.filter(session_id=session.pk, allocation__isnull=False)
        .values("grant_id")
        .annotate(net=Sum("used_delta"))
        .order_by()
    )
    return {row["grant_id"]: row["net"] for row in rows if row["net"]}


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


@_retry_on_conflict
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
        _positive(quantity)
    now = timezone.now()
    with transaction.atomic():
        _ensure_new(idempotency_key)
        grants = _lock_grants(ids=consumed_for_session(session=session).keys())
        allocations = _allocations_of(relationship)
        # Re-read under the locks: a concurrent restore may have committed meanwhile.
        consumed = _SessionConsumption.read(session)
        net = consumed.net
        total = sum(net.values())
        wanted = total if quantity is None else quantity
        if wanted > total:
            raise LedgerError(
                f"This session consumed {q(total, relationship.unit)}; "
                f"{q(wanted, relationship.unit)} cannot be restored."
            )
        posting = _Posting(
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


# --- Reading a student's balance (columns only, never the ledger) ------------------------


@dataclass(frozen=True)
class Balance:
    """A student's hours of one service type and unit, over usable grants:
    `remaining` (not yet used) = `held` (reserved for relationships) + `available`.

    Pages say Total, Used, Reserved (`held`) and Free to book (`available`); the total is their
    sum, so hours that expired unused are not counted in it."""

    service_type: ServiceType
    unit: str
    remaining: int
    available: int
    held: int
    used: int

    @property
    def total(self) -> int:
        return self.used + self.held + self.available


def student_balances(*, student: Student, grants: Sequence[Grant] | None = None) -> list[Balance]:
    """Balances per service type and unit, from the grant columns (never the ledger).

    A grant covering several service types counts under each of them."""
    if grants is None:
        grants = list(Grant.objects.filter(student=student).prefetch_related("service_types"))
    now = timezone.now()
    sums: dict[tuple[int, str], list[Any]] = {}
    for grant in grants:
        usable = grant.is_usable(now)
        for st in grant.service_types.all():
            row = sums.setdefault((st.pk, grant.unit), [st, 0, 0, 0, 0])
            if usable:
                row[1] += grant.total - grant.used
                row[2] += max(grant.available, 0)
            row[3] += grant.held
            row[4] += grant.used
    return [
        Balance(row[0], unit, row[1], row[2], row[3], row[4])
        for (_, unit), row in sorted(sums.items(), key=lambda kv: (kv[1][0].name, kv[0][1]))
    ]


# --- Packages ----------------------------------------------------------------------------


def _check_shop_keys(shop_keys: Sequence[tuple[str, str]]) -> None:
    for _kind, value in shop_keys:
        if not value or len(value) > SHOP_KEY_MAX_LENGTH:
            raise LedgerError(
                f"A shop id or SKU has 1 to {SHOP_KEY_MAX_LENGTH} characters.", field="skus"
            )


def _set_package_links(
    package: Package, service_types: Sequence[ServiceType], shop_keys: Sequence[tuple[str, str]]
) -> None:
    if any(st.organization_id != package.organization_id for st in service_types):
        raise LedgerError("A service type of another organization was chosen.")
    _check_shop_keys(shop_keys)
    PackageServiceType.objects.filter(package=package).delete()
    PackageServiceType.objects.bulk_create(
        PackageServiceType(
            organization_id=package.organization_id, package=package, service_type=st
        )
        for st in service_types
    )
    PackageShopMapping.objects.filter(package=package).delete()
    try:
        with transaction.atomic():
            PackageShopMapping.objects.bulk_create(
                PackageShopMapping(
                    organization_id=package.organization_id, package=package, kind=kind, value=value
                )
                for kind, value in shop_keys
            )
    except IntegrityError as exc:
        raise LedgerError("One of the shop ids or SKUs already sells another package.") from exc


def package_save(
    *,
    actor: User,
    organization: Organization,
    package: Package | None = None,
    name: str,
    quantity: int,
    unit: str,
    service_types: Sequence[ServiceType],
    validity_days: int | None,
    price: Any,
    shop_keys: Sequence[tuple[str, str]] = (),
) -> Package:
    """Create or edit a package with its service types and shop mapping. Grants already made
    from it keep their own quantity, unit and expiry."""
    _positive(quantity)
    if quantity > GRANT_MAX_TOTAL[unit]:
        raise LedgerError(
            "A package is granted whole, so it holds no more than a grant can: "
            + grant_too_large(unit),
            field="amount",
        )
    if not service_types:
        raise LedgerError("Choose the service types this package covers.")
    if validity_days is not None and not 1 <= validity_days <= VALIDITY_DAYS_MAX:
        raise LedgerError(
            f"A package is valid for 1 to {VALIDITY_DAYS_MAX} days.", field="validity_days"
        )
    with transaction.atomic():
        package = package or Package(organization=organization)
        package.name, package.quantity, package.unit = name.strip(), quantity, unit
        package.validity_days, package.price = validity_days, price
        package.save()
        _set_package_links(package, service_types, shop_keys)
    return package


def package_set_active(*, actor: User, package: Package, active: bool) -> Package:
    """Deactivate (no longer offered or mapped to new orders) or reactivate; never deleted."""
    package.is_active = active
    package.save(update_fields=["is_active"])
    return package


def package_add_shop_key(*, actor: User, package: Package, kind: str, value: str) -> None:
    """Map one more shop product id, variation id or SKU to the package."""
    _check_shop_keys([(kind, value)])
    try:
        with transaction.atomic():
            PackageShopMapping.objects.create(
                organization_id=package.organization_id, package=package, kind=kind, value=value
            )
    except IntegrityError as exc:
        raise LedgerError(f"That {kind} already sells another package.") from exc
