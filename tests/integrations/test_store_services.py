"""Connecting and editing a store through its services (the console's forms call them)."""

from datetime import UTC, datetime

import pytest

from integrations.woocommerce import services
from integrations.woocommerce.models import Store
from tests.support import Tenant


def test_store_create_makes_the_secret_and_the_delivery_url(tenant_a: Tenant) -> None:
    store = services.store_create(
        actor=tenant_a.admin,
        organization=tenant_a.organization,
        name="Alpha shop",
        store_url="https://shop.example.org/",
        paid_statuses=["completed"],
        create_unknown_customers=False,
        consumer_key="",
        consumer_secret="",
        is_active=True,
    )

    stored = Store.objects.get(pk=store.pk)
    assert stored.organization == tenant_a.organization
    assert (stored.name, stored.paid_statuses, stored.create_unknown_customers) == (
        "Alpha shop",
        ["completed"],
        False,
    )
    assert len(stored.webhook_secret) == 40
    assert stored.webhook_secret.isalnum()
    assert stored.delivery_token


def test_store_update_writes_only_what_it_is_given(tenant_a: Tenant) -> None:
    store = Store.objects.create(
        organization=tenant_a.organization, name="Alpha shop", store_url="https://shop.example.org/"
    )
    stale = Store.objects.get(pk=store.pk)
    synced = datetime(2026, 3, 10, 14, 0, tzinfo=UTC)
    Store.objects.filter(pk=store.pk).update(last_synced_at=synced)  # the catch-up, meanwhile

    services.store_update(actor=tenant_a.admin, store=stale, name="Beta shop", is_active=False)

    stored = Store.objects.get(pk=store.pk)
    assert (stored.name, stored.is_active, stored.last_synced_at) == ("Beta shop", False, synced)
    assert (stored.webhook_secret, stored.delivery_token) == (
        store.webhook_secret,
        store.delivery_token,
    )


def test_a_field_the_form_does_not_edit_is_refused(tenant_a: Tenant) -> None:
    store = Store.objects.create(
        organization=tenant_a.organization, name="Alpha shop", store_url="https://shop.example.org/"
    )

    with pytest.raises(ValueError, match="webhook_secret"):
        services.store_create(
            actor=tenant_a.admin, organization=tenant_a.organization, webhook_secret="x"
        )
    with pytest.raises(ValueError, match="webhook_secret"):
        services.store_update(actor=tenant_a.admin, store=store, webhook_secret="x")

    assert list(Store.objects.values_list("webhook_secret", flat=True)) == [store.webhook_secret]
