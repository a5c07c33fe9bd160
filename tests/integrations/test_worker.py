"""From delivery to grant through a real Celery worker on Redis: the endpoint stores the
delivery and enqueues on commit, the worker (in a thread, on this test's database) applies it;
and when the broker was down as the delivery arrived, the sweeper enqueues it later."""

import contextlib
import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
import time_machine
from celery.contrib.testing.worker import start_worker
from celery.signals import task_received
from django.db import close_old_connections
from django.utils import timezone

from grants.models import Grant
from grants.reconcile import find_differences
from integrations.woocommerce.models import Delivery, Order
from integrations.woocommerce.tasks import requeue_stuck_deliveries
from matchpal.celery import app as celery_app
from notifications.models import DeliveryStatus, EmailDelivery
from tests.integrations import woo
from tests.integrations.conftest import Shop, grants_of
from tests.support import broker_down

pytestmark = [pytest.mark.django_db(transaction=True)]


def wait_for(condition, timeout: float = 20.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        close_old_connections()
        if condition():
            return True
        time.sleep(0.1)
    return False


@contextlib.contextmanager
def real_worker() -> Iterator[list[str]]:
    """A worker thread on the app's Redis broker; yields the names of the tasks it received."""
    saved = (celery_app.conf.task_always_eager, celery_app.conf.worker_hijack_root_logger)
    celery_app.conf.task_always_eager = False
    celery_app.conf.worker_hijack_root_logger = False  # leave pytest's log capture alone
    received: list[str] = []

    def on_received(request, **_kwargs) -> None:  # type: ignore[no-untyped-def]
        received.append(request.name)  # only a worker that took the message from the broker

    task_received.connect(on_received, weak=False)
    try:
        with start_worker(celery_app, pool="solo", perform_ping_check=False, shutdown_timeout=30):
            yield received
    finally:
        task_received.disconnect(on_received)
        celery_app.conf.task_always_eager, celery_app.conf.worker_hijack_root_logger = saved


def test_a_signed_delivery_is_granted_by_a_real_worker(shop: Shop) -> None:
    assert celery_app.conf.broker_url.startswith("redis://"), celery_app.conf.broker_url
    with real_worker() as received:
        body = woo.php_json(woo.order(status="completed"))
        response = shop.client.generic(
            "POST",
            shop.url,
            body,
            content_type="application/json",
            **woo.headers(topic="order.created", secret=shop.store.webhook_secret, body=body),
        )
        assert response.status_code == 200
        # Answered before the work: the delivery is stored, not yet processed.
        assert Delivery.objects.get().status in ("received", "processed")

        assert wait_for(
            lambda: (
                Delivery.objects.filter(status="processed").exists()
                and Grant.objects.filter(reference="Order #727").exists()
            )
        ), f"not processed in time: {list(Delivery.objects.values('status', 'outcome'))}"

    assert "integrations.woocommerce.tasks.process_delivery" in received

    [grant] = grants_of()
    assert (grant.total, grant.source, grant.student.email) == (
        600,
        "woocommerce",
        "maya@example.net",
    )
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.outcome) == ("processed", "granted 10 h for line 315")
    assert delivery.processed_at is not None
    assert Order.objects.get().fulfilled_at is not None
    assert find_differences() == []


def test_a_delivery_stored_while_the_broker_was_down_is_granted_after_the_sweep(
    shop: Shop,
) -> None:
    body = woo.php_json(woo.order(status="completed"))
    with broker_down():
        response = shop.client.generic(
            "POST",
            shop.url,
            body,
            content_type="application/json",
            **woo.headers(topic="order.created", secret=shop.store.webhook_secret, body=body),
        )
    assert response.status_code == 200
    assert Delivery.objects.get().status == "received"

    with real_worker() as received:
        time.sleep(1)
        assert Delivery.objects.get().status == "received"  # nothing was ever enqueued
        # Beat's run five minutes later, publishing to the broker that is back.
        with time_machine.travel(timezone.now() + timedelta(minutes=6), tick=True):
            assert requeue_stuck_deliveries() == 1
        assert wait_for(lambda: Delivery.objects.filter(status="processed").exists()), list(
            Delivery.objects.values("status", "outcome")
        )
        # The grant tells the student, by an email queued once the delivery's work committed.
        assert wait_for(
            lambda: EmailDelivery.objects.filter(status=DeliveryStatus.SENT).exists()
        ), list(EmailDelivery.objects.values("to", "status", "error"))

    assert received == [
        "integrations.woocommerce.tasks.process_delivery",
        "notifications.tasks.send_email",
    ]
    assert [g.total for g in grants_of()] == [600]
    assert list(EmailDelivery.objects.values_list("kind", "to", "status")) == [
        ("hours_granted", "maya@example.net", DeliveryStatus.SENT)
    ]
    assert find_differences() == []
