import pytest
from django.test import Client

from grants import services as ledger
from grants.models import Grant, ShopKey
from integrations.woocommerce.models import Delivery, Store
from matchpal.models import ServiceType
from tests.integrations import woo
from tests.support import Tenant


@pytest.mark.django_db
def test_paid_order_grants_once(tenant_a: Tenant, django_capture_on_commit_callbacks) -> None:
    org = tenant_a.organization
    ledger.package_save(
        actor=tenant_a.admin,
        organization=org,
        name="Ten hours",
        quantity=600,
        unit="minutes",
        validity_days=180,
        price="450.00",
        service_types=list(ServiceType.objects.filter(organization=org)),
        shop_keys=[(ShopKey.PRODUCT, "101")],
    )
    store = Store.objects.create(
        organization=org, name="Shop", store_url="https://shop.example.org/"
    )
    client = Client()
    url = store.delivery_path
    ping = client.post(url, "webhook_id=7", content_type="application/x-www-form-urlencoded")
    assert ping.status_code == 200
    payload = woo.order(email=tenant_a.student.email.upper(), status="pending")
    with django_capture_on_commit_callbacks(execute=True):
        assert (
            woo.post(
                client, url, topic="order.created", payload=payload, secret=store.webhook_secret
            ).status_code
            == 200
        )
    payload = woo.order(
        email=tenant_a.student.email, status="completed", modified="2026-03-10T14:22:00"
    )
    for _ in range(2):
        with django_capture_on_commit_callbacks(execute=True):
            assert (
                woo.post(
                    client, url, topic="order.updated", payload=payload, secret=store.webhook_secret
                ).status_code
                == 200
            )
    grant = Grant.objects.get(student=tenant_a.student)
    assert (grant.total, grant.reference, grant.source) == (600, "Order #727", "woocommerce")
    assert (
        woo.post(client, url, topic="order.updated", payload=payload, secret="wrong").status_code
        == 401
    )
    assert list(Delivery.objects.order_by("pk").values_list("status", flat=True)) == [
        "ping",
        "processed",
        "processed",
        "ignored",
        "rejected",
    ]
