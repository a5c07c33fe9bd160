import logging
from datetime import timedelta

from celery import Task, shared_task
from django.db import InterfaceError, OperationalError
from django.utils import timezone

from integrations.woocommerce import client, services
from integrations.woocommerce.models import Store

log = logging.getLogger(__name__)

MAX_RETRIES = 5  # 6 attempts over about 15 minutes: 30 s, 1, 2, 4 and 8 min apart
RETRY_BASE_SECONDS = 30


@shared_task(bind=True, max_retries=MAX_RETRIES)
def process_delivery(self: Task, delivery_id: int) -> None:
    try:
        services.process_delivery(delivery_id)
    except client.ShopRefused as exc:
        # The store URL (or what the shop sends) must change first: no retry would help.
        services.delivery_fail(delivery_id=delivery_id, reason=f"{exc} ({exc.advice.lower()})")
        return
    except (client.ShopAPIError, OperationalError, InterfaceError) as exc:
        # The shop's API, or our own database (a deadlock victim, a dropped connection, a
        # failover), failed for now: the same work can succeed on a later attempt.
        attempts = self.request.retries + 1
        what = "the shop's API" if isinstance(exc, client.ShopAPIError) else "the database"
        if self.request.retries >= MAX_RETRIES:
            log.warning("Giving up on WooCommerce delivery %s: %s", delivery_id, exc)
            services.delivery_fail(
                delivery_id=delivery_id, reason=f"{what} failed {attempts} times ({exc})"
            )
            return
        countdown = RETRY_BASE_SECONDS * 2**self.request.retries
        services.delivery_postpone_sweep(
            delivery_id=delivery_id,
            until=timezone.now() + timedelta(seconds=countdown) + services.STUCK_AFTER,
        )
        raise self.retry(exc=exc, countdown=countdown) from exc
    except Exception as exc:
        # A bug or a body nothing anticipated: retrying would fail the same way, and the
        # delivery must not stay "received" for ever. Re-raised for the worker's log.
        services.delivery_fail(delivery_id=delivery_id, reason=services.unexpected_reason(exc))
        raise


@shared_task
def requeue_stuck_deliveries() -> int:
    """Every 5 minutes: enqueue again the deliveries whose task was lost (safe to run twice)."""
    ids = services.deliveries_to_requeue()
    for done, delivery_id in enumerate(ids):
        try:
            process_delivery.delay(delivery_id)
        except Exception:
            services.deliveries_release(ids=ids[done:])
            raise  # the broker is still down: the next run tries again
    if ids:
        log.warning("Enqueued %d WooCommerce deliveries again whose task was lost.", len(ids))
    return len(ids)


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
