# Celery's autodiscovery looks for <app>.tasks; the integrations keep theirs in their folders.
from integrations.woocommerce.tasks import process_delivery, sync_store, sync_stores  # noqa: F401
