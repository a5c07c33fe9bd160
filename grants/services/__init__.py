"""Every write that changes hours. Each service runs in its own transaction, locks the rows it
changes, writes the ledger entries that explain the change, and raises a `LedgerError` whose
message is fit to show a person.

- `posting`: the engine (errors, retry on conflicts, locks, `Posting`);
- `operations`: grant operations (create, adjust, transfer, refund, extend, expire);
- `holds`: holds and consumption (hold, release, consume, restore);
- `packages`: packages and their shop keys.

Callers import this package (`from grants import services as ledger`); reads of the ledger
are in `grants.selectors`.
"""

from grants.services.holds import Consumption, consume, hold, release, restore
from grants.services.operations import (
    ADJUST_REVOKED,
    REFUND_REVOKED,
    expire_due_grants,
    grant_adjust,
    grant_create,
    grant_expire,
    grant_extend,
    grant_from_package,
    grant_refund,
    grant_transfer,
)
from grants.services.packages import package_add_shop_key, package_save, package_set_active
from grants.services.posting import (
    AlreadyApplied,
    InsufficientHours,
    LedgerError,
    RelationshipLike,
    SessionLike,
    ensure_new_key,
)

__all__ = [
    "ADJUST_REVOKED",
    "REFUND_REVOKED",
    "AlreadyApplied",
    "Consumption",
    "InsufficientHours",
    "LedgerError",
    "RelationshipLike",
    "SessionLike",
    "consume",
    "ensure_new_key",
    "expire_due_grants",
    "grant_adjust",
    "grant_create",
    "grant_expire",
    "grant_extend",
    "grant_from_package",
    "grant_refund",
    "grant_transfer",
    "hold",
    "package_add_shop_key",
    "package_save",
    "package_set_active",
    "release",
    "restore",
]
