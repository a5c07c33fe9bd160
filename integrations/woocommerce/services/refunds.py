"""Taking hours back: an order refunded (or reversed) in full, and partial refunds line by line."""

from typing import Any

from django.utils import timezone

from grants import selectors as ledger_reads
from grants import services as ledger
from integrations.woocommerce import client
from integrations.woocommerce.models import ErrorKind, Order, OrderLineGrant, Store
from integrations.woocommerce.services.errors import record_error
from integrations.woocommerce.services.payload import order_id_of
from matchpal.quantities import format_quantity


def _take_back(
    store: Store, order: Order, line_grant: OrderLineGrant, packages: int, why: str, subject: str
) -> str:
    """Refund `packages` of a line's grant: what is unused and unheld goes back; the rest is
    an error for an admin, never removed silently."""
    # Locked so that what is refundable cannot shrink (a hold, a session) before the refund
    # takes it: the order is locked already, and nothing locks a grant and then an order.
    grant = ledger_reads.grant_get_for_update(grant_id=line_grant.grant_id)
    wanted = min(packages, line_grant.quantity - line_grant.refunded_quantity)
    if wanted <= 0:
        return ""
    # The package's size when it was sold (its credit), not its size today: an admin may have
    # changed the package since.
    credited = ledger_reads.grant_credited(grant=grant)
    amount = wanted * (credited // line_grant.quantity)
    refundable = min(amount, max(grant.available, 0))
    if refundable:
        grant = ledger.grant_refund(
            actor=None, grant=grant, quantity=refundable, reason=why, reference=order.reference
        )
    if refundable < amount:
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


def full_refund(store: Store, order: Order, status: str) -> list[str]:
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


def refund_details(store: Store, payload: dict[str, Any]) -> RefundDetails:
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


def partial_refunds(
    store: Store,
    order: Order,
    payload: dict[str, Any],
    details: RefundDetails,
) -> list[str]:
    """Take back what each refund of a paid order that is new to us refunded, line by line."""
    new = _new_refunds(order, payload)
    if not new:
        return []
    if not store.has_api_keys:
        return _leave_to_an_admin(store, order, new)
    fetched = _details_under_lock(store, order, details)
    line_grants = {lg.line_item_id: lg for lg in order.line_grants.select_related("package")}
    lines = {order_id_of(li.get("id")): li for li in payload.get("line_items") or []}
    notes: list[str] = []
    for refund in new:
        refund_id = order_id_of(refund["id"])
        detail = fetched.get(refund_id) or {}
        if not _names_quantities(detail):
            _record_unitemised(store, order, refund, refund_id, detail)
            notes.append("partial refund left for an admin")
        for item in detail.get("line_items") or []:
            line_id = _refunded_line_id(item, lines)
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


def _new_refunds(order: Order, payload: dict[str, Any]) -> list[dict[str, Any]]:
    """The refunds the snapshot lists that this order has not handled yet."""
    return [
        r
        for r in payload.get("refunds") or []
        if order_id_of(r.get("id")) and order_id_of(r.get("id")) not in order.handled_refund_ids
    ]


def _refund_words(order: Order, refund: dict[str, Any], shown_id: Any) -> str:
    return (
        f"{order.reference}: partial refund #{shown_id} of "
        f"{str(refund.get('total', '')).lstrip('-')} "
        f"({refund.get('reason') or 'no reason given'})"
    )


def _leave_to_an_admin(store: Store, order: Order, new: list[dict[str, Any]]) -> list[str]:
    """Without API keys the webhook does not say which lines a refund covers: each new refund
    becomes an error for an admin, and counts as handled."""
    for refund in new:
        record_error(
            store=store,
            order=order,
            kind=ErrorKind.PARTIAL_REFUND,
            subject=f"refund:{refund['id']}",
            payload=refund,
            message=(
                f"{_refund_words(order, refund, refund['id'])}. Which lines it covers "
                "is not in the webhook; take back the hours by hand, then resolve."
            ),
        )
        order.handled_refund_ids.append(order_id_of(refund["id"]))
    return ["partial refund left for an admin"]


def _details_under_lock(
    store: Store, order: Order, details: RefundDetails
) -> dict[int | None, Any]:
    """The details fetched before the lock; the shop's error when that fetch failed."""
    if isinstance(details, client.ShopAPIError):
        raise details  # the delivery's task retries; the reprocess form says so
    if details is None:  # not foreseen before the lock (cannot happen; see refund_details)
        details = {order_id_of(r.get("id")): r for r in client.fetch_refunds(store, order.order_id)}
    return details


def _names_quantities(detail: dict[str, Any]) -> bool:
    return any(-int(item.get("quantity") or 0) > 0 for item in detail.get("line_items") or [])


def _record_unitemised(
    store: Store, order: Order, refund: dict[str, Any], refund_id: int | None, detail: Any
) -> None:
    """An amount refunded without line quantities (or a refund the API did not list): whether
    hours go back is a person's decision, never a silent "nothing"."""
    record_error(
        store=store,
        order=order,
        kind=ErrorKind.PARTIAL_REFUND,
        subject=f"refund:{refund_id}",
        payload=detail or refund,
        message=(
            f"{_refund_words(order, refund, refund_id)} names no refunded "
            "quantities; decide whether hours go back, then resolve."
        ),
    )


def _refunded_line_id(item: dict[str, Any], lines: dict[int | None, Any]) -> int | None:
    """The order line a refunded item refunds: by its meta, else by product and variation."""
    line_id = _refunded_item_id(item)
    if line_id is not None:
        return line_id
    return next(
        (
            lid
            for lid, li in lines.items()
            if li.get("product_id") == item.get("product_id")
            and li.get("variation_id", 0) == item.get("variation_id", 0)
        ),
        None,
    )
