"""The ledger, replayed in memory: grants, allocations and their entries, held until they are
copied.

`Ledger.post` is the mirror of `grants.services.posting.Posting.add`: it applies one entry to
the grant (and allocation) and records its effect on the usable balance, so every balance
column is the sum of its entries by construction and the generated ledger reconciles."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from grants.models import EntryKind, GrantStatus


@dataclass
class LedgerGrant:
    pk: int
    organization_id: int
    student_id: int
    package_id: int | None
    unit: str
    valid_from: datetime
    expires_at: datetime | None
    source: str
    reference: str
    created_by: int
    total: int = 0
    used: int = 0
    held: int = 0
    status: str = GrantStatus.ACTIVE
    last_at: datetime | None = None

    @property
    def available(self) -> int:
        return self.total - self.used - self.held

    @property
    def usable(self) -> int:
        return self.available if self.status == GrantStatus.ACTIVE else 0

    def past_expiry(self, at: datetime) -> bool:
        return self.expires_at is not None and self.expires_at <= at


@dataclass
class LedgerAllocation:
    pk: int
    organization_id: int
    relationship_id: int
    grant: LedgerGrant
    created_at: datetime
    held: int = 0
    consumed: int = 0


@dataclass
class Ledger:
    """Grants, allocations and entries held in memory until they are copied. `post` applies
    one entry as `Posting.add` does and records its effect on the usable balance."""

    grants: list[LedgerGrant] = field(default_factory=list)
    allocations: list[LedgerAllocation] = field(default_factory=list)
    # (created_at, organization, grant, allocation, kind, total, used, held, usable,
    #  relationship, session index, actor, reason)
    entries: list[tuple[Any, ...]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._by_grant: dict[int, list[LedgerAllocation]] = {}

    def post(
        self,
        grant: LedgerGrant,
        kind: str,
        at: datetime,
        *,
        actor: int | None,
        total: int = 0,
        used: int = 0,
        held: int = 0,
        allocation: LedgerAllocation | None = None,
        session: int | None = None,
        reason: str = "",
        status: str | None = None,
    ) -> None:
        before = grant.usable
        grant.last_at = at
        grant.total += total
        grant.used += used
        grant.held += held
        if status is not None:
            grant.status = status
        assert grant.used >= 0
        assert grant.held >= 0
        assert grant.used + grant.held <= grant.total
        if allocation is not None:
            allocation.held += held
            allocation.consumed += used
            assert allocation.held >= 0
            assert allocation.consumed >= 0
        self.entries.append(
            (
                at,
                grant.organization_id,
                grant.pk,
                allocation.pk if allocation else None,
                kind,
                total,
                used,
                held,
                grant.usable - before,
                allocation.relationship_id if allocation else None,
                session,
                actor,
                reason,
            )
        )

    def expire_if_due(self, grant: LedgerGrant, now: datetime) -> None:
        """The daily job: a grant past its date is expired, its holds released first."""
        if grant.status != GrantStatus.ACTIVE or grant.expires_at is None:
            return
        if grant.expires_at > now:
            return
        # The job runs after the date; never before what the grant already recorded.
        at = grant.expires_at + timedelta(minutes=5)
        if grant.last_at is not None:
            at = max(at, grant.last_at + timedelta(seconds=1))
        for allocation in self.allocations_of(grant):
            if allocation.held:
                self.post(
                    grant,
                    EntryKind.RELEASE,
                    at,
                    actor=None,
                    held=-allocation.held,
                    allocation=allocation,
                    reason="Expired on its date",
                )
        self.post(
            grant,
            EntryKind.EXPIRE,
            at,
            actor=None,
            reason="Expired on its date",
            status=GrantStatus.EXPIRED,
        )

    def allocations_of(self, grant: LedgerGrant) -> list[LedgerAllocation]:
        return list(self._by_grant.get(grant.pk, []))

    def allocate(self, allocation: LedgerAllocation) -> LedgerAllocation:
        self.allocations.append(allocation)
        self._by_grant.setdefault(allocation.grant.pk, []).append(allocation)
        return allocation
