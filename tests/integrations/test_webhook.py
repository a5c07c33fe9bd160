"""The delivery endpoint, fed exactly what WooCommerce sends (tests/integrations/woo.py): the
activation ping, signatures over the raw bytes, sizes, URLs, CSRF, error bodies, the deleted and
custom-action topics."""

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from grants.models import Grant
from grants.reconcile import find_differences
from integrations.woocommerce.models import Delivery, ErrorKind, Order, OrderError, Store
from integrations.woocommerce.views_webhook import MAX_BODY_BYTES
from matchpal.models import Notification
from tests.integrations import woo
from tests.integrations.conftest import CONSUMER_KEY, CONSUMER_SECRET, Shop, ShopAPI, grants_of
from tests.support import Tenant

# The notices these tests are about (others, of other kinds, are tests/notifications').
TOLD = Notification.objects.filter(kind="order_error")

pytestmark = pytest.mark.django_db

REJECTED = "Missing or wrong signature; nothing was processed."


# --- The activation ping --------------------------------------------------------------------


def test_activation_ping_gets_exactly_200_and_is_not_an_order(shop: Shop) -> None:
    response = shop.ping()

    assert response.status_code == 200  # WooCommerce counts only an exact 200
    assert response.content == b"ok"
    assert shop.callbacks == []  # nothing enqueued
    delivery = shop.last_delivery()
    assert (delivery.topic, delivery.status, delivery.outcome, delivery.signature_valid) == (
        "ping",
        "ping",
        "Activation ping answered.",
        False,
    )
    assert bytes(delivery.body) == b"webhook_id=7"
    assert not any(name.startswith("X-WC") for name in delivery.headers)
    assert not Order.objects.exists()
    assert not OrderError.objects.exists()


def test_ping_is_answered_on_the_url_without_the_final_slash_too(shop: Shop) -> None:
    response = shop.ping(url=shop.url.rstrip("/"))

    assert response.status_code == 200
    assert shop.last_delivery().status == "ping"


# --- What a real delivery looks like when stored --------------------------------------------


def test_delivery_is_stored_with_its_exact_bytes_and_headers(shop: Shop) -> None:
    payload = woo.order(email="zoe.muller@example.net", first_name="Zoë", last_name="Müller")
    payload["meta_data"] = [
        {
            "id": 1,
            "key": "_wc_order_attribution_source_url",
            "value": "https://shop.example.org/checkout/",
        }
    ]
    body = woo.php_json(payload)
    # As PHP writes it: slashes and non-ASCII escaped.
    assert b"checkout\\/" in body
    assert b"Zo\\u00eb" in body
    assert b"Tutoring \\u2013 10 hours" in body

    response = shop.post(body=body, topic="order.created")

    assert response.status_code == 200
    delivery = shop.last_delivery()
    assert bytes(delivery.body) == body
    assert (delivery.topic, delivery.webhook_id, delivery.signature_valid) == (
        "order.created",
        "7",
        True,
    )
    assert re.fullmatch(r"[0-9a-f]{32}", delivery.delivery_id)
    assert delivery.headers["X-WC-Webhook-Resource"] == "order"
    assert delivery.headers["X-WC-Webhook-Event"] == "created"
    assert delivery.headers["X-WC-Webhook-Source"] == "https://shop.example.org/"
    assert delivery.headers["User-Agent"] == "WooCommerce/10.5.0 Hookshot (WordPress/6.9)"
    assert (delivery.status, delivery.outcome) == ("processed", "granted 10 h for line 315")
    student = Grant.objects.get().student
    assert (student.name, student.email) == ("Zoë Müller", "zoe.muller@example.net")
    assert find_differences() == []


# --- Signatures -----------------------------------------------------------------------------


@pytest.mark.parametrize("secret", ["not-the-secret", None], ids=["wrong", "missing"])
def test_bad_or_missing_signature_is_401_recorded_and_not_processed(
    shop: Shop, secret: str | None
) -> None:
    response = shop.post(woo.order(status="completed"), secret=secret)

    assert response.status_code == 401
    assert shop.callbacks == []
    assert shop.statuses() == [("rejected", REJECTED)]
    assert shop.last_delivery().signature_valid is False
    assert not Order.objects.exists()
    assert not Grant.objects.exists()


def test_a_signature_over_reserialised_json_does_not_match(shop: Shop) -> None:
    payload = woo.order(status="completed")
    body = woo.php_json(payload)
    other_bytes = body.replace(b"\\/", b"/").replace(b",", b", ")  # same JSON, other bytes
    headers = woo.headers(topic="order.updated", secret=shop.store.webhook_secret, body=other_bytes)

    response = shop.client.generic(
        "POST", shop.url, body, content_type="application/json", **headers
    )

    assert response.status_code == 401
    assert shop.statuses() == [("rejected", REJECTED)]


def test_another_stores_secret_is_refused(shop: Shop, tenant_a: Tenant) -> None:
    other = Store.objects.create(
        organization=tenant_a.organization,
        name="Other shop",
        store_url="https://other.example.org/",
    )

    response = shop.post(woo.order(status="completed"), secret=other.webhook_secret)

    assert response.status_code == 401
    assert shop.statuses() == [("rejected", REJECTED)]
    assert not Delivery.objects.filter(store=other).exists()
    assert not Grant.objects.exists()


def test_a_foreign_tenants_secret_is_refused(shop: Shop, tenant_b: Tenant) -> None:
    foreign = Store.objects.create(
        organization=tenant_b.organization, name="Beta shop", store_url="https://beta.example.org/"
    )

    response = shop.post(woo.order(status="completed"), secret=foreign.webhook_secret)

    assert response.status_code == 401
    assert not Grant.objects.exists()


# --- Sizes, URLs, methods, CSRF --------------------------------------------------------------


def test_unknown_token_is_404(shop: Shop) -> None:
    response = shop.post(woo.order(), url="/hooks/woocommerce/no-such-token/")

    assert response.status_code == 404
    assert not Delivery.objects.exists()


def test_an_inactive_store_is_404(shop: Shop) -> None:
    Store.objects.filter(pk=shop.store.pk).update(is_active=False)

    assert shop.post(woo.order(status="completed")).status_code == 404
    assert not Delivery.objects.exists()


def test_oversized_body_is_413_and_not_stored(shop: Shop) -> None:
    payload = woo.order(status="completed")
    payload["customer_note"] = "x" * MAX_BODY_BYTES

    response = shop.post(payload)

    assert response.status_code == 413
    assert not Delivery.objects.exists()
    assert not Grant.objects.exists()


def test_url_with_and_without_final_slash_both_answer_200_without_redirect(shop: Shop) -> None:
    assert shop.url.endswith("/")
    first = shop.post(woo.order(status="completed", order_id=727))
    second = shop.post(woo.order(status="completed", order_id=728), url=shop.url.rstrip("/"))

    assert (first.status_code, second.status_code) == (200, 200)
    assert [d.status for d in Delivery.objects.order_by("pk")] == ["processed", "processed"]
    assert [len(grants_of(727)), len(grants_of(728))] == [1, 1]
    assert find_differences() == []


def test_get_is_405(shop: Shop) -> None:
    assert shop.client.get(shop.url).status_code == 405
    assert not Delivery.objects.exists()


def test_csrf_is_enforced_elsewhere_but_not_on_the_webhook(shop: Shop, tenant_a: Tenant) -> None:
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(tenant_a.admin, backend="django.contrib.auth.backends.ModelBackend")

    refused = browser.post(
        "/o/alpha/shop/new/", {"name": "Sneaky", "store_url": "https://evil.example/"}
    )
    assert refused.status_code == 403
    assert Store.objects.count() == 1

    strict = Client(enforce_csrf_checks=True)
    body = woo.php_json(woo.order(status="completed"))
    with shop.capture(execute=True):
        response = strict.generic(
            "POST",
            shop.url,
            body,
            content_type="application/json",
            **woo.headers(topic="order.created", secret=shop.store.webhook_secret, body=body),
        )
    assert response.status_code == 200
    assert len(grants_of()) == 1
    assert find_differences() == []


# --- Bodies that are not orders --------------------------------------------------------------


def test_malformed_json_is_answered_200_then_failed_with_an_error(shop: Shop) -> None:
    response = shop.post(body=b'{"id":727,"status":"completed",', topic="order.created")

    assert response.status_code == 200
    delivery = shop.last_delivery()
    assert (delivery.status, delivery.outcome) == ("failed", "The body is not JSON.")
    error = OrderError.objects.get()
    assert (error.kind, error.message, error.delivery) == (
        ErrorKind.INVALID_DATA,
        "A order.created did not contain valid JSON.",
        delivery,
    )
    assert error.payload == {"body": '{"id":727,"status":"completed",'}
    assert not Order.objects.exists()


@pytest.mark.parametrize(
    ("body", "code", "message"),
    [
        (
            {
                "code": "woocommerce_rest_shop_order_invalid_id",
                "message": "Invalid ID.",
                "data": {"status": 404},
            },
            "woocommerce_rest_shop_order_invalid_id",
            "Invalid ID.",
        ),
        (
            {
                "code": "woocommerce_rest_cannot_view",
                "message": "Sorry, you cannot view this resource.",
                "data": {"status": 401},
            },
            "woocommerce_rest_cannot_view",
            "Sorry, you cannot view this resource.",
        ),
    ],
)
def test_an_error_body_is_answered_200_ignored_and_recorded(
    shop: Shop, body: dict, code: str, message: str
) -> None:
    response = shop.post(body)

    assert response.status_code == 200
    delivery = shop.last_delivery()
    assert (delivery.status, delivery.outcome) == ("ignored", f"not an order ({code})")
    error = OrderError.objects.get()
    assert (error.kind, error.message, error.payload, error.order) == (
        ErrorKind.INVALID_DATA,
        f"The shop sent an error instead of an order: {code} — {message}",
        body,
        None,
    )
    assert not Order.objects.exists()


@pytest.mark.parametrize(
    "body",
    [{"id": "727"}, {"id": 0}, {"id": True}, [1, 2], "727"],
    ids=["string-id", "zero-id", "bool-id", "list", "string"],
)
def test_an_order_topic_without_an_integer_id_is_ignored(shop: Shop, body: object) -> None:
    response = shop.post(body)

    assert response.status_code == 200
    delivery = shop.last_delivery()
    assert (delivery.status, delivery.outcome) == ("ignored", "not an order (no id)")
    assert OrderError.objects.get().message == "A order.updated without an order id."
    assert not Order.objects.exists()


def test_a_json_null_body_is_not_taken_for_a_processed_delivery(shop: Shop) -> None:
    response = shop.post(body=b"null")

    assert response.status_code == 200
    delivery = shop.last_delivery()
    assert (delivery.status, delivery.outcome) == ("ignored", "not an order (no id)")
    assert OrderError.objects.get().kind == ErrorKind.INVALID_DATA


# --- order.deleted ---------------------------------------------------------------------------


def test_order_deleted_with_a_string_id_flags_the_known_order(
    shop: Shop, tenant_a: Tenant, mailoutbox
) -> None:
    shop.post(woo.order(status="completed"), topic="order.created")
    mailoutbox.clear()

    response = shop.post({"id": "727"}, topic="order.deleted")

    assert response.status_code == 200
    delivery = shop.last_delivery()
    assert (delivery.status, delivery.outcome) == ("processed", "Order #727 flagged for review")
    order = Order.objects.get()
    assert order.deleted_in_shop_at is not None
    error = OrderError.objects.get()
    assert (error.kind, error.order, error.delivery, error.message) == (
        ErrorKind.ORDER_DELETED,
        order,
        delivery,
        "Order #727 was moved to the trash in the shop; check whether its hours should stay.",
    )
    # The hours stay until an admin decides.
    assert [g.total for g in grants_of()] == [600]
    assert [m.to for m in mailoutbox] == [[tenant_a.admin.email]]
    assert find_differences() == []


def test_order_deleted_for_an_order_never_seen_changes_nothing(shop: Shop) -> None:
    response = shop.post({"id": 999}, topic="order.deleted")

    assert response.status_code == 200
    assert shop.statuses() == [("processed", "order 999 was never seen; nothing to review")]
    assert not Order.objects.exists()
    assert not OrderError.objects.exists()


def test_order_deleted_twice_opens_one_error(shop: Shop) -> None:
    shop.post(woo.order(status="completed"))
    shop.post({"id": 727}, topic="order.deleted")
    shop.post({"id": 727}, topic="order.deleted")

    assert OrderError.objects.filter(kind=ErrorKind.ORDER_DELETED).count() == 1
    assert find_differences() == []


def test_order_restored_applies_the_full_order(shop: Shop) -> None:
    shop.post({"id": 727}, topic="order.deleted")
    shop.post(woo.order(status="completed"), topic="order.restored")

    assert [g.total for g in grants_of()] == [600]
    assert find_differences() == []


# --- action.<hook>: only an order id ---------------------------------------------------------


def test_action_without_api_keys_is_ignored_and_recorded(shop: Shop) -> None:
    response = shop.post(
        {"action": "woocommerce_payment_complete", "arg": 727},
        topic="action.woocommerce_payment_complete",
    )

    assert response.status_code == 200
    assert shop.statuses() == [("ignored", "an action without API keys to fetch the order")]
    error = OrderError.objects.get()
    assert (error.kind, error.message) == (
        ErrorKind.INVALID_DATA,
        "action.woocommerce_payment_complete for order 727 carries no order; add the store's "
        "API keys so Matchpal can fetch it.",
    )
    assert not Grant.objects.exists()


def test_a_repeated_action_without_api_keys_opens_one_error_and_tells_once(
    shop: Shop, mailoutbox
) -> None:
    for _ in range(3):
        shop.post(
            {"action": "woocommerce_payment_complete", "arg": 727},
            topic="action.woocommerce_payment_complete",
        )

    assert [s for s, _ in shop.statuses()] == ["ignored"] * 3
    assert OrderError.objects.count() == 1
    assert TOLD.count() == 1
    assert len(mailoutbox) == 1


def test_action_with_api_keys_fetches_the_order_and_grants(
    keyed_shop: Shop, shop_api: ShopAPI
) -> None:
    shop_api.json("orders/727", woo.order(status="processing"))

    response = keyed_shop.post(
        {"action": "woocommerce_payment_complete", "arg": 727},
        topic="action.woocommerce_payment_complete",
    )

    assert response.status_code == 200
    assert keyed_shop.statuses() == [("processed", "granted 10 h for line 315")]
    [request] = shop_api.requests
    assert request.path == "/wp-json/wc/v3/orders/727"
    assert request.basic_auth == (CONSUMER_KEY, CONSUMER_SECRET)
    assert [g.total for g in grants_of()] == [600]
    assert find_differences() == []


def test_action_for_an_order_the_shop_no_longer_has_is_ignored_and_recorded(
    keyed_shop: Shop, shop_api: ShopAPI
) -> None:
    # Nothing served at orders/727: the shop answers 404, as for a deleted order.
    response = keyed_shop.post(
        {"action": "woocommerce_payment_complete", "arg": "727"},
        topic="action.woocommerce_payment_complete",
    )

    assert response.status_code == 200
    assert keyed_shop.statuses() == [("ignored", "order 727 not found in the shop")]
    error = OrderError.objects.get()
    assert (error.kind, error.message) == (
        ErrorKind.INVALID_DATA,
        "action.woocommerce_payment_complete for order 727: the shop has no such order (404); "
        "it may have been deleted.",
    )
    assert not Grant.objects.exists()


def test_action_when_the_shop_fails_is_left_for_the_retry(
    keyed_shop: Shop, shop_api: ShopAPI
) -> None:
    from celery.exceptions import Retry

    from integrations.woocommerce.tasks import process_delivery

    shop_api.routes["/wp-json/wc/v3/orders/727"] = lambda _request: (
        503,
        {"code": "service_unavailable"},
        {},
    )

    response = keyed_shop.post(
        {"action": "woocommerce_payment_complete", "arg": 727},
        topic="action.woocommerce_payment_complete",
    )

    assert response.status_code == 200  # the task's trouble never reaches WooCommerce
    delivery = keyed_shop.last_delivery()
    assert delivery.status == "received"
    # A retry is scheduled in 30 s; the sweeper leaves the delivery to it until well after.
    assert delivery.sweep_after > timezone.now() + timedelta(minutes=5)
    with pytest.raises(Retry):  # eager Celery shows the retry the worker would schedule
        process_delivery.apply(args=[delivery.pk])
    assert not OrderError.objects.exists()
    assert not Grant.objects.exists()
