"""What a center sells: its service types and the packages of hours or sessions that cover
them, each with the shop product it is bought as."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from grants.models import Package, PackageServiceType, PackageShopMapping, ShopKey
from matchpal.models import ServiceType

from .catalog import PACKAGES, SERVICES

if TYPE_CHECKING:
    from .plan import Plan


@dataclass
class PlannedPackage:
    pk: int
    name: str
    quantity: int
    unit: str
    services: tuple[int, ...]
    validity_days: int


def service_types(plan: Plan, org: int, rng: random.Random) -> dict[str, int]:
    """Service name → its service type's id."""
    table = plan.table(ServiceType)
    return {
        name: table.add(plan.uuid(rng), org, name, rate) for name, (rate, _) in SERVICES.items()
    }


def packages(
    plan: Plan, org: int, types: dict[str, int], rng: random.Random, at: datetime
) -> list[PlannedPackage]:
    planned = []
    for n, (name, quantity, unit, services, days, price) in enumerate(PACKAGES):
        pk = plan.table(Package).add(
            plan.uuid(rng), org, name, quantity, unit, days, Decimal(price), at
        )
        for service in services:
            plan.table(PackageServiceType).add(org, pk, types[service])
        plan.table(PackageShopMapping).add(org, pk, ShopKey.PRODUCT, str(101 + n))
        planned.append(
            PlannedPackage(pk, name, quantity, unit, tuple(types[s] for s in services), days)
        )
    return planned
