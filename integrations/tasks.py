# Celery's autodiscovery looks for <app>.tasks; the integrations keep theirs in their folders.
from integrations.woocommerce.tasks import (  # noqa: F401
    process_delivery,
    requeue_stuck_deliveries,
    sync_store,
    sync_stores,
)
