"""Webhook deliveries: routing each stored one to the order it concerns, failing it for an admin,
and the sweeper's claims on deliveries whose task was lost."""

import contextlib
import logging
from datetime import datetime, timedelta
from typing import Any

from django.db import DatabaseError, transaction
from django.db.models import Q
from django.utils import timezone

from integrations.woocommerce import bodies, client
from integrations.woocommerce.models import Delivery, DeliveryStatus, ErrorKind, Order, Store
from integrations.woocommerce.services.errors import OrderSkipped, record_error, settle_failures
from integrations.woocommerce.services.fulfilment import apply_order
from integrations.woocommerce.services.payload import is_order, order_id_of
from matchpal.errors import DomainError

log = logging.getLogger(__name__)


# A delivery still `received` this long after it arrived lost its task (the broker was down
# when the endpoint enqueued it, or Redis dropped the message): the sweeper enqueues it again,
# then leaves it alone for REQUEUE_PAUSE so a long worker backlog is not enqueued over and over.
STUCK_AFTER = timedelta(minutes=5)
REQUEUE_PAUSE = timedelta(minutes=15)
REQUEUE_BATCH = 500


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


Outcome = tuple[str, str]  # the delivery's status, and what happened in words


class _Ignored(Exception):
    """The delivery is settled as `ignored`; the outcome is its message."""


def _route(store: Store, delivery: Delivery, payload: Any) -> Outcome:
    """Send a delivery's JSON where its topic says, then apply the order it carries."""
    if delivery.topic == "order.deleted":
        with contextlib.suppress(ValueError):  # no order id: recorded below as not an order
            return DeliveryStatus.PROCESSED, order_deleted(
                store=store, payload=payload, delivery=delivery
            )
    elif delivery.topic.startswith("action."):
        try:
            payload = _order_of_action(store, delivery, payload)
        except _Ignored as ignored:
            return DeliveryStatus.IGNORED, str(ignored)
    if not is_order(payload):
        return _not_an_order(store, delivery, payload)
    return _apply(store, delivery, payload)


def _order_of_action(store: Store, delivery: Delivery, payload: Any) -> Any:
    """An `action.*` delivery names its order in `arg`: fetch it from the shop."""
    topic = delivery.topic
    order_id = order_id_of(payload.get("arg")) if isinstance(payload, dict) else None
    if not order_id:
        return payload
    if not store.has_api_keys:
        record_error(
            store=store,
            kind=ErrorKind.INVALID_DATA,
            subject=f"action:{order_id}",
            delivery=delivery,
            payload=payload,
            message=f"{topic} for order {order_id} carries no order; add the "
            "store's API keys so Matchpal can fetch it.",
        )
        raise _Ignored("an action without API keys to fetch the order")
    try:
        return client.fetch_order(store, order_id)
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
        raise _Ignored(f"order {order_id} not found in the shop") from exc


def _not_an_order(store: Store, delivery: Delivery, payload: Any) -> Outcome:
    """JSON that is no order (an error object, `null`, no id) is recorded for an admin."""
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
            else f"A {delivery.topic or 'delivery'} without an order id."
        ),
    )
    return DeliveryStatus.IGNORED, f"not an order ({code or 'no id'})"


def _apply(store: Store, delivery: Delivery, payload: dict[str, Any]) -> Outcome:
    """Apply the order; what our rules refuse becomes an error for an admin."""
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
    settle_failures(store, payload["id"], note="A later snapshot of the order went through.")
    return DeliveryStatus.PROCESSED, outcome


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
