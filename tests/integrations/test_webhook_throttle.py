"""The delivery URL limits what its store did not sign: 60 unsigned or rejected requests an hour
per URL (counted in Redis, as in production), then 429 without storing anything; signed
deliveries always get through. A rejected delivery keeps only the start of its body."""

import pytest

from integrations.woocommerce.models import Delivery
from integrations.woocommerce.views_webhook import REJECTED_EXCERPT_BYTES
from tests.integrations import woo
from tests.integrations.conftest import Shop

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("redis_cache")]

REFUSED = b"Too many unsigned or rejected requests to this URL; try again in an hour."


def test_the_61st_rejected_request_is_refused_and_not_stored(shop: Shop) -> None:
    for number in range(59):
        assert shop.post(woo.order(), secret="guess").status_code == 401, number
    assert shop.ping().status_code == 200  # pings are unsigned: they count too

    response = shop.post(woo.order(), secret="guess")

    assert response.status_code == 429
    assert response.content == REFUSED
    assert 0 < int(response["Retry-After"]) <= 3600
    assert Delivery.objects.filter(store=shop.store).count() == 60
    assert shop.ping().status_code == 429
    assert shop.post(woo.order(), secret=None).status_code == 429
    assert Delivery.objects.filter(store=shop.store).count() == 60


def test_signed_deliveries_get_through_a_url_that_is_refusing_others(shop: Shop, settings) -> None:  # type: ignore[no-untyped-def]
    settings.MATCHPAL_WEBHOOK_REJECTED_LIMIT = 1
    assert shop.post(woo.order(), secret="guess").status_code == 401
    assert shop.post(woo.order(), secret="guess").status_code == 429

    response = shop.post(woo.order(status="completed"))

    assert response.status_code == 200
    assert shop.last_delivery().status == "processed"


def test_the_limit_is_per_store_url(shop: Shop, settings) -> None:  # type: ignore[no-untyped-def]
    settings.MATCHPAL_WEBHOOK_REJECTED_LIMIT = 1
    other = type(shop)(
        store=shop.store.__class__.objects.create(
            organization=shop.store.organization,
            name="Other shop",
            store_url="https://other.example.org/",
        ),
        capture=shop.capture,
    )
    assert shop.post(woo.order(), secret="guess").status_code == 401
    assert shop.post(woo.order(), secret="guess").status_code == 429

    assert other.post(woo.order(), secret="guess").status_code == 401


def test_a_rejected_delivery_keeps_only_the_start_of_its_body(shop: Shop) -> None:
    body = b'{"id": 727, "note": "' + b"x" * 50_000 + b'"}'

    response = shop.post(body=body, secret="guess")

    assert response.status_code == 401
    delivery = shop.last_delivery()
    assert bytes(delivery.body) == body[:REJECTED_EXCERPT_BYTES]
    assert delivery.outcome == (
        "Missing or wrong signature; nothing was processed. "
        "Only the first 2,000 of its 50,023 bytes were kept."
    )


def test_a_signed_delivery_keeps_its_whole_body(shop: Shop) -> None:
    payload = woo.order(status="completed")
    payload["customer_note"] = "y" * 5_000
    body = woo.php_json(payload)

    assert shop.post(body=body).status_code == 200

    assert bytes(shop.last_delivery().body) == body
