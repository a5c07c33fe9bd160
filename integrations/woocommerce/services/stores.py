"""A center's stores: connecting one and changing its settings."""

from typing import Any

from integrations.woocommerce.models import Store
from matchpal.models import Organization, User

EDITABLE_FIELDS = (
    "name",
    "store_url",
    "paid_statuses",
    "create_unknown_customers",
    "consumer_key",
    "consumer_secret",
    "is_active",
)


def _check_fields(fields: dict[str, Any]) -> None:
    unknown = set(fields) - set(EDITABLE_FIELDS)
    if unknown:
        raise ValueError(f"Not editable: {sorted(unknown)}")


def store_create(*, actor: User, organization: Organization, **fields: Any) -> Store:
    """Connect a store; its webhook secret and delivery URL are made here."""
    _check_fields(fields)
    store = Store(organization=organization, **fields)
    store.save()
    return store


def store_update(*, actor: User, store: Store, **fields: Any) -> Store:
    _check_fields(fields)
    for field, value in fields.items():
        setattr(store, field, value)
    store.save(update_fields=list(fields))
    return store
