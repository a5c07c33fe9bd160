"""A generated large center for measuring scale (issue 11): `manage.py generate_scale_data`.

Unlike `demo/seed.py`, which builds a small center through the services, this writes rows
directly with PostgreSQL's COPY: a million sessions through the services would take hours. The
rows are built in Python by replaying what the services would have done — each grant's ledger
entries are posted to an in-memory copy of the grant (`_Ledger.post`, the mirror of
`grants.services.posting.Posting.add`), so every balance column is the sum of its entries by
construction — and then copied in foreign-key order inside one transaction. Every CHECK,
unique, foreign-key and composite tenant key stays on and checks each row; one trigger is
switched off for the load and its rule checked once afterwards (`_load`, and
docs/performance.md, "Generating a large center").

Deterministic: the same seed and options build the same rows, with times counted back from
the start of the current hour (or `now=`). Runs only on a database without organizations.
"""

from __future__ import annotations

import functools
import itertools
import operator
import random
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from math import ceil
from typing import Any
from zoneinfo import ZoneInfo

from allauth.account.models import EmailAddress
from django.contrib.auth.hashers import make_password
from django.core.exceptions import ImproperlyConfigured
from django.db import connection, models, transaction
from psycopg import sql

from grants.models import (
    Allocation,
    EntryKind,
    Grant,
    GrantEntry,
    GrantServiceType,
    GrantSource,
    GrantStatus,
    Package,
    PackageServiceType,
    PackageShopMapping,
    ShopKey,
    Unit,
)
from grants.reconcile import find_differences
from matchpal.models import Membership, Organization, Role, ServiceType, User
from providers.models import Provider, ProviderService
from relationships.models import (
    HOLDING_STATUSES,
    Relationship,
    RelationshipStatus,
    RelationshipStatusChange,
)
from sessions_app.models import NoShowParty, Session, SessionKind, SessionStatus
from students.models import Student, StudentStatus

SCALE_SLUG = "scale"
SCALE_PASSWORD = "matchpal-scale"
HORIZON_DAYS = 3 * 365
# Sessions per relationship on average; a relationship meets every few days to two weeks.
SESSIONS_PER_RELATIONSHIP = 40
SMALL_CENTER = {"students": 6, "providers": 2, "sessions": 40}


class ScaleError(Exception):
    """The database is not one the generator may fill."""


@dataclass(frozen=True)
class Options:
    students: int = 30
    providers: int = 5
    sessions: int = 500
    tenants: int = 2
    seed: int = 1


def admin_email(slug: str) -> str:
    return f"admin@{slug}.example"


def provider_email(slug: str, n: int) -> str:
    return f"provider{n}@{slug}.example"


def student_email(slug: str, n: int) -> str:
    return f"student{n}@{slug}.example"


# --- Tables -------------------------------------------------------------------------------------


class Table:
    """A model's table as COPY sees it: `id`, the columns the plan fills (`columns`), then every
    other column with its constant default (or NULL). A new NOT NULL column without a constant
    default stops the generator before it writes anything, naming it."""

    def __init__(self, model: type[models.Model], columns: Sequence[str]) -> None:
        self.model = model
        self.name = model._meta.db_table
        fields = {str(f.column): f for f in model._meta.concrete_fields}
        unknown = set(columns) - fields.keys()
        if unknown:
            raise ImproperlyConfigured(f"{self.name} has no column {sorted(unknown)}")
        rest = [c for c in fields if c not in columns and c != "id"]
        constants: list[Any] = []
        for column in rest:
            f = fields[column]
            # A text field without a default defaults to "" (Django's own rule).
            value = None if f.has_default() and callable(f.default) else f.get_default()
            if value is not None or f.null:
                constants.append(None if value is None else f.get_db_prep_save(value, connection))
            else:
                raise ImproperlyConfigured(
                    f"The scale generator gives no value to {self.name}.{column}; add it to its "
                    "columns in demo/scale.py."
                )
        self.columns = ["id", *columns, *rest]
        self.constants = tuple(constants)
        self.rows: list[tuple[Any, ...]] = []
        self.next_id = 1

    def add(self, *values: Any) -> int:
        pk = self.reserve()
        self.rows.append((pk, *values))
        return pk

    def reserve(self) -> int:
        """An id for a row added later with `put` (its values depend on rows that need it)."""
        pk = self.next_id
        self.next_id += 1
        return pk

    def put(self, pk: int, *values: Any) -> None:
        self.rows.append((pk, *values))


def _tables() -> dict[str, Table]:
    """Every table the generator fills, in foreign-key order (the order of the COPYs)."""
    return {
        t.name: t
        for t in [
            Table(User, ["password", "email", "name", "is_active", "date_joined"]),
            Table(EmailAddress, ["user_id", "email", "verified", "primary"]),
            Table(Organization, ["name", "slug", "time_zone", "created_at"]),
            Table(Membership, ["public_id", "user_id", "organization_id", "role", "created_at"]),
            Table(ServiceType, ["public_id", "organization_id", "name", "client_rate"]),
            Table(
                Student,
                [
                    "public_id",
                    "organization_id",
                    "user_id",
                    "name",
                    "email",
                    "guardian_name",
                    "guardian_email",
                    "status",
                    "created_at",
                    "updated_at",
                ],
            ),
            Table(
                Provider,
                [
                    "public_id",
                    "organization_id",
                    "user_id",
                    "name",
                    "email",
                    "bio",
                    "default_pay_rate",
                    "status",
                    "created_at",
                    "updated_at",
                ],
            ),
            Table(ProviderService, ["organization_id", "provider_id", "service_type_id"]),
            Table(
                Package,
                [
                    "public_id",
                    "organization_id",
                    "name",
                    "quantity",
                    "unit",
                    "validity_days",
                    "price",
                    "created_at",
                ],
            ),
            Table(PackageServiceType, ["organization_id", "package_id", "service_type_id"]),
            Table(PackageShopMapping, ["organization_id", "package_id", "kind", "value"]),
            Table(
                Grant,
                [
                    "public_id",
                    "organization_id",
                    "student_id",
                    "package_id",
                    "unit",
                    "total",
                    "used",
                    "held",
                    "valid_from",
                    "expires_at",
                    "status",
                    "source",
                    "reference",
                    "created_at",
                    "created_by_id",
                ],
            ),
            Table(GrantServiceType, ["organization_id", "grant_id", "service_type_id"]),
            Table(
                Relationship,
                [
                    "public_id",
                    "organization_id",
                    "student_id",
                    "provider_id",
                    "service_type_id",
                    "unit",
                    "status",
                    "provider_pay_rate",
                    "client_rate",
                    "proposed_by_id",
                    "respond_by",
                    "paired_at",
                    "ended_at",
                    "created_at",
                ],
            ),
            Table(
                RelationshipStatusChange,
                [
                    "organization_id",
                    "relationship_id",
                    "from_status",
                    "to_status",
                    "actor_id",
                    "reason",
                    "allocation_before",
                    "allocation_after",
                    "created_at",
                ],
            ),
            Table(
                Allocation,
                [
                    "organization_id",
                    "relationship_id",
                    "grant_id",
                    "held",
                    "consumed",
                    "created_at",
                ],
            ),
            Table(Session, list(SESSION_COLUMNS)),
            Table(
                GrantEntry,
                [
                    "organization_id",
                    "grant_id",
                    "allocation_id",
                    "kind",
                    "total_delta",
                    "used_delta",
                    "held_delta",
                    "usable_delta",
                    "relationship_id",
                    "session_id",
                    "actor_id",
                    "reason",
                    "created_at",
                ],
            ),
        ]
    }


SESSION_COLUMNS = (
    "public_id",
    "organization_id",
    "relationship_id",
    "starts_at",
    "duration_minutes",
    "kind",
    "mode",
    "status",
    "notes",
    "rating",
    "cancellation_reason",
    "no_show_party",
    "no_show_explanation",
    "charged_minutes",
    "logged_by_id",
    "logged_at",
    "student_confirmed_at",
    "disputed_at",
    "dispute_reason",
    "dispute_resolved_at",
    "dispute_resolved_by_id",
    "dispute_resolution",
    "provider_pay_rate",
    "client_rate",
    "created_at",
)


# --- The ledger, replayed -----------------------------------------------------------------------


@dataclass
class _Grant:
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


@dataclass
class _Allocation:
    pk: int
    organization_id: int
    relationship_id: int
    grant: _Grant
    created_at: datetime
    held: int = 0
    consumed: int = 0


@dataclass
class _Ledger:
    """Grants, allocations and entries held in memory until they are copied. `post` applies
    one entry as `Posting.add` does and records its effect on the usable balance."""

    grants: list[_Grant] = field(default_factory=list)
    allocations: list[_Allocation] = field(default_factory=list)
    # (created_at, organization, grant, allocation, kind, total, used, held, usable,
    #  relationship, session index, actor, reason)
    entries: list[tuple[Any, ...]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._by_grant: dict[int, list[_Allocation]] = {}

    def post(
        self,
        grant: _Grant,
        kind: str,
        at: datetime,
        *,
        actor: int | None,
        total: int = 0,
        used: int = 0,
        held: int = 0,
        allocation: _Allocation | None = None,
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

    def expire_if_due(self, grant: _Grant, now: datetime) -> None:
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

    def allocations_of(self, grant: _Grant) -> list[_Allocation]:
        return list(self._by_grant.get(grant.pk, []))

    def allocate(self, allocation: _Allocation) -> _Allocation:
        self.allocations.append(allocation)
        self._by_grant.setdefault(allocation.grant.pk, []).append(allocation)
        return allocation


# --- The plan of one center ---------------------------------------------------------------------

# fmt: off
FIRST_NAMES = (
    "Maya", "Lucas", "Sofia", "Ethan", "Olivia", "Noah", "Aisha", "Leo", "Chloe", "Samuel",
    "Amara", "Daniel", "Hannah", "Priya", "Mateo", "Zoe", "Omar", "Ines", "Felix", "Nora", "Ravi",
    "Elena", "Jonas", "Yuki", "Kofi", "Lena", "Arjun", "Clara", "Diego", "Mei",
)
LAST_NAMES = (
    "Patel", "Bennett", "Marquez", "Kim", "Novak", "Williams", "Rahman", "Fischer", "Dubois",
    "Adeyemi", "Okafor", "Reyes", "Lindqvist", "Tanaka", "Moreau", "Schmidt", "Haddad", "Costa",
    "Nguyen", "Silva", "Kowalski", "Murphy", "Jensen", "Rossi",
)
# fmt: on
NOTES = (
    "Worked through factoring quadratics; homework: exercises 4-12.",
    "Reviewed the essay outline and tightened the thesis statement.",
    "Practice test section 2; timing improved by four minutes.",
    "Discussed the college list and application deadlines.",
    "Covered Newton's laws with worked examples; quiz next week.",
    "Reading comprehension drills; annotated two passages together.",
)
MODES = ("Online", "At the center", "Online", "Library")
CANCEL_REASONS = ("Student was ill", "Family trip", "Provider unavailable", "School event")
NO_SHOW_EXPLANATIONS = ("No answer on the phone; the family was told.", "Missed the call.")
DISPUTE_REASONS = ("We finished 15 minutes early that day.", "This session did not take place.")

# name, quantity, unit, services, validity days, price
PACKAGES = (
    ("Tutoring 10 hours", 600, Unit.MINUTES, ("Tutoring",), 365, "450.00"),
    ("Tutoring 20 hours", 1200, Unit.MINUTES, ("Tutoring",), 365, "860.00"),
    ("Tutoring 40 hours", 2400, Unit.MINUTES, ("Tutoring",), 730, "1640.00"),
    ("Advising 5 hours", 300, Unit.MINUTES, ("Advising",), 365, "375.00"),
    ("Advising 15 hours", 900, Unit.MINUTES, ("Advising",), 365, "1050.00"),
    ("Test prep 8 sessions", 8, Unit.SESSIONS, ("Test prep",), 180, "520.00"),
    ("College application bundle", 900, Unit.MINUTES, ("Tutoring", "Advising"), 365, "690.00"),
)
# service type → (client rate, session kind)
SERVICES = {
    "Tutoring": (Decimal("60.00"), SessionKind.TUTORING),
    "Advising": (Decimal("85.00"), SessionKind.ADVISING),
    "Test prep": (Decimal("70.00"), SessionKind.TUTORING),
}
# How often each service is what a relationship is for.
WEIGHTS = {"Tutoring": 60, "Advising": 25, "Test prep": 15}
# A relationship's fate, by weight: most run or ran their course.
FATES = (
    (RelationshipStatus.PAIRED, 35),
    (RelationshipStatus.COMPLETED, 40),
    (RelationshipStatus.CANCELLED, 10),
    (RelationshipStatus.DECLINED, 8),
    (RelationshipStatus.PROPOSED, 7),
)
WITH_SESSIONS = (
    RelationshipStatus.PAIRED,
    RelationshipStatus.COMPLETED,
    RelationshipStatus.CANCELLED,
)


@dataclass(frozen=True)
class Center:
    slug: str
    name: str
    students: int
    providers: int
    sessions: int
    time_zone: str


@dataclass
class _Package:
    pk: int
    name: str
    quantity: int
    unit: str
    services: tuple[int, ...]
    validity_days: int


@dataclass
class _Pair:
    """A relationship being planned."""

    pk: int
    organization_id: int
    student: int
    provider_user: int
    service: str
    service_type: int
    unit: str
    package: _Package
    pay_rate: Decimal
    client_rate: Decimal
    allocations: list[_Allocation] = field(default_factory=list)
    status: str = RelationshipStatus.PROPOSED

    @property
    def allocated(self) -> int:
        return sum(a.held + a.consumed for a in self.allocations)


class Plan:
    """Every row of every center, in memory, with ids counted from each table's `next_id`."""

    def __init__(self, *, seed: int, now: datetime, password_hash: str) -> None:
        self.seed = seed
        self.now = now
        self.password_hash = password_hash
        self.tables = _tables()
        self.ledger = _Ledger()
        # (sort key, row without id, entry session index) for sessions, sorted at the end so
        # ids follow the order they were written in, as in a real center.
        self.sessions: list[tuple[Any, ...]] = []

    def table(self, model: type[models.Model]) -> Table:
        return self.tables[model._meta.db_table]

    def uuid(self, rng: random.Random) -> uuid.UUID:
        return uuid.UUID(int=rng.getrandbits(128), version=4)

    # The steps of one center, in order.

    def add_center(self, center: Center) -> dict[str, Any]:
        rng = random.Random(f"{self.seed}:{center.slug}")
        started = self.now - timedelta(days=HORIZON_DAYS + 30)
        org = self.table(Organization).add(center.name, center.slug, center.time_zone, started)
        admin = self._login(org, admin_email(center.slug), "Center Admin", Role.ADMIN, rng, started)
        types = self._service_types(org, rng)
        packages = self._packages(org, types, rng, started)
        first_student = len(self.table(Student).rows)
        students = self._students(org, center, rng, started)
        providers = self._providers(org, center, types, rng, started)
        pairs = self._relationships(org, center, admin, students, providers, types, packages, rng)
        self._retire_students(first_student, pairs)
        self._standalone_grants(org, admin, students, packages, rng)
        return {"organization": org, "relationships": len(pairs)}

    def _login(
        self, org: int, email: str, name: str, role: str, rng: random.Random, at: datetime
    ) -> int:
        user = self.table(User).add(self.password_hash, email, name, True, at)
        self.table(EmailAddress).add(user, email, True, True)
        self.table(Membership).add(self.uuid(rng), user, org, role, at)
        return user

    def _service_types(self, org: int, rng: random.Random) -> dict[str, int]:
        table = self.table(ServiceType)
        return {
            name: table.add(self.uuid(rng), org, name, rate) for name, (rate, _) in SERVICES.items()
        }

    def _packages(
        self, org: int, types: dict[str, int], rng: random.Random, at: datetime
    ) -> list[_Package]:
        packages = []
        for n, (name, quantity, unit, services, days, price) in enumerate(PACKAGES):
            pk = self.table(Package).add(
                self.uuid(rng), org, name, quantity, unit, days, Decimal(price), at
            )
            for service in services:
                self.table(PackageServiceType).add(org, pk, types[service])
            self.table(PackageShopMapping).add(org, pk, ShopKey.PRODUCT, str(101 + n))
            packages.append(
                _Package(pk, name, quantity, unit, tuple(types[s] for s in services), days)
            )
        return packages

    def _students(
        self, org: int, center: Center, rng: random.Random, at: datetime
    ) -> list[tuple[int, int | None]]:
        """(student id, login id or None): every other student signs in, student1 always."""
        students = []
        for n in range(1, center.students + 1):
            name = f"{FIRST_NAMES[n % len(FIRST_NAMES)]} {LAST_NAMES[n % len(LAST_NAMES)]} {n}"
            email = student_email(center.slug, n)
            user = self._login(org, email, name, Role.STUDENT, rng, at) if n % 2 else None
            guardian = f"Parent of {name}" if n % 3 else ""
            pk = self.table(Student).add(
                self.uuid(rng),
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
            students.append((pk, user))
        return students

    def _providers(
        self,
        org: int,
        center: Center,
        types: dict[str, int],
        rng: random.Random,
        at: datetime,
    ) -> dict[str, list[tuple[int, int, Decimal]]]:
        """Service name → its providers (provider id, login id, pay rate); each signs in."""
        offering: dict[str, list[tuple[int, int, Decimal]]] = {name: [] for name in types}
        names = list(types)
        for n in range(1, center.providers + 1):
            first, last = (
                FIRST_NAMES[(n * 7) % len(FIRST_NAMES)],
                LAST_NAMES[(n * 5) % len(LAST_NAMES)],
            )
            name = f"{first} {last} {n}"
            email = provider_email(center.slug, n)
            user = self._login(org, email, name, Role.PROVIDER, rng, at)
            rate = Decimal(rng.choice(("28.00", "32.00", "38.00", "45.00")))
            pk = self.table(Provider).add(
                self.uuid(rng), org, user, name, email, "Tutor and advisor.", rate, "active", at, at
            )
            # Every service has providers: the first few offer one each, then one or two.
            offers = [names[(n - 1) % len(names)]]
            if n > len(names) and rng.random() < 0.4:
                offers.append(rng.choice([s for s in names if s not in offers]))
            for service in offers:
                self.table(ProviderService).add(org, pk, types[service])
                offering[service].append((pk, user, rate))
        return offering

    def _relationships(
        self,
        org: int,
        center: Center,
        admin: int,
        students: list[tuple[int, int | None]],
        providers: dict[str, list[tuple[int, int, Decimal]]],
        types: dict[str, int],
        packages: list[_Package],
        rng: random.Random,
    ) -> list[_Pair]:
        """Relationships in every state, each with its sessions and the ledger they imply."""
        fates = _fates(center, rng)
        counts = _session_counts(center.sessions, fates, rng)
        live: set[tuple[int, int, int]] = set()
        pairs = []
        tz = ZoneInfo(center.time_zone)
        offered = [s for s in SERVICES if providers[s]]
        for n, (fate, sessions) in enumerate(zip(fates, counts, strict=True)):
            student = students[n if n < len(students) else rng.randrange(len(students))]
            service = rng.choices(offered, weights=[WEIGHTS[s] for s in offered])[0]
            provider, provider_user, pay_rate = rng.choice(providers[service])
            if fate in (RelationshipStatus.PROPOSED, RelationshipStatus.PAIRED):
                # One live pairing per student, provider and service type.
                key = (student[0], provider, types[service])
                if key in live:
                    fate = RelationshipStatus.COMPLETED
                live.add(key)
            package = rng.choice([p for p in packages if p.services == (types[service],)])
            timeline = _timeline(fate, sessions, self.now, tz, rng)
            pk = self.table(Relationship).add(
                self.uuid(rng),
                org,
                student[0],
                provider,
                types[service],
                package.unit,
                fate,
                pay_rate,
                SERVICES[service][0],
                admin,
                timeline.created + timedelta(days=7),
                timeline.paired,
                timeline.ended,
                timeline.created,
            )
            pair = _Pair(
                pk,
                org,
                student[0],
                provider_user,
                service,
                types[service],
                package.unit,
                package,
                pay_rate,
                SERVICES[service][0],
            )
            pair.status = fate
            self._history(pair, fate, timeline, admin)
            self._sessions_and_ledger(pair, fate, timeline, admin, student[1], rng)
            pairs.append(pair)
        for grant in self.ledger.grants:
            if grant.organization_id == org:
                self.ledger.expire_if_due(grant, self.now)
        return pairs

    def _retire_students(self, first_row: int, pairs: list[_Pair]) -> None:
        """One in three students with no live pairing left has finished with the center and is
        inactive (a live one keeps its student active)."""
        live = {p.student for p in pairs if p.status in HOLDING_STATUSES}
        table = self.table(Student)
        status = table.columns.index("status")
        for n in range(first_row, len(table.rows)):
            row = table.rows[n]
            if row[0] not in live and row[0] % 3 == 0:
                table.rows[n] = (*row[:status], StudentStatus.INACTIVE, *row[status + 1 :])

    def _history(self, pair: _Pair, fate: str, timeline: _Timeline, admin: int) -> None:
        changes = self.table(RelationshipStatusChange)
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

    def _buy(self, pair: _Pair, at: datetime, admin: int, rng: random.Random) -> _Allocation:
        """The student buys the relationship's package and the admin reserves all of it for
        the relationship: a credit and a hold (the first one is the proposal's)."""
        package = pair.package
        first = not pair.allocations
        woo = rng.random() < 0.8
        grant = _Grant(
            pk=self.table(Grant).reserve(),
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
        self.ledger.grants.append(grant)
        self.ledger.post(
            grant,
            EntryKind.CREDIT,
            at,
            actor=admin,
            total=package.quantity,
            reason=grant.reference or f"1 × {package.name}",
        )
        allocation = self.ledger.allocate(
            _Allocation(self.table(Allocation).reserve(), pair.organization_id, pair.pk, grant, at)
        )
        before = pair.allocated
        pair.allocations.append(allocation)
        self.ledger.post(
            grant,
            EntryKind.HOLD,
            at + timedelta(seconds=1),
            actor=admin,
            held=package.quantity,
            allocation=allocation,
            reason="Proposal" if first else "Allocation raised",
        )
        if not first:
            self.table(RelationshipStatusChange).add(
                pair.organization_id,
                pair.pk,
                "paired",
                "paired",
                admin,
                "Allocation raised",
                before,
                pair.allocated,
                at + timedelta(seconds=1),
            )
        return allocation

    def _release(self, allocation: _Allocation, at: datetime, admin: int, reason: str) -> None:
        if allocation.grant.expires_at is not None and allocation.grant.expires_at <= at:
            self.ledger.expire_if_due(allocation.grant, at)
        if allocation.held:
            self.ledger.post(
                allocation.grant,
                EntryKind.RELEASE,
                at,
                actor=admin,
                held=-allocation.held,
                allocation=allocation,
                reason=reason,
            )

    def _sessions_and_ledger(
        self,
        pair: _Pair,
        fate: str,
        timeline: _Timeline,
        admin: int,
        student_user: int | None,
        rng: random.Random,
    ) -> None:
        current = self._buy(pair, timeline.created, admin, rng)
        if fate == RelationshipStatus.DECLINED:
            self._release(current, timeline.ended or self.now, admin, "Declined")
            return
        kind = SERVICES[pair.service][1]
        usual = rng.choice((45, 60, 60, 90)) if pair.unit == Unit.MINUTES else 60
        mode = rng.choice(MODES)
        last_event = timeline.created
        for starts_at in timeline.sessions:
            duration = usual if rng.random() < 0.8 else rng.choice((30, 45, 60, 75))
            status = _session_status(starts_at, self.now, fate, rng)
            index = len(self.sessions)
            logged_at = None
            charged = 0
            if status == SessionStatus.COMPLETED:
                logged_at = starts_at + timedelta(minutes=duration + rng.randrange(10, 360))
                logged_at = min(logged_at, self.now)
                wanted = 1 if pair.unit == Unit.SESSIONS else duration
                while charged < wanted:
                    grant = current.grant
                    if grant.expires_at is not None and grant.expires_at <= starts_at:
                        self.ledger.expire_if_due(grant, starts_at)
                    if current.grant.status != GrantStatus.ACTIVE or current.held == 0:
                        bought = max(starts_at - timedelta(days=1), last_event)
                        if grant.status == GrantStatus.EXPIRED and grant.last_at is not None:
                            bought = max(bought, grant.last_at + timedelta(minutes=1))
                        current = self._buy(pair, bought, admin, rng)
                    take = min(wanted - charged, current.held)
                    self.ledger.post(
                        current.grant,
                        EntryKind.CONSUME,
                        logged_at,
                        actor=pair.provider_user,
                        used=take,
                        held=-take,
                        allocation=current,
                        session=index,
                    )
                    charged += take
                last_event = logged_at
            self._session(
                pair,
                index,
                starts_at,
                duration,
                kind,
                mode,
                status,
                charged,
                logged_at,
                admin,
                student_user,
                rng,
            )
        if fate in (RelationshipStatus.COMPLETED, RelationshipStatus.CANCELLED):
            assert timeline.ended is not None
            self._release(current, max(timeline.ended, last_event), admin, "Relationship ended")
        elif fate == RelationshipStatus.PAIRED and _past_expiry(current.grant, self.now):
            # Its hours lapsed: the student bought more, so the pairing still holds some.
            self.ledger.expire_if_due(current.grant, self.now)
            self._buy(pair, max(self.now - timedelta(days=1), last_event), admin, rng)

    def _session(
        self,
        pair: _Pair,
        index: int,
        starts_at: datetime,
        duration: int,
        kind: str,
        mode: str,
        status: str,
        charged: int,
        logged_at: datetime | None,
        admin: int,
        student_user: int | None,
        rng: random.Random,
    ) -> None:
        notes = cancellation = party = explanation = dispute_reason = resolution = ""
        rating = confirmed = disputed = resolved = resolved_by = logged_by = None
        created = min(starts_at - timedelta(days=7), self.now - timedelta(days=1))
        if status == SessionStatus.COMPLETED:
            assert logged_at is not None
            created, logged_by = logged_at, pair.provider_user
            notes = NOTES[index % len(NOTES)]
            rating = rng.choice((None, None, 3, 4, 5, 5))
            recent = starts_at > self.now - timedelta(days=14)
            chance = rng.random()
            if recent and student_user is not None and chance < 0.05:
                disputed = min(logged_at + timedelta(hours=20), self.now)
                dispute_reason = DISPUTE_REASONS[index % len(DISPUTE_REASONS)]
            elif not recent and student_user is not None and chance < 0.004:
                disputed = logged_at + timedelta(days=1)
                dispute_reason = DISPUTE_REASONS[index % len(DISPUTE_REASONS)]
                resolved, resolved_by, resolution = disputed + timedelta(days=2), admin, "kept"
            elif chance < 0.35 and logged_at + timedelta(days=1) < self.now:
                confirmed = logged_at + timedelta(days=1)
        elif status == SessionStatus.CANCELLED:
            cancellation = CANCEL_REASONS[index % len(CANCEL_REASONS)]
        elif status == SessionStatus.NO_SHOW:
            party = NoShowParty.STUDENT if rng.random() < 0.75 else NoShowParty.PROVIDER
            explanation = NO_SHOW_EXPLANATIONS[index % len(NO_SHOW_EXPLANATIONS)]
            logged_by = pair.provider_user
            logged_at = created = min(starts_at + timedelta(hours=2), self.now)
        self.sessions.append(
            (
                created,
                index,
                (
                    self.uuid(rng),
                    pair.organization_id,
                    pair.pk,
                    starts_at,
                    duration,
                    kind,
                    mode,
                    status,
                    notes,
                    rating,
                    cancellation,
                    party,
                    explanation,
                    charged,
                    logged_by,
                    logged_at,
                    confirmed,
                    disputed,
                    dispute_reason,
                    resolved,
                    resolved_by,
                    resolution,
                    pair.pay_rate,
                    pair.client_rate,
                    created,
                ),
            )
        )

    def _standalone_grants(
        self,
        org: int,
        admin: int,
        students: list[tuple[int, int | None]],
        packages: list[_Package],
        rng: random.Random,
    ) -> None:
        """Hours no relationship holds: a bundle bought by one student in four, some long
        expired, some still free to book."""
        bundle = packages[-1]
        for n, (student, _) in enumerate(students):
            if n % 4:
                continue
            at = self.now - timedelta(days=rng.uniform(1, HORIZON_DAYS))
            grant = _Grant(
                pk=self.table(Grant).reserve(),
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
            self.ledger.grants.append(grant)
            self.ledger.post(
                grant,
                EntryKind.CREDIT,
                at,
                actor=admin,
                total=bundle.quantity,
                reason=grant.reference,
            )
            self.ledger.expire_if_due(grant, self.now)

    # After every center: the rows whose ids or values were known only at the end.

    def finish(self) -> None:
        packages = {}
        for pk, _uuid, _org, *_rest in self.table(Package).rows:
            packages[pk] = [
                st for _, _, package, st in self.table(PackageServiceType).rows if package == pk
            ]
        grants, grant_types = self.table(Grant), self.table(GrantServiceType)
        rng = random.Random(f"{self.seed}:grants")
        for g in self.ledger.grants:
            grants.put(
                g.pk,
                self.uuid(rng),
                g.organization_id,
                g.student_id,
                g.package_id,
                g.unit,
                g.total,
                g.used,
                g.held,
                g.valid_from,
                g.expires_at,
                g.status,
                g.source,
                g.reference,
                g.valid_from,
                g.created_by,
            )
            for service_type in packages[g.package_id] if g.package_id else ():
                grant_types.add(g.organization_id, g.pk, service_type)
        allocations = self.table(Allocation)
        for a in self.ledger.allocations:
            allocations.put(
                a.pk,
                a.organization_id,
                a.relationship_id,
                a.grant.pk,
                a.held,
                a.consumed,
                a.created_at,
            )
        session_ids = self._sessions_by_time()
        entries = self.table(GrantEntry)
        self.ledger.entries.sort(key=operator.itemgetter(0))
        for (
            at,
            org,
            grant,
            allocation,
            kind,
            total,
            used,
            held,
            usable,
            rel,
            session,
            actor,
            reason,
        ) in self.ledger.entries:
            entries.add(
                org,
                grant,
                allocation,
                kind,
                total,
                used,
                held,
                usable,
                rel,
                None if session is None else session_ids[session],
                actor,
                reason,
                at,
            )
        self.ledger.entries.clear()

    def _sessions_by_time(self) -> list[int]:
        """Sessions get ids in the order they were written, as in a real center; returns each
        planned session's id by its index."""
        table = self.table(Session)
        ids = [0] * len(self.sessions)
        # Stable: sessions written at the same moment keep the order they were planned in.
        self.sessions.sort(key=operator.itemgetter(0))
        for _created, index, values in self.sessions:
            ids[index] = table.add(*values)
        self.sessions.clear()
        return ids


@dataclass(frozen=True)
class _Timeline:
    created: datetime
    paired: datetime | None
    ended: datetime | None
    sessions: list[datetime]


def _fates(center: Center, rng: random.Random) -> list[str]:
    """Each relationship's status: at least one of each, the rest by weight."""
    count = max(ceil(center.sessions / SESSIONS_PER_RELATIONSHIP / 0.85), center.students, 5)
    statuses = [str(status) for status, _ in FATES]
    weights = [weight for _, weight in FATES]
    return list(statuses) + rng.choices(statuses, weights=weights, k=count - len(statuses))


def _session_counts(total: int, fates: list[str], rng: random.Random) -> list[int]:
    """Share `total` sessions among the relationships that have sessions, unevenly."""
    weights = [rng.uniform(0.3, 1.7) if fate in WITH_SESSIONS else 0.0 for fate in fates]
    whole = sum(weights)
    counts = [int(total * w / whole) for w in weights]
    holders = [n for n, w in enumerate(weights) if w]
    for n in range(total - sum(counts)):
        counts[holders[n % len(holders)]] += 1
    return counts


def _timeline(
    fate: str, sessions: int, now: datetime, tz: ZoneInfo, rng: random.Random
) -> _Timeline:
    """When the relationship was proposed, paired and ended, and its sessions' starts: weekly
    or so at the pair's usual hour, in the center's time zone."""
    if fate == RelationshipStatus.PROPOSED:
        return _Timeline(now - timedelta(days=rng.uniform(0.2, 6)), None, None, [])
    if fate == RelationshipStatus.DECLINED:
        created = now - timedelta(days=rng.uniform(8, HORIZON_DAYS))
        return _Timeline(created, None, created + timedelta(days=rng.uniform(1, 6)), [])
    ahead = min(sessions // 10, 2) if fate == RelationshipStatus.PAIRED else 0
    past = sessions - ahead
    span = HORIZON_DAYS - 20
    gap = min(rng.choice((3.5, 7.0, 7.0, 7.0, 10.0, 14.0)), span / max(past, 1))
    if fate == RelationshipStatus.PAIRED:
        last = now - timedelta(days=rng.uniform(0.5, min(gap, 6)))
    else:
        last = now - timedelta(days=rng.uniform(3, max(span - past * gap, 4)))
    first = last - timedelta(days=gap * max(past - 1, 0))
    slot = rng.choice(range(15 * 60, 20 * 60, 30))
    starts = [_at(first, k * gap, slot, tz) for k in range(past)]
    starts += [_at(first, (past + k) * gap, slot, tz) for k in range(ahead)]
    if gap < 1:
        # More sessions than days (a tiny center asked for many): every few minutes.
        starts = [first + timedelta(days=k * gap) for k in range(sessions)]
    created = (starts[0] if starts else last) - timedelta(days=rng.uniform(5, 12))
    paired = created + timedelta(days=rng.uniform(0.5, 3))
    ended = None
    if fate != RelationshipStatus.PAIRED:
        ended = min((starts[-1] if starts else paired) + timedelta(days=2), now)
    return _Timeline(created, paired, ended, starts)


def _at(first: datetime, days: float, slot: int, tz: ZoneInfo) -> datetime:
    """`days` after `first`'s date, at `slot` minutes past midnight in `tz`."""
    day = first.astimezone(tz).date() + timedelta(days=int(days))
    local = datetime(day.year, day.month, day.day, slot // 60, slot % 60, tzinfo=tz)
    return local.astimezone(UTC)


def _past_expiry(grant: _Grant, at: datetime) -> bool:
    return grant.expires_at is not None and grant.expires_at <= at


def _session_status(starts_at: datetime, now: datetime, fate: str, rng: random.Random) -> str:
    if starts_at > now:
        return SessionStatus.SCHEDULED
    recent = fate == RelationshipStatus.PAIRED and starts_at > now - timedelta(days=3)
    if recent and rng.random() < 0.4:
        # Met recently, not logged yet.
        return SessionStatus.SCHEDULED
    draw = rng.random()
    if draw < 0.07:
        return SessionStatus.CANCELLED
    if draw < 0.11:
        return SessionStatus.NO_SHOW
    return SessionStatus.COMPLETED


# --- Loading ------------------------------------------------------------------------------------


@dataclass
class Report:
    """What `generate` did: each step's time, the row counts, the logins."""

    steps: list[tuple[str, float]] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=dict)
    logins: list[tuple[str, str]] = field(default_factory=list)

    @property
    def total_seconds(self) -> float:
        return sum(seconds for _, seconds in self.steps)


class _Steps:
    """Times each named step and reports it as it ends."""

    def __init__(self, report: Report, write: Callable[[str], None]) -> None:
        self.report = report
        self.write = write

    def run[T](self, name: str, fn: Callable[[], T]) -> T:
        started = time.perf_counter()
        result = fn()
        seconds = time.perf_counter() - started
        self.report.steps.append((name, seconds))
        self.write(f"{name:<44} {seconds:8.1f} s")
        return result


def centers(options: Options) -> list[Center]:
    """The large center, then the small tenants beside it."""
    large = Center(
        SCALE_SLUG,
        "Scale Learning Center",
        options.students,
        options.providers,
        options.sessions,
        "America/New_York",
    )
    small = [
        Center(f"tenant-{n:02}", f"Tenant Center {n:02}", time_zone="Europe/London", **SMALL_CENTER)
        for n in range(1, options.tenants + 1)
    ]
    return [large, *small]


def generate(
    options: Options,
    *,
    write: Callable[[str], None] = lambda line: None,
    now: datetime | None = None,
) -> Report:
    """Fill an empty PostgreSQL database with the large center and `options.tenants` small
    ones, in one transaction; then vacuum, analyze and reconcile the ledger."""
    report = Report()
    steps = _Steps(report, write)
    steps.run("check the database is empty", _check_empty)
    now = now or datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    password_hash = steps.run("hash the password (once)", lambda: make_password(SCALE_PASSWORD))
    plan = Plan(seed=options.seed, now=now, password_hash=password_hash)
    all_centers = centers(options)
    with transaction.atomic():
        steps.run("number the rows after existing ones", lambda: _start_ids(plan))
        large = all_centers[0]
        steps.run(f"plan {large.slug}", lambda: plan.add_center(large))
        if options.tenants:
            steps.run(
                f"plan {options.tenants} small centers",
                lambda: [plan.add_center(c) for c in all_centers[1:]],
            )
        steps.run("order sessions and ledger entries by time", plan.finish)
        _load(plan, steps, report)
    steps.run("vacuum and analyze", lambda: _vacuum_analyze(plan))
    differences = steps.run("reconcile the ledger", find_differences)
    if differences:
        raise ScaleError(f"The generated ledger does not reconcile: {differences[:5]}")
    report.logins = [
        (admin_email(SCALE_SLUG), "admin"),
        (provider_email(SCALE_SLUG, 1), "provider"),
        (student_email(SCALE_SLUG, 1), "student"),
    ]
    return report


def _check_empty() -> None:
    if connection.vendor != "postgresql":
        raise ScaleError("The scale generator loads with PostgreSQL's COPY; set DATABASE_URL.")
    if Organization.objects.exists():
        raise ScaleError(
            "This database has organizations already; the scale generator fills an empty one "
            "(createdb scale, then DATABASE_URL=…/scale manage.py migrate)."
        )


def _start_ids(plan: Plan) -> None:
    """Ids continue after the rows already there (users, say: a superuser)."""
    with connection.cursor() as cursor:
        for table in plan.tables.values():
            cursor.execute(
                sql.SQL("SELECT COALESCE(MAX(id), 0) + 1 FROM {}").format(
                    sql.Identifier(table.name)
                )
            )
            (table.next_id,) = cursor.fetchone()


# The one trigger off during the load: it runs a query per allocation (tens of thousands), and
# `_check_same_student` checks its rule for every row at once afterwards.
ALLOCATION_TRIGGER = ("grants_allocation", "allocation_same_student")

SAME_STUDENT = """
SELECT a.id FROM grants_allocation a
  JOIN grants_grant g ON g.id = a.grant_id
  JOIN relationships_relationship r ON r.id = a.relationship_id
 WHERE g.student_id <> r.student_id
 LIMIT 5
"""


def _load(plan: Plan, steps: _Steps, report: Report) -> None:
    """COPY every table in foreign-key order, inside the caller's transaction.

    Key checks run at each statement's end (`SET CONSTRAINTS ALL IMMEDIATE`) rather than all
    at the commit, so a bad row is named by the COPY that wrote it. The allocation trigger is
    disabled by an ALTER inside this same transaction: a failure anywhere rolls the ALTER back
    with the rows, and the `finally` re-enables it on the way out otherwise."""
    table, trigger = ALLOCATION_TRIGGER
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute(
            sql.SQL("ALTER TABLE {} DISABLE TRIGGER {}").format(
                sql.Identifier(table), sql.Identifier(trigger)
            )
        )
        failed = True
        try:
            for t in plan.tables.values():
                steps.run(
                    f"copy {t.name} ({len(t.rows):,} rows)",
                    functools.partial(_copy, cursor, t, steps.write),
                )
                report.rows[t.name] = len(t.rows)
                t.rows.clear()
            failed = False
        finally:
            if not failed:
                cursor.execute(
                    sql.SQL("ALTER TABLE {} ENABLE TRIGGER {}").format(
                        sql.Identifier(table), sql.Identifier(trigger)
                    )
                )
        steps.run("check allocations' grant and relationship", lambda: _check_same_student(cursor))


# Rows per COPY statement: each statement's key checks run at its end, so a large table is
# copied in slices, each reported, and the queue of pending checks stays bounded.
COPY_SLICE = 200_000


def _copy(cursor: Any, table: Table, write: Callable[[str], None]) -> None:
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(table.name), sql.SQL(", ").join([sql.Identifier(c) for c in table.columns])
    )
    constants, rows, started = table.constants, table.rows, time.perf_counter()
    for start in range(0, len(rows), COPY_SLICE):
        with cursor.cursor.copy(statement) as copy:
            for row in itertools.islice(rows, start, start + COPY_SLICE):
                copy.write_row(row + constants)
        if len(rows) > COPY_SLICE:
            done = min(start + COPY_SLICE, len(rows))
            write(f"    {done:>9,} rows  {time.perf_counter() - started:8.1f} s")
    # Statistics at once: the key checks of the tables copied next look rows up in this one.
    cursor.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(table.name)))
    cursor.execute(
        sql.SQL(
            "SELECT setval(pg_get_serial_sequence(%s, 'id'), GREATEST((SELECT MAX(id) FROM {}), 1))"
        ).format(sql.Identifier(table.name)),
        [table.name],
    )


def _check_same_student(cursor: Any) -> None:
    cursor.execute(SAME_STUDENT)
    wrong = [pk for (pk,) in cursor.fetchall()]
    if wrong:
        raise ScaleError(f"allocation_same_student: allocations {wrong} hold another student's")


def _vacuum_analyze(plan: Plan) -> None:
    """Fresh statistics and visibility maps, as a center that has been running would have.
    Inside a transaction (a test's), VACUUM cannot run: statistics only."""
    command = "ANALYZE {}" if connection.in_atomic_block else "VACUUM (ANALYZE) {}"
    with connection.cursor() as cursor:
        for table in plan.tables.values():
            cursor.execute(sql.SQL(command).format(sql.Identifier(table.name)))


def summary(report: Report) -> Iterable[str]:
    yield f"Total {report.total_seconds:.1f} s."
    for email, role in report.logins:
        yield f"  {role:<9} {email}"
    yield f"Password for every login: {SCALE_PASSWORD}"
