"""Grants as the center's admin makes them: a package bought and held for a relationship
(`buy`), holds released when a relationship ends (`release`), and hours bought that no
relationship holds (`standalone_grants`). Each posts to the replayed ledger."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from grants.models import Allocation, EntryKind, Grant, GrantSource
from relationships.models import RelationshipStatusChange

from .centers import HORIZON_DAYS
from .ledger import LedgerAllocation, LedgerGrant

if TYPE_CHECKING:
    from .packages import PlannedPackage
    from .people import PlannedStudent
    from .plan import Plan
    from .relationships import Pair


def buy(plan: Plan, pair: Pair, at: datetime, admin: int, rng: random.Random) -> LedgerAllocation:
    """The student buys the relationship's package and the admin reserves all of it for
    the relationship: a credit and a hold (the first one is the proposal's)."""
    package = pair.package
    first = not pair.allocations
    woo = rng.random() < 0.8
    grant = LedgerGrant(
        pk=plan.table(Grant).reserve(),
        organization_id=pair.organization_id,
        student_id=pair.student,
        package_id=package.pk,
        unit=package.unit,
        valid_from=at,
        expires_at=at + timedelta(days=package.validity_days),
        source=GrantSource.WOOCOMMERCE if woo else GrantSource.MANUAL,
        reference=f"Order #{10000 + rng.randrange(900000)}" if woo else "",
        created_by=admin,
    )
    plan.ledger.grants.append(grant)
    plan.ledger.post(
        grant,
        EntryKind.CREDIT,
        at,
        actor=admin,
        total=package.quantity,
        reason=grant.reference or f"1 × {package.name}",
    )
    allocation = plan.ledger.allocate(
        LedgerAllocation(plan.table(Allocation).reserve(), pair.organization_id, pair.pk, grant, at)
    )
    before = pair.allocated
    pair.allocations.append(allocation)
    plan.ledger.post(
        grant,
        EntryKind.HOLD,
        at + timedelta(seconds=1),
        actor=admin,
        held=package.quantity,
        allocation=allocation,
        reason="Proposal" if first else "Allocation raised",
    )
    if not first:
        _allocation_raised(plan, pair, before, at + timedelta(seconds=1), admin)
    return allocation


def _allocation_raised(plan: Plan, pair: Pair, before: int, at: datetime, admin: int) -> None:
    """A later purchase raises the pairing's allocation, which its history records."""
    plan.table(RelationshipStatusChange).add(
        pair.organization_id,
        pair.pk,
        "paired",
        "paired",
        admin,
        "Allocation raised",
        before,
        pair.allocated,
        at,
    )


def release(
    plan: Plan, allocation: LedgerAllocation, at: datetime, admin: int, reason: str
) -> None:
    """What the allocation still holds goes back to its grant (after the grant's expiry, if
    that came first)."""
    if allocation.grant.past_expiry(at):
        plan.ledger.expire_if_due(allocation.grant, at)
    if allocation.held:
        plan.ledger.post(
            allocation.grant,
            EntryKind.RELEASE,
            at,
            actor=admin,
            held=-allocation.held,
            allocation=allocation,
            reason=reason,
        )


def standalone_grants(
    plan: Plan,
    org: int,
    admin: int,
    students: list[PlannedStudent],
    packages: list[PlannedPackage],
    rng: random.Random,
) -> None:
    """Hours no relationship holds: a bundle bought by one student in four, some long
    expired, some still free to book."""
    bundle = packages[-1]
    for n, (student, _) in enumerate(students):
        if n % 4:
            continue
        at = plan.now - timedelta(days=rng.uniform(1, HORIZON_DAYS))
        grant = LedgerGrant(
            pk=plan.table(Grant).reserve(),
            organization_id=org,
            student_id=student,
            package_id=bundle.pk,
            unit=bundle.unit,
            valid_from=at,
            expires_at=at + timedelta(days=bundle.validity_days),
            source=GrantSource.WOOCOMMERCE,
            reference=f"Order #{10000 + rng.randrange(900000)}",
            created_by=admin,
        )
        plan.ledger.grants.append(grant)
        plan.ledger.post(
            grant,
            EntryKind.CREDIT,
            at,
            actor=admin,
            total=bundle.quantity,
            reason=grant.reference,
        )
        plan.ledger.expire_if_due(grant, plan.now)
