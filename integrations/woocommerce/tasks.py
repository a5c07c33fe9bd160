from celery import shared_task

from integrations.woocommerce import client, services
from integrations.woocommerce.models import Store


@shared_task(autoretry_for=(client.ShopAPIError,), retry_backoff=30, max_retries=5)
def process_delivery(delivery_id: int) -> None:
    services.process_delivery(delivery_id)


@shared_task
def sync_store(store_id: int) -> int:
    return services.sync_store(store=Store.objects.select_related("organization").get(pk=store_id))


@shared_task
def sync_stores() -> int:
    """Every 15 minutes: catch up on orders of every active store with API keys."""
    stores = (
        Store.objects.filter(is_active=True)
        .exclude(consumer_key="")
        .exclude(consumer_secret="")
        .values_list("pk", flat=True)
    )
    for store_id in stores:
        sync_store.delay(store_id)
    return len(stores)
