"""Small helpers shared by the ledger tests (services, constraints, races, state machine)."""

from grants.models import Allocation, Grant, GrantEntry, Package, PackageServiceType
from grants.reconcile import find_differences
from matchpal.models import ServiceType


def service_type(org, name: str = "Tutoring") -> ServiceType:
    return ServiceType.objects.get(organization=org, name=name)


def balance(grant: Grant) -> tuple[int, int, int]:
    """(total, used, held) as stored now."""
    grant.refresh_from_db()
    return grant.total, grant.used, grant.held


def allocation(relationship, grant: Grant) -> tuple[int, int] | None:
    """(held, consumed) of the relationship's hold on the grant, None when it has none."""
    row = (
        Allocation.objects.filter(relationship=relationship, grant=grant)
        .values_list("held", "consumed")
        .first()
    )
    return row


def entries(grant: Grant | None = None, **filters) -> list[tuple[str, int, int, int]]:
    """The ledger entries as (kind, total_delta, used_delta, held_delta), oldest first."""
    qs = GrantEntry.objects.filter(**filters)
    if grant is not None:
        qs = qs.filter(grant=grant)
    return list(qs.order_by("pk").values_list("kind", "total_delta", "used_delta", "held_delta"))


def make_package(
    org,
    *,
    name: str = "Ten hours",
    quantity: int = 600,
    unit: str = "minutes",
    validity_days: int | None = 90,
    service_types=("Tutoring",),
) -> Package:
    package = Package.objects.create(
        organization=org,
        name=name,
        quantity=quantity,
        unit=unit,
        validity_days=validity_days,
        price="450.00",
    )
    for st_name in service_types:
        PackageServiceType.objects.create(
            organization=org, package=package, service_type=service_type(org, st_name)
        )
    return package


def assert_reconciled() -> None:
    assert find_differences() == []


def snapshot() -> tuple[list, list, int]:
    """Every balance column and the number of entries: equal before and after = nothing changed."""
    return (
        list(
            Grant.objects.order_by("pk").values_list(
                "pk", "total", "used", "held", "status", "expires_at"
            )
        ),
        list(Allocation.objects.order_by("pk").values_list("pk", "held", "consumed")),
        GrantEntry.objects.count(),
    )
