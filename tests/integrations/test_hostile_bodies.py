"""No delivery stays stuck: whatever a signed body holds (a NUL that PostgreSQL refuses in
jsonb, a nesting deep enough to exhaust the parser, numbers JSON does not allow), the delivery
ends processed, ignored or failed, and a failed one opens an order error."""

import json

import pytest

from grants.reconcile import find_differences
from integrations.woocommerce import bodies, services
from integrations.woocommerce.models import (
    Delivery,
    DeliveryStatus,
    ErrorKind,
    Order,
    OrderError,
)
from integrations.woocommerce.tasks import requeue_stuck_deliveries
from tests.integrations import woo
from tests.integrations.conftest import Shop, grants_of
from tests.support import later

pytestmark = pytest.mark.django_db

DEEP = b"[" * 100_000 + b"]" * 100_000
DEEP_IN_AN_ORDER = (
    woo.php_json(woo.order(status="completed"))[:-1]
    + b',"x":'
    + b"{" * 1
    + b'"a":'
    + b"[" * 100_000
    + b"]" * 100_000
    + b"}}"
)


def with_nul(payload: dict) -> bytes:
    """The order as PHP's json_encode writes a string holding a NUL character."""
    payload["billing"]["first_name"] = "Ma_NUL_ya"
    payload["customer_note"] = "call me_NUL_"
    payload["meta_data"] = [{"key": "_NUL_", "value": "_NUL_"}]
    return woo.php_json(payload).replace(b"_NUL_", b"\\u0000")


def test_a_nul_in_a_string_is_kept_readable_and_the_order_granted(shop: Shop) -> None:
    response = shop.post(body=with_nul(woo.order(status="completed")))

    assert response.status_code == 200
    delivery = shop.last_delivery()
    assert (delivery.status, delivery.outcome) == ("processed", "granted 10 h for line 315")
    assert b"\\u0000" in bytes(delivery.body)  # the exact body stays as it arrived
    order = Order.objects.get()
    assert order.payload["billing"]["first_name"] == "Ma\ufffdya"
    assert order.payload["customer_note"] == "call me\ufffd"
    assert order.payload["meta_data"] == [{"key": "\ufffd", "value": "\ufffd"}]
    assert [g.total for g in grants_of()] == [600]
    assert not OrderError.objects.exists()
    assert find_differences() == []


def test_a_lone_surrogate_is_kept_readable_too(shop: Shop) -> None:
    payload = woo.order(status="completed")
    payload["customer_note"] = "_SURROGATE_"
    body = woo.php_json(payload).replace(b"_SURROGATE_", b"\\ud800")

    shop.post(body=body)

    assert shop.last_delivery().status == "processed"
    assert Order.objects.get().payload["customer_note"] == "\ufffd"


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (DEEP, bodies.TOO_DEEP),
        (DEEP_IN_AN_ORDER, bodies.TOO_DEEP),
        (b'{"id":727,"total":NaN}', bodies.NOT_JSON),
        (b'{"id":727,"total":Infinity}', bodies.NOT_JSON),
        (b'{"id":727,"total":1e400}', bodies.OUT_OF_RANGE),
        (b'{"id":727,"note":"a\x00b"}', bodies.NOT_JSON),  # a raw NUL byte: not JSON at all
    ],
    ids=["deep", "deep-in-an-order", "nan", "infinity", "huge-number", "raw-nul-byte"],
)
def test_a_body_that_cannot_be_read_ends_failed_with_an_error(
    shop: Shop, body: bytes, reason: str
) -> None:
    response = shop.post(body=body, topic="order.created")

    assert response.status_code == 200
    delivery = shop.last_delivery()
    outcome = reason[0].upper() + reason[1:] + "."
    assert (delivery.status, delivery.outcome) == ("failed", outcome)
    error = OrderError.objects.get()
    assert (error.kind, error.delivery, error.message) == (
        ErrorKind.INVALID_DATA,
        delivery,
        "A order.created did not contain valid JSON."
        if reason == bodies.NOT_JSON
        else f"A order.created could not be read: {reason}.",
    )
    excerpt = error.payload["body"]
    assert excerpt == bodies.excerpt(body)
    assert len(excerpt) <= bodies.EXCERPT_CHARS
    assert "\x00" not in excerpt
    assert not Order.objects.exists()
    assert not grants_of()


def test_an_order_id_beyond_any_shop_is_not_an_order(shop: Shop) -> None:
    shop.post(woo.order(order_id=2**63, status="completed"))

    delivery = shop.last_delivery()
    assert (delivery.status, delivery.outcome) == ("ignored", "not an order (no id)")
    assert not Order.objects.exists()


def test_the_sweeper_ends_stuck_deliveries_whatever_their_body(shop: Shop) -> None:
    # Stored before the fix (or their task lost): still `received`, the sweeper takes them.
    nul = Delivery.objects.create(
        organization_id=shop.store.organization_id,
        store=shop.store,
        topic="order.updated",
        body=with_nul(woo.order(status="completed")),
        signature_valid=True,
    )
    deep = Delivery.objects.create(
        organization_id=shop.store.organization_id,
        store=shop.store,
        topic="order.updated",
        body=DEEP,
        signature_valid=True,
    )

    with later(6):
        assert requeue_stuck_deliveries.delay().get() == 2

    nul.refresh_from_db()
    deep.refresh_from_db()
    assert (nul.status, deep.status) == ("processed", "failed")
    assert [g.total for g in grants_of()] == [600]
    assert OrderError.objects.get().delivery == deep
    with later(30):
        assert services.deliveries_to_requeue() == []


def test_giving_up_does_not_depend_on_the_body_being_storable(shop: Shop) -> None:
    # What the task does when processing raised something unexpected, for each hostile body:
    # the failure and its error are stored whatever the body and the reason hold.
    for body in (DEEP, with_nul(woo.order(order_id=9, status="completed")), b"\x00\xff"):
        delivery = Delivery.objects.create(
            organization_id=shop.store.organization_id,
            store=shop.store,
            topic="order.updated",
            body=body,
            signature_valid=True,
        )

        assert services.delivery_fail(delivery_id=delivery.pk, reason="it broke on \x00 here")

        delivery.refresh_from_db()
        assert (delivery.status, delivery.outcome) == (
            DeliveryStatus.FAILED,
            "Gave up: it broke on \ufffd here",
        )
        error = OrderError.objects.get(delivery=delivery)
        assert error.kind == ErrorKind.PROCESSING_FAILED
        assert "\x00" not in error.message
    assert OrderError.objects.get(subject="order:9").payload["customer_note"] == "call me\ufffd"


def test_an_unexpected_error_on_a_body_with_a_nul_ends_failed_with_its_error(
    shop: Shop,
) -> None:
    payload = woo.order(status="completed")
    payload["billing"] = "maya_NUL_@example.net"  # a plugin flattened the billing object

    response = shop.post(body=woo.php_json(payload).replace(b"_NUL_", b"\\u0000"))

    assert response.status_code == 200
    delivery = shop.last_delivery()
    assert delivery.status == "failed"
    assert delivery.outcome.startswith("Gave up: an unexpected error (AttributeError")
    error = OrderError.objects.get()
    assert (error.kind, error.subject, error.delivery) == (
        ErrorKind.PROCESSING_FAILED,
        "order:727",
        delivery,
    )
    assert error.payload["billing"] == "maya\ufffd@example.net"


def test_a_failure_is_stored_even_when_the_parsed_body_is_not(shop: Shop, monkeypatch) -> None:
    # Were the reader ever to let through what jsonb refuses, giving up would still end the
    # delivery, storing the start of the raw body as text instead.
    monkeypatch.setattr(bodies, "parse", json.loads)
    body = with_nul(woo.order(order_id=11, status="completed"))
    delivery = Delivery.objects.create(
        organization_id=shop.store.organization_id,
        store=shop.store,
        topic="order.updated",
        body=body,
        signature_valid=True,
    )

    assert services.delivery_fail(delivery_id=delivery.pk, reason="it broke")

    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.FAILED
    error = OrderError.objects.get()
    assert (error.subject, error.payload) == ("order:11", {"body": bodies.excerpt(body)})


def test_a_nul_in_a_header_is_stored_readable(shop: Shop) -> None:
    body = woo.php_json(woo.order(status="completed"))
    headers = woo.headers(topic="order.updated", secret=shop.store.webhook_secret, body=body)
    headers["HTTP_X_WC_WEBHOOK_DELIVERY_ID"] = "abc\x00def"

    with shop.capture(execute=True):
        response = shop.client.generic(
            "POST", shop.url, body, content_type="application/json", **headers
        )

    assert response.status_code == 200
    delivery = shop.last_delivery()
    assert (delivery.status, delivery.delivery_id) == ("processed", "abc\ufffddef")
    assert delivery.headers["X-WC-Webhook-Delivery-ID"] == "abc\ufffddef"
