"""Order → grant fulfilment, idempotent by construction.

Every path — a webhook delivery, the catch-up sync, an admin's "reprocess" — goes through
`apply_order` (fulfilment.py), which locks the store's order row (one writer per order at a
time), ignores snapshots older than the one applied, grants each mapped line at most once (a
unique constraint per store, order and line item, plus the ledger's idempotency key) and turns
whatever a person must decide into an `OrderError` (errors.py).

payload.py reads what the shop sends; refunds.py takes hours back; deliveries.py handles the
webhook's deliveries; catchup.py the periodic sync; console.py the admin's order-error page;
stores.py creates and edits the stores.
"""

from integrations.woocommerce.services.catchup import FIRST_SYNC_WINDOW, SYNC_OVERLAP, sync_store
from integrations.woocommerce.services.console import (
    ReprocessFailed,
    error_link_student,
    error_map_product,
    error_resolve,
    reprocess,
)
from integrations.woocommerce.services.deliveries import (
    REQUEUE_BATCH,
    REQUEUE_PAUSE,
    STUCK_AFTER,
    deliveries_release,
    deliveries_to_requeue,
    delivery_fail,
    delivery_postpone_sweep,
    order_deleted,
    process_delivery,
)
from integrations.woocommerce.services.errors import OrderSkipped, record_error, unexpected_reason
from integrations.woocommerce.services.fulfilment import (
    FULL_REFUND_STATUSES,
    REVERSED_AFTER_PAYMENT,
    apply_order,
)
from integrations.woocommerce.services.payload import MAX_ID, is_order, order_id_of, parse_gmt
from integrations.woocommerce.services.privacy import orders_anonymise
from integrations.woocommerce.services.stores import store_create, store_update

__all__ = [
    "FIRST_SYNC_WINDOW",
    "FULL_REFUND_STATUSES",
    "MAX_ID",
    "REQUEUE_BATCH",
    "REQUEUE_PAUSE",
    "REVERSED_AFTER_PAYMENT",
    "STUCK_AFTER",
    "SYNC_OVERLAP",
    "OrderSkipped",
    "ReprocessFailed",
    "apply_order",
    "deliveries_release",
    "deliveries_to_requeue",
    "delivery_fail",
    "delivery_postpone_sweep",
    "error_link_student",
    "error_map_product",
    "error_resolve",
    "is_order",
    "order_deleted",
    "order_id_of",
    "orders_anonymise",
    "parse_gmt",
    "process_delivery",
    "record_error",
    "reprocess",
    "store_create",
    "store_update",
    "sync_store",
    "unexpected_reason",
]
