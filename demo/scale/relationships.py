"""A center's relationships in every state: who is paired with whom for what, how each ends,
its status history, and (through `sessions.sessions_and_ledger`) its sessions and the ledger
they imply."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from relationships.models import Relationship, RelationshipStatus, RelationshipStatusChange

from . import timeline as timelines
from .catalog import SERVICES, WEIGHTS
from .centers import Center
from .ledger import LedgerAllocation
from .packages import PlannedPackage
from .sessions import sessions_and_ledger

if TYPE_CHECKING:
    from .people import Offering, PlannedStudent
    from .plan import Plan
    from .timeline import Timeline


@dataclass
class Pair:
    """A relationship being planned."""

    pk: int
    organization_id: int
    student: int
    provider_user: int
    service: str
    service_type: int
    unit: str
    package: PlannedPackage
    pay_rate: Decimal
    client_rate: Decimal
    allocations: list[LedgerAllocation] = field(default_factory=list)
    status: str = RelationshipStatus.PROPOSED
    provider: int = 0  # the provider's id (a session's calendar_provider)

    @property
    def allocated(self) -> int:
        return sum(a.held + a.consumed for a in self.allocations)


@dataclass(frozen=True)
class _Setting:
    """What does not change from one relationship of a center to the next."""

    org: int
    admin: int
    students: list[PlannedStudent]
    providers: Offering
    types: dict[str, int]
    packages: list[PlannedPackage]
    tz: ZoneInfo
    # One live pairing per student, provider and service type: the keys taken so far.
    live: set[tuple[int, int, int]]


def relationships(
    plan: Plan,
    org: int,
    center: Center,
    admin: int,
    students: list[PlannedStudent],
    providers: Offering,
    types: dict[str, int],
    packages: list[PlannedPackage],
    rng: random.Random,
) -> list[Pair]:
    """Relationships in every state, each with its sessions and the ledger they imply; then
    the daily job expires the center's grants that are past their date."""
    fates = timelines.fates(center, rng)
    counts = timelines.session_counts(center.sessions, fates, rng)
    setting = _Setting(
        org, admin, students, providers, types, packages, ZoneInfo(center.time_zone), set()
    )
    pairs = [
        _relationship(plan, setting, n, fate, sessions, rng)
        for n, (fate, sessions) in enumerate(zip(fates, counts, strict=True))
    ]
    for grant in plan.ledger.grants:
        if grant.organization_id == org:
            plan.ledger.expire_if_due(grant, plan.now)
    return pairs


def _relationship(
    plan: Plan, setting: _Setting, n: int, fate: str, sessions: int, rng: random.Random
) -> Pair:
    """The `n`th relationship: the first ones take each student in turn, the rest any."""
    students = setting.students
    student = students[n if n < len(students) else rng.randrange(len(students))]
    offered = [s for s in SERVICES if setting.providers[s]]
    service = rng.choices(offered, weights=[WEIGHTS[s] for s in offered])[0]
    provider, provider_user, pay_rate = rng.choice(setting.providers[service])
    service_type = setting.types[service]
    if fate in (RelationshipStatus.PROPOSED, RelationshipStatus.PAIRED):
        key = (student[0], provider, service_type)
        if key in setting.live:
            fate = RelationshipStatus.COMPLETED
        setting.live.add(key)
    package = rng.choice([p for p in setting.packages if p.services == (service_type,)])
    timeline = timelines.timeline(fate, sessions, plan.now, setting.tz, rng)
    pk = plan.table(Relationship).add(
        plan.uuid(rng),
        setting.org,
        student[0],
        provider,
        service_type,
        package.unit,
        fate,
        pay_rate,
        SERVICES[service][0],
        setting.admin,
        timeline.created + timedelta(days=7),
        timeline.paired,
        timeline.ended,
        timeline.created,
    )
    pair = Pair(
        pk,
        setting.org,
        student[0],
        provider_user,
        service,
        service_type,
        package.unit,
        package,
        pay_rate,
        SERVICES[service][0],
    )
    pair.status = fate
    pair.provider = provider
    _history(plan, pair, fate, timeline, setting.admin)
    sessions_and_ledger(plan, pair, fate, timeline, setting.admin, student[1], rng)
    return pair


def _history(plan: Plan, pair: Pair, fate: str, timeline: Timeline, admin: int) -> None:
    """The status changes that led to `fate`, each by whoever makes it."""
    changes = plan.table(RelationshipStatusChange)
    org, pk = pair.organization_id, pair.pk
    changes.add(org, pk, "", "proposed", admin, "Proposed", None, None, timeline.created)
    if fate == RelationshipStatus.DECLINED:
        reason = "My schedule is full this term."
        changes.add(
            org, pk, "proposed", fate, pair.provider_user, reason, None, None, timeline.ended
        )
    if timeline.paired is not None:
        changes.add(
            org, pk, "proposed", "paired", pair.provider_user, "", None, None, timeline.paired
        )
    if fate in (RelationshipStatus.COMPLETED, RelationshipStatus.CANCELLED):
        reason = "Work finished" if fate == RelationshipStatus.COMPLETED else "The family moved"
        changes.add(org, pk, "paired", fate, admin, reason, None, None, timeline.ended)
