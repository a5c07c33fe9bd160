"""The hours ledger (DESIGN §3). Quantities are integer minutes, or whole sessions.

Balance columns (`Grant.total/used/held`, `Allocation.held/consumed`) are written only by
`grants.services`, always together with the `GrantEntry` rows that explain them. The database
keeps the invariants: CHECK constraints on the columns, unique idempotency keys, composite
tenant keys, and a trigger that makes `GrantEntry` append-only.
"""

import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta, tzinfo
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone

from matchpal.models import Organization, ServiceType
from students.models import Student


class Unit(models.TextChoices):
    MINUTES = "minutes", "Minutes"
    SESSIONS = "sessions", "Sessions"


# A grant's total is at most 100,000 hours or 10,000 sessions, in forms and in the ledger: far
# more than any center sells, and far from the integer columns' range for every sum.
GRANT_MAX_TOTAL: dict[str, int] = {Unit.MINUTES: 6_000_000, Unit.SESSIONS: 10_000}
# A grant's price at sale (`Grant.price`, 12 digits with 2 decimals) stays below this.
MAX_PRICE = Decimal("10000000000")
PRICE_OUT_OF_RANGE = "The price is between 0.00 and 9,999,999,999.99."


def grant_too_large(unit: str) -> str:
    if unit == Unit.SESSIONS:
        return "A grant holds at most 10,000 sessions."
    return "A grant holds at most 100,000 hours."


# A package's validity: 1 day to 10 years (a larger one overflowed in expiry dates).
VALIDITY_DAYS_MAX = 3650


class Package(models.Model):
    """What a center sells: N minutes or N sessions of some service types."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organization = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="packages"
    )
    name = models.CharField(max_length=150)
    quantity = models.PositiveIntegerField(help_text="Minutes, or sessions, per package.")
    unit = models.CharField(max_length=10, choices=Unit, default=Unit.MINUTES)
    service_types = models.ManyToManyField(
        ServiceType, through="PackageServiceType", related_name="packages"
    )
    validity_days = models.PositiveIntegerField(
        null=True, blank=True, help_text="Hours expire this many days after purchase; blank: never."
    )
    price = models.DecimalField(max_digits=10, decimal_places=2, default=0)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "id"], name="package_org_id"),
            models.CheckConstraint(condition=Q(quantity__gte=1), name="package_quantity_positive"),
            models.CheckConstraint(condition=Q(price__gte=0), name="package_price_not_negative"),
            models.CheckConstraint(condition=Q(unit__in=Unit.values), name="package_unit_valid"),
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("grants:package_edit", args=[self.organization.slug, self.public_id])


class PackageServiceType(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    package = models.ForeignKey(Package, on_delete=models.CASCADE)
    service_type = models.ForeignKey(ServiceType, on_delete=models.PROTECT)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["package", "service_type"], name="package_service_type_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"package {self.package_id} covers service type {self.service_type_id}"


class ShopKey(models.TextChoices):
    PRODUCT = "product", "Product id"
    VARIATION = "variation", "Variation id"
    SKU = "sku", "SKU"


SHOP_KEY_MAX_LENGTH = 100


class PackageShopMapping(models.Model):
    """A shop product id, variation id or SKU that sells this package (one package per key)."""

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    package = models.ForeignKey(Package, on_delete=models.CASCADE, related_name="shop_mappings")
    kind = models.CharField(max_length=10, choices=ShopKey)
    value = models.CharField(max_length=SHOP_KEY_MAX_LENGTH)

    class Meta:
        ordering = ["kind", "value"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "kind", "value"], name="package_shop_key_unique"
            ),
            models.CheckConstraint(
                condition=Q(kind__in=ShopKey.values), name="package_shop_kind_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.value}"


class GrantStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    EXPIRED = "expired", "Expired"
    REVOKED = "revoked", "Revoked"


class GrantSource(models.TextChoices):
    MANUAL = "manual", "Added by an admin"
    WOOCOMMERCE = "woocommerce", "WooCommerce order"
    TRANSFER = "transfer", "Transfer"


class GrantQuerySet(models.QuerySet["Grant"]):
    def usable(
        self, *, at: datetime | None = None, valid_by: datetime | None = None
    ) -> "GrantQuerySet":
        """The one definition of a usable grant: active, not expired at `at` (now by default),
        and valid from `valid_by` (default `at`) at the latest. Usable grants may be held and
        consumed. `Grant.is_usable` is its mirror for a grant already in memory."""
        return self.filter(usable_condition(at=at, valid_by=valid_by))


def usable_condition(*, at: datetime | None = None, valid_by: datetime | None = None) -> Q:
    """`GrantQuerySet.usable` as a condition, for an aggregate's filter over a student's grants
    (the grants of every student at once, `grants.selectors.low_balance_students`)."""
    at = at or timezone.now()
    return Q(status=GrantStatus.ACTIVE, valid_from__lte=valid_by or at) & (
        Q(expires_at__isnull=True) | Q(expires_at__gt=at)
    )


class Grant(models.Model):
    """Hours on a student's account. `available = total − used − held`."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="grants")
    student = models.ForeignKey(Student, on_delete=models.PROTECT, related_name="grants")
    package = models.ForeignKey(
        Package, on_delete=models.PROTECT, null=True, blank=True, related_name="grants"
    )
    service_types = models.ManyToManyField(
        ServiceType, through="GrantServiceType", related_name="grants"
    )
    unit = models.CharField(max_length=10, choices=Unit, default=Unit.MINUTES)
    total = models.IntegerField(default=0)
    used = models.IntegerField(default=0)
    held = models.IntegerField(default=0)
    valid_from = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=GrantStatus, default=GrantStatus.ACTIVE)
    source = models.CharField(max_length=12, choices=GrantSource, default=GrantSource.MANUAL)
    reference = models.CharField(max_length=200, blank=True)
    # What the sale was worth, written once when the grant is made (docs/reports.md,
    # "Financial"): `price` for `sold_quantity` minutes or sessions (the credit). A shop order
    # line's own total; a package added by an admin at the package's price × count then; a
    # custom quantity at the price the admin typed; a transfer's new grant at its source's price
    # per unit. Both null: no price (a custom quantity given for free or unpriced). The
    # Financial report values every movement of the grant at price ÷ sold_quantity per unit,
    # so editing a package's price never re-values past sales.
    price = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    sold_quantity = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    objects = GrantQuerySet.as_manager()

    class Meta:
        ordering = [F("expires_at").asc(nulls_last=True), "id"]
        indexes = [
            models.Index(fields=["organization", "student", "status"]),
            models.Index(fields=["status", "expires_at"]),
            # The active grants not valid yet: what Free to book subtracts from the students'
            # summaries (`StudentBalance`); few, read through this.
            models.Index(
                fields=["organization", "valid_from"],
                condition=Q(status="active"),
                name="grant_active_valid_from",
            ),
            # The active grants by expiry (the admin dashboard's grants expiring soon).
            models.Index(
                fields=["organization", "expires_at", "id"],
                condition=Q(status="active"),
                name="grant_active_expires",
            ),
        ]
        constraints = [
            models.UniqueConstraint(fields=["organization", "id"], name="grant_org_id"),
            models.CheckConstraint(
                condition=Q(price__isnull=True, sold_quantity__isnull=True)
                | Q(price__gte=0, sold_quantity__gte=1),
                name="grant_price_with_its_quantity",
            ),
            models.CheckConstraint(condition=Q(used__gte=0), name="grant_used_not_negative"),
            models.CheckConstraint(condition=Q(held__gte=0), name="grant_held_not_negative"),
            models.CheckConstraint(
                condition=Q(total__gte=F("used") + F("held")),
                name="grant_used_plus_held_within_total",
            ),
            models.CheckConstraint(
                condition=Q(status__in=GrantStatus.values), name="grant_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(source__in=GrantSource.values), name="grant_source_valid"
            ),
            models.CheckConstraint(condition=Q(unit__in=Unit.values), name="grant_unit_valid"),
            models.CheckConstraint(
                condition=Q(expires_at__isnull=True) | Q(expires_at__gt=F("valid_from")),
                name="grant_expires_after_valid_from",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.student}: {self.total} {self.unit} ({self.reference or self.source})"

    @property
    def available(self) -> int:
        return self.total - self.used - self.held

    def covered(self) -> Iterable[ServiceType]:
        """Its service types: those prefetched (`grants.selectors.grants_of_student`), read
        without making a related manager (and its queryset) on each call, as
        `service_types.all()` does; otherwise `service_types.all()`."""
        cache = getattr(self, "_prefetched_objects_cache", None)
        if cache is not None and "service_types" in cache:
            rows: Iterable[ServiceType] = cache["service_types"]
            return rows
        return self.service_types.all()

    @property
    def usable_now(self) -> int:
        """What the grant counts in the student's usable balance: its available hours while
        active, 0 otherwise. Its entries' `usable_delta` sum to this (reconcile_grants checks
        it), so a history's running balance starts here and walks back."""
        return self.available if self.status == GrantStatus.ACTIVE else 0

    def is_past_expiry(self, at: datetime) -> bool:
        """Its date has passed by `at`, whether or not the daily job has marked it expired."""
        return self.expires_at is not None and self.expires_at <= at

    def is_usable(self, at: datetime | None = None, *, valid_by: datetime | None = None) -> bool:
        """`GrantQuerySet.usable` for this grant: active, not expired at `at`, and valid from
        `valid_by` (default `at`) at the latest."""
        at = at or timezone.now()
        return (
            self.status == GrantStatus.ACTIVE
            and self.valid_from <= (valid_by or at)
            and not self.is_past_expiry(at)
        )


class StudentBalance(models.Model):
    """A student's hours of one unit free on their active grants: `available` (total − used −
    held) summed over the grants whose status is active, whatever their dates. A small summary
    kept in the transaction of every ledger write (`Posting.write` adds each entry's
    `usable_delta`, which is exactly what the entry changed in it), so the admin home reads one
    row per student instead of grouping every grant; `reconcile_grants` checks it against the
    grants. Free to book *now* is this minus the active grants not usable at this moment (not
    yet valid, or past their expiry before the daily job marked them): those few are read
    through partial indexes (`grants.selectors.free_minutes_by_student`). A row exists for
    every student and unit with a grant (a grant is created with its first entry)."""

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    student = models.ForeignKey(Student, on_delete=models.PROTECT, related_name="+")
    unit = models.CharField(max_length=10, choices=Unit)
    # No CHECK (≥ 0) on it: PostgreSQL checks the row an upsert proposes before it finds the
    # conflict, and the proposed row carries the delta, negative for a consume. The grants'
    # own CHECKs keep each available ≥ 0; reconcile_grants checks the sum.
    active_available = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["student", "unit"], name="student_balance_unique"),
            models.CheckConstraint(
                condition=Q(unit__in=Unit.values), name="student_balance_unit_valid"
            ),
        ]
        indexes = [
            models.Index(
                fields=["organization", "unit", "active_available"],
                name="student_balance_org_free",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.student_id}: {self.active_available} {self.unit} free on active grants"


class CenterBalance(models.Model):
    """The whole center's hours of one service type and unit, summed over the grants covering
    it (a grant covering two types counts under each): `purchased` (the credits), `total`,
    `used`, `held` (reserved) and `active_available` (free on active grants, as
    `StudentBalance`). Kept by a PostgreSQL trigger on the ledger (one statement per posting,
    from its entries' deltas: `grants/migrations/0010_center_balance.py`), so the admin home
    reads a handful of rows instead of every grant; `rebuild_rollups` recomputes it from the
    ledger and `rebuild_rollups --check` compares. Free to book *now* subtracts the few
    active grants not usable at this moment, as `StudentBalance` does."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    service_type = models.ForeignKey(ServiceType, on_delete=models.CASCADE, related_name="+")
    unit = models.CharField(max_length=10, choices=Unit)
    purchased = models.BigIntegerField(default=0)
    total = models.BigIntegerField(default=0)
    used = models.BigIntegerField(default=0)
    held = models.BigIntegerField(default=0)
    active_available = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "service_type", "unit"], name="center_balance_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.organization_id}/{self.service_type_id}: {self.total} {self.unit}"


def end_of_day(at: datetime, tz: tzinfo) -> datetime:
    """The end of `at`'s day in `tz`. A grant valid from before then is valid on that day:
    one bought later that day covers a morning session (`valid_by` of the usable rule)."""
    return (timezone.localtime(at, tz) + timedelta(days=1)).replace(
        hour=0, minute=0, second=0, microsecond=0
    )


class GrantServiceType(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    grant = models.ForeignKey(Grant, on_delete=models.PROTECT)
    service_type = models.ForeignKey(ServiceType, on_delete=models.PROTECT)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["grant", "service_type"], name="grant_service_type_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"grant {self.grant_id} covers service type {self.service_type_id}"


class Allocation(models.Model):
    """A relationship's hold on one grant: `held` still reserved, `consumed` by its sessions."""

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    relationship = models.ForeignKey(
        "relationships.Relationship", on_delete=models.PROTECT, related_name="allocations"
    )
    grant = models.ForeignKey(Grant, on_delete=models.PROTECT, related_name="allocations")
    held = models.IntegerField(default=0)
    consumed = models.IntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["relationship", "grant"], name="allocation_relationship_grant_unique"
            ),
            models.UniqueConstraint(fields=["organization", "id"], name="allocation_org_id"),
            # The target of the entries' (grant, allocation) key: an entry's allocation is one
            # of its own grant's.
            models.UniqueConstraint(fields=["grant", "id"], name="allocation_grant_id"),
            # Likewise for (relationship, allocation): an entry naming both names the
            # allocation's own relationship.
            models.UniqueConstraint(
                fields=["relationship", "id"], name="allocation_relationship_id"
            ),
            models.CheckConstraint(condition=Q(held__gte=0), name="allocation_held_not_negative"),
            models.CheckConstraint(
                condition=Q(consumed__gte=0), name="allocation_consumed_not_negative"
            ),
        ]

    def __str__(self) -> str:
        return (
            f"Hold of {self.held} on grant {self.grant_id} for relationship {self.relationship_id}"
        )


class EntryKind(models.TextChoices):
    CREDIT = "credit", "Credit"
    ADJUST = "adjust", "Adjustment"
    HOLD = "hold", "Hold"
    RELEASE = "release", "Release"
    CONSUME = "consume", "Consumed"
    RESTORE = "restore", "Restored"
    TRANSFER_IN = "transfer_in", "Transfer in"
    TRANSFER_OUT = "transfer_out", "Transfer out"
    REFUND = "refund", "Refund"
    EXPIRE = "expire", "Expired"
    EXTEND = "extend", "Extended"


class GrantEntry(models.Model):
    """One change to a grant: signed deltas of total, used and held. Append-only.

    When `allocation` is set, the same `used_delta`/`held_delta` apply to that allocation's
    `consumed`/`held`, so every balance column is the sum of its entries.

    `usable_delta` is what the entry changed in the student's *usable* balance: the available
    hours of active grants. It equals `total − used − held` of the deltas while the grant stays
    active; an expiry takes the grant's whole available balance out (an extension that
    re-activates it puts it back), and changes to an inactive grant count zero. Summed per
    grant it is the grant's available balance when active and 0 otherwise (reconcile_grants
    checks this), so a running sum over a student's entries is the history's "available after".
    """

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    grant = models.ForeignKey(Grant, on_delete=models.PROTECT, related_name="entries")
    allocation = models.ForeignKey(
        Allocation, on_delete=models.PROTECT, null=True, blank=True, related_name="entries"
    )
    kind = models.CharField(max_length=14, choices=EntryKind)
    total_delta = models.IntegerField(default=0)
    used_delta = models.IntegerField(default=0)
    held_delta = models.IntegerField(default=0)
    usable_delta = models.IntegerField(default=0)
    # Not a column: a history page's "free to book after" (grants.selectors.with_running).
    running: int
    # Lazy references for history: the ledger never imports those apps.
    relationship = models.ForeignKey(
        "relationships.Relationship",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    session = models.ForeignKey(
        "sessions_app.Session",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="grant_entries",
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    reason = models.CharField(max_length=500, blank=True)
    idempotency_key = models.CharField(max_length=200, null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name_plural = "grant entries"
        indexes = [
            models.Index(fields=["grant", "created_at"]),
            models.Index(fields=["session", "grant"]),
            # The center's latest entries (the admin dashboard's recent transactions).
            models.Index(
                fields=["organization", "-created_at", "-id"], name="grant_entry_org_created"
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["idempotency_key"],
                condition=Q(idempotency_key__isnull=False),
                name="grant_entry_idempotency_key_unique",
            ),
            models.CheckConstraint(
                condition=Q(kind__in=EntryKind.values), name="grant_entry_kind_valid"
            ),
        ]

    def __str__(self) -> str:
        return (
            f"{self.kind} on grant {self.grant_id}: total {self.total_delta:+}, "
            f"used {self.used_delta:+}, held {self.held_delta:+}"
        )
