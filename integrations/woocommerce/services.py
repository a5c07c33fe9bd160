"""Order → grant fulfilment, idempotent by construction.

Every path — a webhook delivery, the catch-up sync, an admin's "reprocess" — goes through
`apply_order`, which locks the store's order row (one writer per order at a time), ignores
snapshots older than the one applied, grants each mapped line at most once (a unique
constraint per store, order and line item, plus the ledger's idempotency key) and turns
whatever a person must decide into an `OrderError`.
"""

import contextlib
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import DatabaseError, IntegrityError, transaction
from django.db.models import Q, Sum
from django.urls import reverse
from django.utils import timezone

from grants import services as ledger
from grants.models import EntryKind, Grant, GrantEntry, GrantSource, PackageShopMapping, ShopKey
from integrations.woocommerce import bodies, client
from integrations.woocommerce.models import (
    Delivery,
    DeliveryStatus,
    ErrorKind,
    Order,
    OrderError,
    OrderLineGrant,
    Store,
)
from matchpal.errors import DomainError
from matchpal.models import User
from matchpal.notifications import notify_admins
from matchpal.quantities import format_quantity
from students.models import Student
from students.services import DuplicateStudentEmail, student_create

log = logging.getLogger(__name__)

FULL_REFUND_STATUSES = {"refunded"}
REVERSED_AFTER_PAYMENT = {"cancelled", "failed"}

# The catch-up asks the shop for orders modified since a few minutes before the last one it
# handled: a shop clock behind ours, or an order saved just as the last run asked, would
# otherwise fall between two runs. Applying an order twice changes nothing.
SYNC_OVERLAP = timedelta(minutes=5)
FIRST_SYNC_WINDOW = timedelta(days=7)
# A delivery still `received` this long after it arrived lost its task (the broker was down
# when the endpoint enqueued it, or Redis dropped the message): the sweeper enqueues it again,
# then leaves it alone for REQUEUE_PAUSE so a long worker backlog is not enqueued over and over.
STUCK_AFTER = timedelta(minutes=5)
REQUEUE_PAUSE = timedelta(minutes=15)
REQUEUE_BATCH = 500


class OrderSkipped(Exception):
    """The snapshot changes nothing (stale or a duplicate); the reason is its message."""


class ReprocessFailed(DomainError):
    """Reprocessing an order stopped; nothing it did was kept."""


# --- Parsing -------------------------------------------------------------------------------


def parse_gmt(value: Any) -> datetime | None:
    """WooCommerce's `_gmt` dates: `2026-03-10T14:21:05`, UTC, without a `Z`."""
    if not value or not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.rstrip("Z"))
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed


# Ids are stored in bigint columns; a larger one is no shop's order id.
MAX_ID = 2**63 - 1


def order_id_of(value: Any) -> int | None:
    """An order id: an int, or (in `order.deleted`) a digit string."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int) and 0 < value <= MAX_ID:
        return value
    if isinstance(value, str) and value.isdigit() and len(value) < 20 and 0 < int(value) <= MAX_ID:
        return int(value)
    return None


def is_order(payload: Any) -> bool:
    return (
        isinstance(payload, dict)
        and "code" not in payload
        and isinstance(payload.get("id"), int)
        and not isinstance(payload.get("id"), bool)
        and 0 < payload["id"] <= MAX_ID
    )


# --- Errors --------------------------------------------------------------------------------


def record_error(
    *,
    store: Store,
    kind: str,
    message: str,
    order: Order | None = None,
    subject: str = "",
    payload: Any = None,
    delivery: Delivery | None = None,
) -> OrderError | None:
    """Open an error for an admin (once per open subject) and tell the admins about it."""
    # Exception texts and payload values end up here: keep them storable (bodies.py).
    message, subject = bodies.clean_text(message), bodies.clean_text(str(subject))
    if (
        order is None
        and OrderError.objects.filter(
            store=store,
            order__isnull=True,
            kind=kind,
            subject=str(subject)[:100],
            resolved_at__isnull=True,
        ).exists()
    ):
        # The unique constraint treats NULL orders as distinct, so it cannot stop a repeated
        # delivery about no known order from opening (and emailing) the same problem again.
        return None
    try:
        with transaction.atomic():
            error = OrderError.objects.create(
                organization_id=store.organization_id,
                store=store,
                order=order,
                kind=kind,
                subject=str(subject)[:100],
                message=message[:500],
                payload=payload if payload is not None else {},
                delivery=delivery,
            )
    except IntegrityError:
        return None  # the same problem is already open
    notify_admins(
        organization=store.organization,
        text=f"{store.name}: {error.get_kind_display()} — {message}"[:500],
        link=reverse("woocommerce:error_list", args=[store.organization.slug]),
    )
    return error


# --- Customers and lines -------------------------------------------------------------------


def _customer(store: Store, order: Order, payload: dict[str, Any]) -> Student | None:
    if order.student_id is not None:
        return order.student
    billing = payload.get("billing") or {}
    email = (billing.get("email") or "").strip()
    if email:
        student = Student.objects.filter(
            organization_id=store.organization_id, email__iexact=email
        ).first()
        if student is not None:
            return student
    if not email:
        record_error(
            store=store,
            order=order,
            kind=ErrorKind.CUSTOMER_NOT_FOUND,
            subject="no-email",
            payload=payload,
            message=f"{order.reference} has no billing email; link it to a student.",
        )
        return None
    if not store.create_unknown_customers:
        record_error(
            store=store,
            order=order,
            kind=ErrorKind.CUSTOMER_NOT_FOUND,
            subject=email.lower(),
            payload=payload,
            message=f"No student has the email {email} ({order.reference}); link the "
            "order to a student.",
        )
        return None
    name = (
        " ".join(
            filter(
                None,
                [
                    (billing.get("first_name") or "").strip(),
                    (billing.get("last_name") or "").strip(),
                ],
            )
        )
        or email
    )
    try:
        return student_create(
            actor=None,
            organization=store.organization,
            name=name,
            email=email,
            phone=(billing.get("phone") or "")[:40],
        )
    except DuplicateStudentEmail:
        # Another order of the same new customer, in another worker, created the student
        # after our lookup (the order lock does not cover two orders): use that student.
        return Student.objects.get(organization_id=store.organization_id, email__iexact=email)


def _package_for(store: Store, line: dict[str, Any]):  # type: ignore[no-untyped-def]
    keys = []
    variation = order_id_of(line.get("variation_id"))
    if variation:
        keys.append((ShopKey.VARIATION, str(variation)))
    product = order_id_of(line.get("product_id"))
    if product:
        keys.append((ShopKey.PRODUCT, str(product)))
    if line.get("sku"):
        keys.append((ShopKey.SKU, str(line["sku"])))
    mappings = {
        (m.kind, m.value): m.package
        for m in PackageShopMapping.objects.filter(
            organization_id=store.organization_id,
            kind__in=[k for k, _ in keys],
            value__in=[v for _, v in keys],
        ).select_related("package")
    }
    for key in keys:  # variation first, then product, then SKU
        if key in mappings:
            return mappings[key]
    return None


def _fulfil(store: Store, order: Order, payload: dict[str, Any]) -> list[str]:
    student = _customer(store, order, payload)
    if student is None:
        return ["waiting for a customer"]
    order.student = student
    done = {lg.line_item_id for lg in order.line_grants.all()}
    paid_at = parse_gmt(payload.get("date_paid_gmt")) or timezone.now()
    notes = []
    for line in payload.get("line_items") or []:
        line_id = order_id_of(line.get("id"))
        quantity = line.get("quantity")
        if line_id is None or not isinstance(quantity, int) or quantity < 1:
            record_error(
                store=store,
                order=order,
                kind=ErrorKind.INVALID_DATA,
                subject=f"line:{line.get('id')}",
                payload=line,
                message=f"{order.reference} has a line without a valid id or quantity.",
            )
            continue
        if line_id in done:
            continue
        package = _package_for(store, line)
        if package is None or not package.is_active:
            # A package no longer offered is not mapped to new orders (grants.services).
            problem = (
                "is not mapped to a package."
                if package is None
                else f"is mapped to “{package.name}”, which is no longer offered: reactivate "
                "it or map the line to another package."
            )
            record_error(
                store=store,
                order=order,
                kind=ErrorKind.UNKNOWN_PRODUCT,
                subject=f"line:{line_id}",
                payload=line,
                message=f"“{line.get('name', '?')}” (product {line.get('product_id')}, "
                f"variation {line.get('variation_id')}, SKU "
                f"{line.get('sku') or '—'}) in {order.reference} {problem}",
            )
            continue
        try:
            grant = ledger.grant_from_package(
                actor=None,
                student=student,
                package=package,
                count=quantity,
                valid_from=min(paid_at, timezone.now()),
                source=GrantSource.WOOCOMMERCE,
                reference=order.reference,
                reason=f"{quantity} × {package.name}",
                idempotency_key=f"woo:{store.pk}:{order.order_id}:{line_id}",
            )
        except ledger.AlreadyApplied:
            continue
        OrderLineGrant.objects.create(
            organization_id=store.organization_id,
            store=store,
            order=order,
            order_id_in_shop=order.order_id,
            line_item_id=line_id,
            package=package,
            quantity=quantity,
            grant=grant,
        )
        notes.append(f"granted {format_quantity(grant.total, grant.unit)} for line {line_id}")
    if order.fulfilled_at is None and order.line_grants.exists():
        order.fulfilled_at = timezone.now()
    return notes


def _take_back(
    store: Store, order: Order, line_grant: OrderLineGrant, packages: int, why: str, subject: str
) -> str:
    """Refund `packages` of a line's grant: what is unused and unheld goes back; the rest is
    an error for an admin, never removed silently."""
    # Locked so that what is refundable cannot shrink (a hold, a session) before the refund
    # takes it: the order is locked already, and nothing locks a grant and then an order.
    grant = Grant.objects.select_for_update(of=("self",)).get(pk=line_grant.grant_id)
    wanted = min(packages, line_grant.quantity - line_grant.refunded_quantity)
    if wanted <= 0:
        return ""
    # The package's size when it was sold (its credit), not its size today: an admin may have
    # changed the package since.
    credited = (
        GrantEntry.objects.filter(grant=grant, kind=EntryKind.CREDIT).aggregate(
            n=Sum("total_delta")
        )["n"]
        or 0
    )
    amount = wanted * (credited // line_grant.quantity)
    refundable = min(amount, max(grant.available, 0))
    if refundable:
        ledger.grant_refund(
            actor=None, grant=grant, quantity=refundable, reason=why, reference=order.reference
        )
    if refundable < amount:
        grant.refresh_from_db()
        record_error(
            store=store,
            order=order,
            kind=ErrorKind.REFUND_CONFLICT,
            subject=f"{subject}:line:{line_grant.line_item_id}",
            payload={
                "line_item_id": line_grant.line_item_id,
                "wanted": amount,
                "refunded": refundable,
            },
            message=(
                f"{order.reference}: the shop refunded {format_quantity(amount, grant.unit)}"
                f" but only {format_quantity(refundable, grant.unit)} were unused; "
                f"{format_quantity(grant.used, grant.unit)} are used and "
                f"{format_quantity(grant.held, grant.unit)} reserved. Settle the rest."
            ),
        )
    line_grant.refunded_quantity += wanted
    line_grant.save(update_fields=["refunded_quantity"])
    return f"refunded {format_quantity(refundable, grant.unit)} of line {line_grant.line_item_id}"


def _full_refund(store: Store, order: Order, status: str) -> list[str]:
    notes = []
    for line_grant in order.line_grants.select_related("package").order_by("pk"):
        note = _take_back(
            store,
            order,
            line_grant,
            line_grant.quantity,
            f"Order {status} in the shop",
            subject="full",
        )
        if note:
            notes.append(note)
    order.refunded_at = order.refunded_at or timezone.now()
    return notes


def _refunded_item_id(item: dict[str, Any]) -> int | None:
    if order_id_of(item.get("refunded_item_id")):
        return order_id_of(item.get("refunded_item_id"))
    for meta in item.get("meta_data") or []:
        if meta.get("key") == "_refunded_item_id":
            return order_id_of(meta.get("value"))
    return None


RefundDetails = dict[int | None, Any] | client.ShopAPIError | None


def _refund_details(store: Store, payload: dict[str, Any]) -> RefundDetails:
    """The shop's account of the order's refunds, fetched before the order row is locked (no
    network I/O under a lock), when a paid snapshot lists a refund this order has not handled.
    Handled ids only grow, so this unlocked read predicts at least every refund the locked
    pass will find new. None when nothing needs fetching; the shop's error when the fetch
    failed, raised only if the locked pass needs the details (a refund of an order whose
    customer is unknown waits for the customer, not for the shop)."""
    if not store.has_api_keys or str(payload.get("status") or "") not in store.paid_statuses:
        return None
    listed = {order_id_of(r.get("id")) for r in payload.get("refunds") or []} - {None}
    order_id = order_id_of(payload.get("id"))
    if not listed or order_id is None:
        return None
    handled = (
        Order.objects.filter(store=store, order_id=order_id)
        .values_list("handled_refund_ids", flat=True)
        .first()
    )
    if not listed - set(handled or []):
        return None
    try:
        return {order_id_of(r.get("id")): r for r in client.fetch_refunds(store, order_id)}
    except client.ShopAPIError as exc:
        return exc


def _partial_refunds(
    store: Store,
    order: Order,
    payload: dict[str, Any],
    details: RefundDetails,
) -> list[str]:
    new = [
        r
        for r in payload.get("refunds") or []
        if order_id_of(r.get("id")) and order_id_of(r.get("id")) not in order.handled_refund_ids
    ]
    if not new:
        return []
    notes: list[str] = []
    if not store.has_api_keys:
        for refund in new:
            record_error(
                store=store,
                order=order,
                kind=ErrorKind.PARTIAL_REFUND,
                subject=f"refund:{refund['id']}",
                payload=refund,
                message=(
                    f"{order.reference}: partial refund #{refund['id']} of "
                    f"{str(refund.get('total', '')).lstrip('-')} "
                    f"({refund.get('reason') or 'no reason given'}). Which lines it covers "
                    "is not in the webhook; take back the hours by hand, then resolve."
                ),
            )
            order.handled_refund_ids.append(order_id_of(refund["id"]))
        return ["partial refund left for an admin"]
    if isinstance(details, client.ShopAPIError):
        raise details  # the delivery's task retries; the reprocess form says so
    if details is None:  # not foreseen before the lock (cannot happen; see _refund_details)
        details = {order_id_of(r.get("id")): r for r in client.fetch_refunds(store, order.order_id)}
    line_grants = {lg.line_item_id: lg for lg in order.line_grants.select_related("package")}
    lines = {order_id_of(li.get("id")): li for li in payload.get("line_items") or []}
    for refund in new:
        refund_id = order_id_of(refund["id"])
        detail = details.get(refund_id) or {}
        if not any(-int(item.get("quantity") or 0) > 0 for item in detail.get("line_items") or []):
            # An amount refunded without line quantities (or a refund the API did not list):
            # whether hours go back is a person's decision, never a silent "nothing".
            record_error(
                store=store,
                order=order,
                kind=ErrorKind.PARTIAL_REFUND,
                subject=f"refund:{refund_id}",
                payload=detail or refund,
                message=(
                    f"{order.reference}: partial refund #{refund_id} of "
                    f"{str(refund.get('total', '')).lstrip('-')} "
                    f"({refund.get('reason') or 'no reason given'}) names no refunded "
                    "quantities; decide whether hours go back, then resolve."
                ),
            )
            notes.append("partial refund left for an admin")
        for item in detail.get("line_items") or []:
            line_id = _refunded_item_id(item)
            if line_id is None:  # match by product/variation when the meta is missing
                line_id = next(
                    (
                        lid
                        for lid, li in lines.items()
                        if li.get("product_id") == item.get("product_id")
                        and li.get("variation_id", 0) == item.get("variation_id", 0)
                    ),
                    None,
                )
            count = -int(item.get("quantity") or 0)
            if line_id in line_grants and count > 0:
                note = _take_back(
                    store,
                    order,
                    line_grants[line_id],
                    count,
                    f"Partial refund #{refund_id} in the shop",
                    subject=f"refund:{refund_id}",
                )
                if note:
                    notes.append(note)
        order.handled_refund_ids.append(refund_id)
    return notes


# --- The one entry point -----------------------------------------------------------------


def _lock_order(store: Store, order_id: int) -> Order:
    try:
        with transaction.atomic():
            Order.objects.get_or_create(
                store=store, order_id=order_id, defaults={"organization_id": store.organization_id}
            )
    except IntegrityError:
        pass  # another worker created it first
    return (
        Order.objects.select_for_update(of=("self",))
        .select_related("student")
        .get(store=store, order_id=order_id)
    )


def apply_order(*, store: Store, payload: dict[str, Any], force: bool = False) -> str:
    """Apply one snapshot of an order; returns what happened, for the delivery log."""
    refund_details = _refund_details(store, payload)
    with transaction.atomic():
        order = _lock_order(store, payload["id"])
        modified = parse_gmt(payload.get("date_modified_gmt"))
        if not force and order.date_modified_gmt and modified:
            if modified < order.date_modified_gmt:
                raise OrderSkipped("An older snapshot than the one applied; ignored.")
            # One-second resolution: on a tie, compare the content.
            if modified == order.date_modified_gmt and payload == order.payload:
                raise OrderSkipped("The same snapshot again; nothing to do.")
        billing = payload.get("billing") or {}
        order.number = str(payload.get("number") or payload["id"])[:64]
        order.status = str(payload.get("status") or "")[:40]
        order.billing_email = (billing.get("email") or "")[:254]
        order.billing_name = " ".join(
            filter(None, [billing.get("first_name"), billing.get("last_name")])
        )[:200]
        order.date_modified_gmt = modified or order.date_modified_gmt
        order.payload = payload
        status = order.status
        notes: list[str] = []
        if status in FULL_REFUND_STATUSES or (
            status in REVERSED_AFTER_PAYMENT and order.fulfilled_at
        ):
            notes += _full_refund(store, order, status)
        elif status in store.paid_statuses:
            notes += _fulfil(store, order, payload)
            if order.student_id is not None:
                # Without a customer nothing was granted, so a refund has nothing to take
                # back yet: it is settled when the order is reprocessed after linking.
                notes += _partial_refunds(store, order, payload, refund_details)
        else:
            notes.append(f"status {status or 'unknown'}: nothing to grant")
        order.save()
        return "; ".join(notes) or "nothing new"


def order_deleted(*, store: Store, payload: Any, delivery: Delivery | None) -> str:
    order_id = order_id_of(payload.get("id")) if isinstance(payload, dict) else None
    if order_id is None:
        raise ValueError("order.deleted without an order id")
    with transaction.atomic():
        order = (
            Order.objects.select_for_update(of=("self",))
            .filter(store=store, order_id=order_id)
            .first()
        )
        if order is None:
            return f"order {order_id} was never seen; nothing to review"
        order.deleted_in_shop_at = timezone.now()
        order.save(update_fields=["deleted_in_shop_at", "updated_at"])
        record_error(
            store=store,
            order=order,
            kind=ErrorKind.ORDER_DELETED,
            subject="deleted",
            payload=payload,
            delivery=delivery,
            message=f"{order.reference} was moved to the trash in the shop; check "
            "whether its hours should stay.",
        )
    return f"{order.reference} flagged for review"


def process_delivery(delivery_id: int) -> None:
    """What the Celery task does with one stored delivery."""
    delivery = Delivery.objects.select_related("store__organization").get(pk=delivery_id)
    if delivery.status != DeliveryStatus.RECEIVED:
        return  # already handled (a task can run twice)
    store = delivery.store
    status: str
    raw = bytes(delivery.body)
    try:
        payload = bodies.parse(raw)
    except bodies.UnreadableBody as unreadable:
        reason = unreadable.reason
        status, outcome = DeliveryStatus.FAILED, f"{reason[0].upper()}{reason[1:]}."
        what = delivery.topic or "delivery"
        record_error(
            store=store,
            kind=ErrorKind.INVALID_DATA,
            subject=f"delivery:{delivery.pk}",
            delivery=delivery,
            payload={"body": bodies.excerpt(raw)},
            message=f"A {what} did not contain valid JSON."
            if unreadable.reason == bodies.NOT_JSON
            else f"A {what} could not be read: {unreadable.reason}.",
        )
    else:
        # Any JSON goes to _route, `null` included: it is not an order and is recorded so.
        status, outcome = _route(store, delivery, payload)
    Delivery.objects.filter(pk=delivery.pk, status=DeliveryStatus.RECEIVED).update(
        status=status, outcome=bodies.clean_text(outcome)[:500], processed_at=timezone.now()
    )


def _route(store: Store, delivery: Delivery, payload: Any) -> tuple[str, str]:
    topic = delivery.topic
    if topic == "order.deleted":
        try:
            return DeliveryStatus.PROCESSED, order_deleted(
                store=store, payload=payload, delivery=delivery
            )
        except ValueError:
            pass
    elif topic.startswith("action."):
        order_id = order_id_of(payload.get("arg")) if isinstance(payload, dict) else None
        if order_id and store.has_api_keys:
            try:
                payload = client.fetch_order(store, order_id)
            except client.ShopAPIError as exc:
                if exc.status != 404:
                    raise  # the shop did not answer: the task retries
                # Deleted since: retrying cannot help, and the delivery must not stay
                # "received" for ever.
                record_error(
                    store=store,
                    kind=ErrorKind.INVALID_DATA,
                    subject=f"action:{order_id}",
                    delivery=delivery,
                    payload=payload,
                    message=f"{topic} for order {order_id}: the shop has no such "
                    "order (404); it may have been deleted.",
                )
                return DeliveryStatus.IGNORED, f"order {order_id} not found in the shop"
        elif order_id:
            record_error(
                store=store,
                kind=ErrorKind.INVALID_DATA,
                subject=f"action:{order_id}",
                delivery=delivery,
                payload=payload,
                message=f"{topic} for order {order_id} carries no order; add the "
                "store's API keys so Matchpal can fetch it.",
            )
            return DeliveryStatus.IGNORED, "an action without API keys to fetch the order"
    if not is_order(payload):
        code = payload.get("code") if isinstance(payload, dict) else None
        record_error(
            store=store,
            kind=ErrorKind.INVALID_DATA,
            subject=f"delivery:{delivery.pk}",
            delivery=delivery,
            payload=payload if isinstance(payload, dict) else {"body": payload},
            message=(
                f"The shop sent an error instead of an order: {code} — {payload.get('message', '')}"
                if code
                else f"A {topic or 'delivery'} without an order id."
            ),
        )
        return DeliveryStatus.IGNORED, f"not an order ({code or 'no id'})"
    try:
        outcome = apply_order(store=store, payload=payload)
    except OrderSkipped as skipped:
        return DeliveryStatus.IGNORED, str(skipped)
    except DomainError as error:
        record_error(
            store=store,
            kind=ErrorKind.INVALID_DATA,
            subject=f"order:{payload['id']}",
            delivery=delivery,
            payload=payload,
            message=error.message,
        )
        return DeliveryStatus.FAILED, error.message
    _settle_failures(store, payload["id"], note="A later snapshot of the order went through.")
    return DeliveryStatus.PROCESSED, outcome


def _settle_failures(store: Store, order_id: int, *, note: str) -> None:
    """A snapshot carries the order's whole state, so once a newer one is applied, what an
    earlier one failed to apply is done: close those errors instead of leaving them to an
    admin. (Failures of `order.deleted` have their own subject and stay open.)"""
    OrderError.objects.filter(
        store=store,
        kind=ErrorKind.PROCESSING_FAILED,
        subject=f"order:{order_id}",
        resolved_at__isnull=True,
    ).update(resolved_at=timezone.now(), resolution_note=note)


def _failure_subject(topic: str, payload: Any) -> tuple[str, int | None]:
    order_id = None
    if isinstance(payload, dict):
        order_id = order_id_of(payload.get("id")) or order_id_of(payload.get("arg"))
    if order_id is None:
        return "", None
    return f"{'deleted' if topic == 'order.deleted' else 'order'}:{order_id}", order_id


def delivery_fail(*, delivery_id: int, reason: str) -> bool:
    """End a delivery that could not be processed as `failed`, with an error for an admin,
    instead of leaving it `received` for ever. False when another run settled it first.

    The sweeper never takes a failed delivery again: its failure is already an open error
    (processing it every few minutes would only repeat it), and for a store with API keys the
    catch-up passes recently modified orders through fulfilment anyway."""
    with transaction.atomic():
        delivery = (
            Delivery.objects.select_for_update(of=("self",))
            .select_related("store__organization")
            .filter(pk=delivery_id, status=DeliveryStatus.RECEIVED)
            .first()
        )
        if delivery is None:
            return False
        reason = bodies.clean_text(reason)
        delivery.status = DeliveryStatus.FAILED
        delivery.outcome = f"Gave up: {reason}"[:500]
        delivery.processed_at = timezone.now()
        delivery.save(update_fields=["status", "outcome", "processed_at"])
        raw = bytes(delivery.body)
        try:
            payload: Any = bodies.parse(raw)
        except bodies.UnreadableBody:
            payload = None
        subject, order_id = _failure_subject(delivery.topic, payload)
        order = (
            Order.objects.filter(store=delivery.store, order_id=order_id).first()
            if order_id
            else None
        )
        about = f" for order {order_id}" if order_id else ""
        message = (
            f"The {delivery.topic or 'webhook'} delivery{about} could not be processed: "
            f"{reason}. Nothing from it was applied. Check the order in the shop and settle it "
            "by hand, then resolve."
        )

        def record(payload: Any) -> None:
            record_error(
                store=delivery.store,
                kind=ErrorKind.PROCESSING_FAILED,
                order=order,
                subject=subject or f"delivery:{delivery.pk}",
                delivery=delivery,
                payload=payload,
                message=message,
            )

        try:
            with transaction.atomic():
                record(payload if isinstance(payload, dict) else {"body": bodies.excerpt(raw)})
        except DatabaseError:
            # Whatever the parsed body still holds that the database refuses, the failure is
            # stored all the same, with the start of the raw body as text instead.
            log.exception("Storing the failure of delivery %s with its body failed", delivery_id)
            record({"body": bodies.excerpt(raw)})
    return True


def delivery_postpone_sweep(*, delivery_id: int, until: datetime) -> None:
    """A retry is scheduled: the sweeper must not start a second chain of attempts meanwhile."""
    Delivery.objects.filter(pk=delivery_id, status=DeliveryStatus.RECEIVED).update(
        sweep_after=until
    )


def deliveries_to_requeue(*, now: datetime | None = None, limit: int = REQUEUE_BATCH) -> list[int]:
    """Claim the deliveries whose task was lost, oldest first, for the sweeper to enqueue.

    Safe to run twice at once: rows are claimed under SKIP LOCKED and marked with
    `sweep_after`, so a second run finds other rows or none. Enqueueing one twice anyway costs
    nothing: `process_delivery` returns at once for a delivery that is no longer `received`."""
    now = now or timezone.now()
    with transaction.atomic():
        ids = list(
            Delivery.objects.select_for_update(skip_locked=True)
            .filter(status=DeliveryStatus.RECEIVED, received_at__lte=now - STUCK_AFTER)
            .filter(Q(sweep_after__isnull=True) | Q(sweep_after__lte=now))
            .order_by("received_at", "pk")
            .values_list("pk", flat=True)[:limit]
        )
        Delivery.objects.filter(pk__in=ids).update(sweep_after=now + REQUEUE_PAUSE)
    return ids


def deliveries_release(*, ids: list[int]) -> None:
    """The sweeper could not enqueue these after all (the broker is still down): let the next
    run take them at once instead of after REQUEUE_PAUSE."""
    Delivery.objects.filter(pk__in=ids, status=DeliveryStatus.RECEIVED).update(sweep_after=None)


def sync_store(*, store: Store, now: datetime | None = None) -> int:
    """Catch up on orders modified since the last sync (WooCommerce never retries a lost
    delivery); returns how many orders the shop sent.

    One bad order never stalls the batch: it becomes an order error and the rest go through.
    `last_synced_at` then moves to the newest modification date the shop reported for what
    was really handled, never past an order to try again (the shop's own clock, so ours
    does not matter), and the next run asks from SYNC_OVERLAP before it."""
    now = now or timezone.now()
    since = (store.last_synced_at or now - FIRST_SYNC_WINDOW) - SYNC_OVERLAP
    progress = _SyncProgress(synced_to=store.last_synced_at)
    try:
        for page in client.order_pages(store, modified_after=since):
            for payload in page:
                progress.add(payload, handled=_sync_order(store, payload))
    except client.ShopRefused as exc:
        # The store URL or what the shop sends must change first: asking again every 15
        # minutes changes nothing, so the admins are told (once while it stays open).
        record_error(
            store=store,
            kind=ErrorKind.PROCESSING_FAILED,
            subject=f"sync:{exc.code}",
            payload={"store_url": store.store_url},
            message=f"The catch-up stopped: {exc}. {exc.advice}, then resolve.",
        )
    except client.ShopAPIError as exc:
        if exc.error is None:
            raise  # the shop did not answer: the next run asks again from the same point
        # The shop answered with an error object (revoked keys, missing read rights…):
        # retrying will not help until an admin acts.
        code = exc.error.get("code", "")
        record_error(
            store=store,
            kind=ErrorKind.PROCESSING_FAILED,
            subject=f"sync:{code}"[:100],
            payload=exc.error,
            message=f"The catch-up stopped: {exc}. Check the store's REST API keys (they need "
            "read access to orders) and the shop's security plugins, then resolve.",
        )
    finally:
        store.last_synced_at = progress.watermark()
        Store.objects.filter(pk=store.pk).update(last_synced_at=store.last_synced_at)
    return progress.count


class _SyncProgress:
    """What the catch-up may mark as synced: the newest handled modification date, unless an
    order must be fetched again, then from that order's date."""

    def __init__(self, *, synced_to: datetime | None) -> None:
        self.synced_to = synced_to
        self.count = 0
        self.newest: datetime | None = None
        self.retry_from: datetime | None = None
        self.retry_undated = False

    def add(self, payload: Any, *, handled: bool) -> None:
        self.count += 1
        modified = (
            parse_gmt(payload.get("date_modified_gmt")) if isinstance(payload, dict) else None
        )
        if handled:
            if modified and (self.newest is None or modified > self.newest):
                self.newest = modified
        elif modified is None:
            self.retry_undated = True
        elif self.retry_from is None or modified < self.retry_from:
            self.retry_from = modified

    def watermark(self) -> datetime | None:
        if self.retry_undated:
            return self.synced_to  # nowhere to place it: ask for the same span again
        if self.retry_from is not None:
            return self.retry_from  # possibly earlier than before: so it is asked for again
        if self.newest is not None and (self.synced_to is None or self.newest > self.synced_to):
            return self.newest
        return self.synced_to


def _sync_order(store: Store, payload: Any) -> bool:
    """Apply one order the catch-up fetched; False when it must be fetched again next time."""
    if not is_order(payload):
        # Only WooCommerce's own error object is shown, reduced to its code and message;
        # anything else in the answer is not echoed to the admin's pages.
        error = client.error_object(payload)
        record_error(
            store=store,
            kind=ErrorKind.INVALID_DATA,
            subject=f"sync:{error['code'] if error else 'no-id'}"[:100],
            payload=error or {},
            message=(
                f"The catch-up got an error instead of an order: {error['code']} — "
                f"{error['message']}"
                if error
                else "The catch-up got an entry without an order id."
            ),
        )
        return True  # recorded for an admin; fetching it again would change nothing
    order_id = payload["id"]
    try:
        apply_order(store=store, payload=payload)
    except OrderSkipped:
        return True
    except DomainError as error:
        record_error(
            store=store,
            kind=ErrorKind.INVALID_DATA,
            subject=f"order:{order_id}",
            payload=payload,
            message=error.message,
        )
        return True  # our rules refused this snapshot; the same snapshot again would too
    except Exception as exc:
        # The shop's API failing on the refunds, or a bug: nothing was applied (apply_order
        # is one transaction), the order is fetched again next run, the admin is told once.
        if not isinstance(exc, client.ShopAPIError):
            log.exception("Catch-up of order %s of store %s failed", order_id, store.pk)
        why = str(exc) if isinstance(exc, client.ShopAPIError) else unexpected_reason(exc)
        record_error(
            store=store,
            order=Order.objects.filter(store=store, order_id=order_id).first(),
            kind=ErrorKind.PROCESSING_FAILED,
            subject=f"order:{order_id}",
            payload=payload,
            message=f"Order #{payload.get('number') or order_id} could not be applied by the "
            f"catch-up: {why}. Nothing from it was applied; the next catch-up tries again and "
            "closes this error once it goes through.",
        )
        return False
    _settle_failures(store, order_id, note="Applied by a later catch-up.")
    return True


def unexpected_reason(exc: Exception) -> str:
    return f"an unexpected error ({type(exc).__name__}: {exc}); the details are in the log"


# --- The admin's console ------------------------------------------------------------------


def error_resolve(*, actor: User, error: OrderError, note: str) -> OrderError:
    if not note.strip():
        raise DomainError("Say how it was settled.")
    updated = OrderError.objects.filter(pk=error.pk, resolved_at__isnull=True).update(
        resolved_at=timezone.now(), resolved_by=actor, resolution_note=note.strip()[:500]
    )
    if not updated:
        raise DomainError("This error is already resolved.")
    error.refresh_from_db()
    return error


@contextlib.contextmanager
def _all_or_nothing(error: OrderError) -> Iterator[None]:
    """Reprocessing keeps nothing unless it all goes through: when applying the order fails,
    the error stays open (and a mapping or link made for it is undone), and the admin is
    told why in words instead of a server error."""
    try:
        with transaction.atomic():
            yield
    except Exception as exc:
        error.refresh_from_db()
        if error.order is not None:
            error.order.refresh_from_db()
        if isinstance(exc, DomainError):
            raise
        if isinstance(exc, client.ShopRefused):
            raise ReprocessFailed(
                f"The order was not reprocessed and nothing changed: {exc}. {exc.advice}."
            ) from exc
        if isinstance(exc, client.ShopAPIError):
            raise ReprocessFailed(
                f"The order was not reprocessed and nothing changed: {exc}. Try again in a "
                "few minutes."
            ) from exc
        log.exception("Reprocessing order error %s failed", error.pk)
        raise ReprocessFailed(
            "Reprocessing stopped on an unexpected error and nothing changed; the details "
            "are in the server log."
        ) from exc


def _reprocess(*, actor: User, error: OrderError, note: str) -> str:
    if error.order is None or not is_order(error.order.payload):
        raise DomainError("There is no order to reprocess for this error.")
    error_resolve(actor=actor, error=error, note=note)
    return apply_order(store=error.store, payload=error.order.payload, force=True)


def reprocess(*, actor: User, error: OrderError, note: str) -> str:
    """Resolve the error and apply its order's latest snapshot again, all or nothing."""
    with _all_or_nothing(error):
        return _reprocess(actor=actor, error=error, note=note)


def error_map_product(*, actor: User, error: OrderError, package: Any) -> str:
    """Map the line's variation (or product) to a package, then reprocess the order."""
    line = error.payload or {}
    variation, product = order_id_of(line.get("variation_id")), order_id_of(line.get("product_id"))
    kind, value = (
        (ShopKey.VARIATION, str(variation))
        if variation
        else (ShopKey.PRODUCT, str(product))
        if product
        else (ShopKey.SKU, str(line.get("sku") or ""))
    )
    if not value:
        raise DomainError("This line has no product id, variation id or SKU to map.")
    with _all_or_nothing(error):
        ledger.package_add_shop_key(actor=actor, package=package, kind=kind, value=value)
        return _reprocess(
            actor=actor,
            error=error,
            note=f"Mapped {ShopKey(kind).label.lower()} {value} to {package.name}",
        )


def error_link_student(*, actor: User, error: OrderError, student: Student) -> str:
    if error.order is None:
        raise DomainError("There is no order to link.")
    if student.organization_id != error.organization_id:
        raise DomainError("That student belongs to another organization.")
    with _all_or_nothing(error):
        Order.objects.filter(pk=error.order.pk).update(student=student)
        error.order.refresh_from_db()
        return _reprocess(actor=actor, error=error, note=f"Linked to {student.name}")
