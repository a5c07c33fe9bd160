"""Nothing is lost: a delivery stored while the broker is down is still answered 200 and picked
up by the sweeper; a delivery whose retries run out, or whose processing hits an unexpected
error, ends `failed` with an error for an admin instead of staying `received` for ever."""

import logging
from datetime import timedelta

import pytest
from django.utils import timezone
from kombu.exceptions import OperationalError

from grants.reconcile import find_differences
from integrations.woocommerce import services
from integrations.woocommerce.models import Delivery, DeliveryStatus, ErrorKind, OrderError
from integrations.woocommerce.tasks import MAX_RETRIES, process_delivery, requeue_stuck_deliveries
from matchpal.models import Notification
from tests.integrations import woo
from tests.integrations.conftest import Shop, ShopAPI, grants_of
from tests.support import Tenant, broker_down, later

# The notices these tests are about (others, of other kinds, are tests/notifications').
TOLD = Notification.objects.filter(kind="order_error")

pytestmark = pytest.mark.django_db


# --- The broker is down when the delivery arrives -------------------------------------------


def test_a_delivery_arriving_while_the_broker_is_down_is_stored_and_answered_200(
    shop: Shop, caplog
) -> None:
    with broker_down(), caplog.at_level(logging.ERROR):
        response = shop.post(woo.order(status="completed"), topic="order.created")

    assert (response.status_code, response.content) == (200, b"ok")
    delivery = shop.last_delivery()
    assert (delivery.status, delivery.signature_valid) == ("received", True)
    assert not grants_of()
    [record] = [r for r in caplog.records if r.name == "integrations.woocommerce.views_webhook"]
    assert record.getMessage() == (
        f"Enqueueing WooCommerce delivery {delivery.pk} failed; the sweeper will."
    )
    assert isinstance(record.exc_info[1], OperationalError)  # kombu: connection refused

    # Five minutes on, the broker still down: the sweeper fails too, and gives its claim back
    # so that the next run tries at once.
    with later(6), broker_down(), pytest.raises(OperationalError):
        requeue_stuck_deliveries.apply()
    delivery.refresh_from_db()
    assert (delivery.status, delivery.sweep_after) == ("received", None)

    # The broker is back (eager Celery in these tests; test_worker.py runs a real one).
    with later(11):
        assert requeue_stuck_deliveries.delay().get() == 1

    delivery.refresh_from_db()
    assert (delivery.status, delivery.outcome) == ("processed", "granted 10 h for line 315")
    assert [g.total for g in grants_of()] == [600]
    assert find_differences() == []


def test_the_sweeper_takes_only_deliveries_whose_task_was_lost(shop: Shop) -> None:
    shop.post(woo.order(order_id=1, status="completed"))  # processed at once
    with broker_down():
        shop.post(woo.order(order_id=2, status="completed", lines=[woo.line(item_id=2)]))
        lost = shop.last_delivery()
        shop.post(woo.order(order_id=3, status="completed", lines=[woo.line(item_id=3)]))
        retrying = shop.last_delivery()
    services.delivery_postpone_sweep(
        delivery_id=retrying.pk, until=timezone.now() + timedelta(minutes=10)
    )
    with later(2):
        shop.post(woo.order(order_id=4, status="pending", lines=[woo.line(item_id=4)]))
    recent = shop.last_delivery()
    Delivery.objects.filter(pk=recent.pk).update(status=DeliveryStatus.RECEIVED)  # task lost
    shop.post(body=b"not json")  # failed: never taken again

    with later(6):
        assert services.deliveries_to_requeue() == [lost.pk]
        # Run twice (or by two beats at once): the claim holds, nothing is taken again.
        assert services.deliveries_to_requeue() == []
    # The delivery waiting for its retry is taken once the retry is overdue; the recent one
    # once it is old enough.
    with later(16):
        assert services.deliveries_to_requeue() == [retrying.pk, recent.pk]
    # The first claim expired: still `received` (its task lost again), it is taken again.
    with later(22):
        assert services.deliveries_to_requeue() == [lost.pk]


# --- Retries run out; an unexpected error --------------------------------------------------


def test_retries_that_run_out_end_the_delivery_failed_with_an_error(
    keyed_shop: Shop, shop_api: ShopAPI, tenant_a: Tenant
) -> None:
    shop_api.routes["/wp-json/wc/v3/orders/727"] = lambda _request: (
        503,
        {"code": "service_unavailable", "message": "The shop is down for maintenance."},
        {},
    )
    keyed_shop.post(
        {"action": "woocommerce_payment_complete", "arg": 727},
        topic="action.woocommerce_payment_complete",
    )
    delivery = keyed_shop.last_delivery()
    assert delivery.status == "received"  # the first attempt failed; a retry is scheduled

    process_delivery.apply(args=[delivery.pk], retries=MAX_RETRIES)  # the last attempt

    delivery.refresh_from_db()
    reason = (
        "the shop's API failed 6 times (The shop's API answered orders/727 with 503: "
        "service_unavailable (The shop is down for maintenance))"
    )
    assert (delivery.status, delivery.outcome) == ("failed", f"Gave up: {reason}")
    assert delivery.processed_at is not None
    error = OrderError.objects.get()
    assert (error.kind, error.subject, error.delivery, error.message) == (
        ErrorKind.PROCESSING_FAILED,
        "order:727",
        delivery,
        f"The action.woocommerce_payment_complete delivery for order 727 could not be "
        f"processed: {reason}. Nothing from it was applied. Check the order in the shop and "
        "settle it by hand, then resolve.",
    )
    assert TOLD.filter(
        user=tenant_a.admin, text__startswith="Alpha shop: Processing failed — The action."
    ).exists()
    # A failed delivery is never swept again: its failure is an admin's to settle.
    with later(30):
        assert services.deliveries_to_requeue() == []
    # Running the task again changes nothing.
    process_delivery.apply(args=[delivery.pk])
    assert OrderError.objects.count() == 1
    assert not grants_of()

    # The shop recovers and sends the order again: the failure is settled by itself.
    keyed_shop.post(woo.order(status="completed"), topic="order.updated")

    assert [g.total for g in grants_of()] == [600]
    error.refresh_from_db()
    assert (error.resolved_at is not None, error.resolution_note) == (
        True,
        "A later snapshot of the order went through.",
    )
    assert find_differences() == []


def test_an_unexpected_error_ends_the_delivery_failed_with_an_error(
    shop: Shop, tenant_a: Tenant, caplog
) -> None:
    payload = woo.order(status="completed")
    payload["billing"] = "maya@example.net"  # a plugin flattened the billing object

    with caplog.at_level(logging.ERROR):
        response = shop.post(payload)

    assert response.status_code == 200
    delivery = shop.last_delivery()
    reason = (
        "an unexpected error (AttributeError: 'str' object has no attribute 'get'); the "
        "details are in the log"
    )
    assert (delivery.status, delivery.outcome) == ("failed", f"Gave up: {reason}")
    error = OrderError.objects.get()
    assert (error.kind, error.subject, error.message) == (
        ErrorKind.PROCESSING_FAILED,
        "order:727",
        f"The order.updated delivery for order 727 could not be processed: {reason}. Nothing "
        "from it was applied. Check the order in the shop and settle it by hand, then resolve.",
    )
    assert TOLD.filter(user=tenant_a.admin).count() == 1
    assert not grants_of()
    assert any(isinstance(r.exc_info and r.exc_info[1], AttributeError) for r in caplog.records)


# --- Our own database fails for a moment -----------------------------------------------------


@pytest.mark.concurrency
@pytest.mark.django_db(transaction=True)
def test_a_database_error_is_retried_and_the_order_granted(shop: Shop) -> None:
    """A lock timeout (PostgreSQL's 55P03, an OperationalError, like a deadlock victim or a
    dropped connection) is retried like a shop failure, not failed for good: the order row is
    held by another connection for a moment, and a later attempt grants it."""
    import threading

    import psycopg
    from celery.exceptions import Retry
    from django.db import connection

    from integrations.woocommerce.models import Order
    from tests.integrations.test_fulfilment import stored_delivery

    shop.post(woo.order(status="pending", modified="2026-03-10T14:21:05"))
    order = Order.objects.get()
    delivery = stored_delivery(
        shop.store, woo.order(status="completed", modified="2026-03-10T14:25:00")
    )

    settings = connection.get_connection_params()
    locked, release = threading.Event(), threading.Event()

    def hold_the_order_row() -> None:
        with psycopg.connect(**settings) as other, other.transaction():
            other.execute(
                f"SELECT 1 FROM {Order._meta.db_table} WHERE id = %s FOR UPDATE", [order.pk]
            )
            locked.set()
            release.wait(10)

    holder = threading.Thread(target=hold_the_order_row, daemon=True)
    holder.start()
    assert locked.wait(10)
    attempts: list[int] = []
    real = services.process_delivery

    def counted(delivery_id: int) -> None:
        attempts.append(delivery_id)
        if len(attempts) == 2:
            release.set()  # the other connection commits while attempt 2 waits for the lock
            holder.join(10)
        real(delivery_id)

    with connection.cursor() as cursor:
        cursor.execute("SET lock_timeout = '300ms'")
    try:
        services.process_delivery = counted  # type: ignore[assignment]
        # The first attempt meets the lock, gives up after 300 ms and schedules a retry (eager
        # Celery raises it here); the delivery waits, "received", its sweep postponed.
        with pytest.raises(Retry):
            process_delivery.apply(args=[delivery.pk])
        delivery.refresh_from_db()
        assert delivery.status == "received"
        assert delivery.sweep_after is not None
        # The retry, as the worker runs it 30 s later.
        process_delivery.apply(args=[delivery.pk], retries=1)
    finally:
        services.process_delivery = real  # type: ignore[assignment]
        release.set()
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = 0")

    delivery.refresh_from_db()
    assert len(attempts) == 2  # the first timed out on the lock; the second went through
    assert (delivery.status, delivery.outcome) == ("processed", "granted 10 h for line 315")
    assert len(grants_of()) == 1
    assert not OrderError.objects.exists()
    assert find_differences() == []
