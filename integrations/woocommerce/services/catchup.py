"""The catch-up: orders modified in the shop since the last sync, through the same fulfilment."""

import logging
from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone

from integrations.woocommerce import client
from integrations.woocommerce.models import ErrorKind, Order, Store
from integrations.woocommerce.services.errors import (
    OrderSkipped,
    record_error,
    settle_failures,
    unexpected_reason,
)
from integrations.woocommerce.services.fulfilment import apply_order
from integrations.woocommerce.services.payload import is_order, parse_gmt
from matchpal.errors import DomainError

log = logging.getLogger(__name__)


# The catch-up asks the shop for orders modified since a few minutes before the last one it
# handled: a shop clock behind ours, or an order saved just as the last run asked, would
# otherwise fall between two runs. Applying an order twice changes nothing.
SYNC_OVERLAP = timedelta(minutes=5)
FIRST_SYNC_WINDOW = timedelta(days=7)


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
    settle_failures(store, order_id, note="Applied by a later catch-up.")
    return True
