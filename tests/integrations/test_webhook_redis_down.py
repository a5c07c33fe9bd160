"""With Redis down, the delivery URL still answers its store: a signed delivery is stored and
answered 200 (its task cannot be queued; the five-minute sweep queues it once Redis is back),
and requests the store did not sign are refused one by one, no longer counted against the
URL's limit (docs/deploy.md, "When Redis is down")."""

import pytest

from integrations.woocommerce.models import Delivery
from tests.integrations import woo
from tests.integrations.conftest import Shop

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.usefixtures("redis_unreachable", "broker_unreachable"),
]


def test_a_signed_delivery_is_stored_for_the_sweep(shop: Shop) -> None:
    response = shop.post(woo.order(status="completed"))

    assert response.status_code == 200
    assert shop.last_delivery().status == "received"


def test_rejected_requests_are_refused_without_a_count(shop: Shop, settings) -> None:  # type: ignore[no-untyped-def]
    settings.MATCHPAL_WEBHOOK_REJECTED_LIMIT = 1

    assert [shop.post(woo.order(), secret="guess").status_code for _ in range(3)] == [401] * 3
    assert shop.ping().status_code == 200
    assert Delivery.objects.filter(store=shop.store).count() == 4
