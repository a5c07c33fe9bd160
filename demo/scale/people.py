"""The people of a center: its admin, students (every other one signs in) and providers (each
signs in, and offers one or two services), and, once its relationships are planned, the
students who have finished with it."""

from __future__ import annotations

import random
from datetime import datetime, time
from decimal import Decimal
from typing import TYPE_CHECKING

from allauth.account.models import EmailAddress

from matchpal.models import Membership, Role, User
from providers.models import AvailabilityWindow, Provider, ProviderService
from relationships.models import HOLDING_STATUSES
from students.models import Student, StudentStatus

from .catalog import FIRST_NAMES, LAST_NAMES
from .centers import Center, provider_email, student_email

if TYPE_CHECKING:
    from .plan import Plan
    from .relationships import Pair

# (student id, login id or None)
type PlannedStudent = tuple[int, int | None]
# service name → its providers (provider id, login id, pay rate)
type Offering = dict[str, list[tuple[int, int, Decimal]]]


def login(
    plan: Plan, org: int, email: str, name: str, role: str, rng: random.Random, at: datetime
) -> int:
    """A user with a verified address and a membership of `org`; returns the user's id."""
    user = plan.table(User).add(plan.password_hash, email, name, True, at)
    plan.table(EmailAddress).add(user, email, True, True)
    plan.table(Membership).add(plan.uuid(rng), user, org, role, at)
    return user


def students(
    plan: Plan, org: int, center: Center, rng: random.Random, at: datetime
) -> list[PlannedStudent]:
    """(student id, login id or None): every other student signs in, student1 always."""
    planned = []
    for n in range(1, center.students + 1):
        name = f"{FIRST_NAMES[n % len(FIRST_NAMES)]} {LAST_NAMES[n % len(LAST_NAMES)]} {n}"
        email = student_email(center.slug, n)
        user = login(plan, org, email, name, Role.STUDENT, rng, at) if n % 2 else None
        guardian = f"Parent of {name}" if n % 3 else ""
        pk = plan.table(Student).add(
            plan.uuid(rng),
            org,
            user,
            name,
            email,
            guardian,
            f"parent{n}@{center.slug}.example" if guardian else "",
            "active",
            at,
            at,
        )
        planned.append((pk, user))
    return planned


def providers(
    plan: Plan,
    org: int,
    center: Center,
    types: dict[str, int],
    rng: random.Random,
    at: datetime,
) -> Offering:
    """Service name → its providers (provider id, login id, pay rate); each signs in."""
    offering: Offering = {name: [] for name in types}
    names = list(types)
    for n in range(1, center.providers + 1):
        first, last = (
            FIRST_NAMES[(n * 7) % len(FIRST_NAMES)],
            LAST_NAMES[(n * 5) % len(LAST_NAMES)],
        )
        name = f"{first} {last} {n}"
        email = provider_email(center.slug, n)
        user = login(plan, org, email, name, Role.PROVIDER, rng, at)
        rate = Decimal(rng.choice(("28.00", "32.00", "38.00", "45.00")))
        pk = plan.table(Provider).add(
            plan.uuid(rng), org, user, name, email, "Tutor and advisor.", rate, "active", at, at
        )
        for service in _offers(n, names, rng):
            plan.table(ProviderService).add(org, pk, types[service])
            offering[service].append((pk, user, rate))
        hours(plan, org, pk, n, at)
    return offering


def hours(plan: Plan, org: int, provider: int, n: int, at: datetime) -> None:
    """The provider's weekly hours (docs/scheduling.md): three afternoons, 15:00–19:00 in
    person, and for every third provider Saturday morning online. Drawn from `n` and their ids
    from a stream of their own, not the center's: adding them left every other row as it
    was."""
    rng = random.Random(f"{plan.seed}:hours:{provider}")
    for weekday in sorted({n % 5, (n + 2) % 5, (n + 4) % 5}):
        plan.table(AvailabilityWindow).add(
            plan.uuid(rng),
            org,
            provider,
            weekday,
            time(15),
            time(19),
            "in_person",
            f"Room {n % 8 + 1}",
            at,
        )
    if n % 3 == 0:
        plan.table(AvailabilityWindow).add(
            plan.uuid(rng),
            org,
            provider,
            5,
            time(10),
            time(13),
            "online",
            f"https://meet.example.org/p{n}",
            at,
        )


def _offers(n: int, names: list[str], rng: random.Random) -> list[str]:
    """Every service has providers: the first few offer one each, then one or two."""
    offers = [names[(n - 1) % len(names)]]
    if n > len(names) and rng.random() < 0.4:
        offers.append(rng.choice([s for s in names if s not in offers]))
    return offers


def retire_students(plan: Plan, first_row: int, pairs: list[Pair]) -> None:
    """One in three students with no live pairing left has finished with the center and is
    inactive (a live one keeps its student active)."""
    live = {p.student for p in pairs if p.status in HOLDING_STATUSES}
    table = plan.table(Student)
    status = table.columns.index("status")
    for n in range(first_row, len(table.rows)):
        row = table.rows[n]
        if row[0] not in live and row[0] % 3 == 0:
            table.rows[n] = (*row[:status], StudentStatus.INACTIVE, *row[status + 1 :])
