"""Grant operations: create (by hand or from a package), adjust, transfer, refund, extend and
expire. Each runs in its own transaction through the posting engine."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

from django.db import transaction
from django.utils import timezone

from grants import notices
from grants.models import (
    GRANT_MAX_TOTAL,
    MAX_PRICE,
    PRICE_OUT_OF_RANGE,
    Allocation,
    EntryKind,
    Grant,
    GrantServiceType,
    GrantSource,
    GrantStatus,
    Package,
    Unit,
    grant_too_large,
)
from grants.services.posting import (
    InsufficientHours,
    LedgerError,
    Posting,
    check_positive,
    ensure_new_key,
    lock_grants,
    retry_on_conflict,
)
from matchpal.bounds import check_date
from matchpal.models import ServiceType
from matchpal.quantities import format_quantity

if TYPE_CHECKING:
    from matchpal.models import User
    from students.models import Student

ADJUST_REVOKED = "This grant was refunded in full and is revoked; add a new grant instead."
REFUND_REVOKED = "This grant was refunded in full already; nothing is left to refund."


@retry_on_conflict
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
    price: Decimal | None = None,
) -> Grant:
    """Credit a student with `quantity` minutes (or sessions) of the given service types;
    `price` is what the sale was worth (None: no price), kept on the grant for `quantity`."""
    check_positive(quantity)
    price = None if price is None else Decimal(str(price))
    if price is not None and not Decimal(0) <= price < MAX_PRICE:
        raise LedgerError(PRICE_OUT_OF_RANGE, field="price")
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
        ensure_new_key(idempotency_key)
        grant = Grant.objects.create(
            organization_id=student.organization_id,
            student=student,
            package=package,
            unit=unit,
            valid_from=valid_from,
            expires_at=expires_at,
            source=source,
            reference=reference.strip(),
            price=price,
            sold_quantity=None if price is None else quantity,
            created_by=actor,
        )
        GrantServiceType.objects.bulk_create(
            GrantServiceType(organization_id=student.organization_id, grant=grant, service_type=st)
            for st in service_types
        )
        posting = Posting(actor=actor, reason=reason or reference, idempotency_key=idempotency_key)
        posting.add(grant, EntryKind.CREDIT, total=quantity)
        posting.write()
        notices.granted(grant, quantity=quantity)
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
    price: Decimal | None = None,
) -> Grant:
    """Credit `count` × the package's quantity; it expires after the package's validity
    unless `expires_at` says otherwise. Its price is `price` (a shop line's own total) or the
    package's price × `count` today."""
    check_positive(count, "The number of packages")
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
        price=Decimal(str(package.price)) * count if price is None else price,
    )


@retry_on_conflict
def grant_adjust(
    *, actor: User, grant: Grant, delta: int, reason: str, idempotency_key: str | None = None
) -> Grant:
    """Raise or lower a grant's total; never below what is used and held."""
    if not isinstance(delta, int) or delta == 0:
        raise LedgerError("The adjustment must be a whole number other than zero.")
    if not reason.strip():
        raise LedgerError("Give a reason for the adjustment.")
    with transaction.atomic(durable=True):
        ensure_new_key(idempotency_key)
        locked = lock_grants(ids=[grant.pk])[grant.pk]
        if locked.status == GrantStatus.REVOKED:
            # Revoked = refunded in full: bringing it back would blur what was paid back.
            raise LedgerError(ADJUST_REVOKED)
        floor = locked.used + locked.held
        if locked.total + delta > GRANT_MAX_TOTAL[locked.unit]:
            raise LedgerError(grant_too_large(locked.unit), field="amount")
        if locked.total + delta < floor:
            raise LedgerError(
                f"This grant has {format_quantity(locked.used, locked.unit)} used and "
                f"{format_quantity(locked.held, locked.unit)} reserved, so its total cannot go "
                f"below {format_quantity(floor, locked.unit)}. Release reserved hours first."
            )
        posting = Posting(actor=actor, reason=reason, idempotency_key=idempotency_key)
        posting.add(locked, EntryKind.ADJUST, total=delta)
        posting.write()
    return locked


@retry_on_conflict
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
    check_positive(quantity)
    _check_transfer_request(from_grant, reason, to_grant, to_service_types)
    with transaction.atomic(durable=True):
        ensure_new_key(idempotency_key)
        # Both grants locked in id order, whichever direction the transfer goes.
        locked = lock_grants(ids=[from_grant.pk] + ([to_grant.pk] if to_grant else []))
        source = locked[from_grant.pk]
        now = timezone.now()
        _check_can_give(source, quantity, now)
        if to_grant is not None:
            target = locked[to_grant.pk]
            _check_can_receive(target, now)
        else:
            target = _new_transfer_grant(actor, source, quantity, list(to_service_types or []))
        posting = Posting(actor=actor, reason=reason, idempotency_key=idempotency_key)
        posting.add(source, EntryKind.TRANSFER_OUT, total=-quantity)
        posting.add(target, EntryKind.TRANSFER_IN, total=quantity)
        posting.write()
    return target


def _check_transfer_request(
    from_grant: Grant,
    reason: str,
    to_grant: Grant | None,
    to_service_types: Sequence[ServiceType] | None,
) -> None:
    """What can be refused before locking: a reason, and a destination that can take them."""
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


def _check_can_give(source: Grant, quantity: int, now: datetime) -> None:
    """The locked source is active, not past its date, and has `quantity` free to book."""
    # Past its date is expired, whether or not the daily job has marked it yet.
    if source.status == GrantStatus.EXPIRED or source.is_past_expiry(now):
        raise LedgerError("This grant has expired; extend it before moving its hours.")
    if source.status != GrantStatus.ACTIVE:
        raise LedgerError("This grant is revoked; its hours cannot move.")
    if quantity > source.available:
        raise InsufficientHours(
            f"Only {format_quantity(max(source.available, 0), source.unit)} of this grant are "
            f"free to book; release reserved hours first to transfer more.",
            shortfall=quantity - max(source.available, 0),
        )


def _check_can_receive(target: Grant, now: datetime) -> None:
    """The locked target is usable now, counted from its own start: hours may move into a
    grant that is not valid yet, not into one past its date or no longer active."""
    if not target.is_usable(now, valid_by=target.valid_from):
        raise LedgerError("The grant receiving the hours is not active.")


def _new_transfer_grant(
    actor: User | None, source: Grant, quantity: int, service_types: list[ServiceType]
) -> Grant:
    """A new grant of the source's student, unit and validity, covering `service_types`, and
    priced as the `quantity` it receives was: `transfer_price`."""
    if any(st.organization_id != source.organization_id for st in service_types):
        raise LedgerError("A service type of another organization was chosen.")
    price, sold_quantity = transfer_price(source, quantity)
    target = Grant.objects.create(
        price=price,
        sold_quantity=sold_quantity,
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
        GrantServiceType(organization_id=source.organization_id, grant=target, service_type=st)
        for st in service_types
    )
    return target


def transfer_price(source: Grant, quantity: int) -> tuple[Decimal | None, int | None]:
    """The price of a transfer's new grant (price, sold quantity): the source's own price per
    unit, so the hours moved keep their value to the cent in the Financial report. It is
    `quantity` at `source.price × quantity ÷ source.sold_quantity` when that is a whole number
    of cents, else the source's own pair (the same price per unit, which a rounded price would
    not be). An unpriced source gives an unpriced grant."""
    if source.price is None or source.sold_quantity is None:
        return None, None
    proportional = source.price * quantity / source.sold_quantity
    if proportional == proportional.quantize(Decimal("0.01")):
        return proportional.quantize(Decimal("0.01")), quantity
    return source.price, source.sold_quantity


@retry_on_conflict
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
    check_positive(quantity)
    if not reason.strip():
        raise LedgerError("Give a reason for the refund.")
    with transaction.atomic():
        ensure_new_key(idempotency_key)
        locked = lock_grants(ids=[grant.pk])[grant.pk]
        if locked.status == GrantStatus.REVOKED:
            raise LedgerError(REFUND_REVOKED)
        if quantity > locked.available:
            raise InsufficientHours(
                f"Only {format_quantity(max(locked.available, 0), locked.unit)} of this grant are "
                f"free to book; release reserved hours first to refund more.",
                shortfall=quantity - max(locked.available, 0),
            )
        posting = Posting(
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


@retry_on_conflict
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
        ensure_new_key(idempotency_key)
        locked = lock_grants(ids=[grant.pk])[grant.pk]
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
        posting = Posting(actor=actor, reason=reason, idempotency_key=idempotency_key)
        posting.add(locked, EntryKind.EXTEND, status=GrantStatus.ACTIVE)
        posting.write()
    return locked


@retry_on_conflict
def grant_expire(
    *, actor: User | None, grant: Grant, reason: str = "Expired", due_at: datetime | None = None
) -> Grant:
    """Mark a grant expired and release what relationships still hold on it.

    With `due_at` (the daily job), only if its expiry has passed by then: it is re-read under
    the lock, because an admin may have extended it since the job listed it."""
    with transaction.atomic(durable=True):
        locked = lock_grants(ids=[grant.pk])[grant.pk]
        if locked.status != GrantStatus.ACTIVE:
            return locked
        if due_at is not None and not locked.is_past_expiry(due_at):
            return locked
        allocations = list(
            Allocation.objects.select_for_update().filter(grant=locked, held__gt=0).order_by("pk")
        )
        posting = Posting(actor=actor, reason=reason, idempotency_key=None)
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
        lost = locked.total - locked.used
        if lost > 0:
            notices.expired(locked, lost=lost)
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
