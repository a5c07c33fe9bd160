"""Packages: what a center sells, with the service types they cover and the shop keys that
sell them. Grants made from a package keep their own quantity, unit and expiry."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from django.db import IntegrityError, transaction

from grants.models import (
    GRANT_MAX_TOTAL,
    SHOP_KEY_MAX_LENGTH,
    VALIDITY_DAYS_MAX,
    Package,
    PackageServiceType,
    PackageShopMapping,
    grant_too_large,
)
from grants.services.posting import LedgerError, check_positive
from matchpal.models import Organization, ServiceType

if TYPE_CHECKING:
    from matchpal.models import User


def _check_shop_keys(shop_keys: Sequence[tuple[str, str]]) -> None:
    for _kind, value in shop_keys:
        if not value or len(value) > SHOP_KEY_MAX_LENGTH:
            raise LedgerError(
                f"A shop id or SKU has 1 to {SHOP_KEY_MAX_LENGTH} characters.", field="skus"
            )


def _set_package_links(
    package: Package, service_types: Sequence[ServiceType], shop_keys: Sequence[tuple[str, str]]
) -> None:
    if any(st.organization_id != package.organization_id for st in service_types):
        raise LedgerError("A service type of another organization was chosen.")
    _check_shop_keys(shop_keys)
    PackageServiceType.objects.filter(package=package).delete()
    PackageServiceType.objects.bulk_create(
        PackageServiceType(
            organization_id=package.organization_id, package=package, service_type=st
        )
        for st in service_types
    )
    PackageShopMapping.objects.filter(package=package).delete()
    try:
        with transaction.atomic():
            PackageShopMapping.objects.bulk_create(
                PackageShopMapping(
                    organization_id=package.organization_id, package=package, kind=kind, value=value
                )
                for kind, value in shop_keys
            )
    except IntegrityError as exc:
        raise LedgerError("One of the shop ids or SKUs already sells another package.") from exc


def package_save(
    *,
    actor: User,
    organization: Organization,
    package: Package | None = None,
    name: str,
    quantity: int,
    unit: str,
    service_types: Sequence[ServiceType],
    validity_days: int | None,
    price: Any,
    shop_keys: Sequence[tuple[str, str]] = (),
) -> Package:
    """Create or edit a package with its service types and shop mapping. Grants already made
    from it keep their own quantity, unit and expiry."""
    check_positive(quantity)
    if quantity > GRANT_MAX_TOTAL[unit]:
        raise LedgerError(
            "A package is granted whole, so it holds no more than a grant can: "
            + grant_too_large(unit),
            field="amount",
        )
    if not service_types:
        raise LedgerError("Choose the service types this package covers.")
    if validity_days is not None and not 1 <= validity_days <= VALIDITY_DAYS_MAX:
        raise LedgerError(
            f"A package is valid for 1 to {VALIDITY_DAYS_MAX} days.", field="validity_days"
        )
    with transaction.atomic():
        package = package or Package(organization=organization)
        package.name, package.quantity, package.unit = name.strip(), quantity, unit
        package.validity_days, package.price = validity_days, price
        package.save()
        _set_package_links(package, service_types, shop_keys)
    return package


def package_set_active(*, actor: User, package: Package, active: bool) -> Package:
    """Deactivate (no longer offered or mapped to new orders) or reactivate; never deleted."""
    package.is_active = active
    package.save(update_fields=["is_active"])
    return package


def package_add_shop_key(*, actor: User, package: Package, kind: str, value: str) -> None:
    """Map one more shop product id, variation id or SKU to the package."""
    _check_shop_keys([(kind, value)])
    try:
        with transaction.atomic():
            PackageShopMapping.objects.create(
                organization_id=package.organization_id, package=package, kind=kind, value=value
            )
    except IntegrityError as exc:
        raise LedgerError(f"That {kind} already sells another package.") from exc
