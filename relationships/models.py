import uuid
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse

from matchpal.models import Organization, ServiceType
from providers.models import Provider
from students.models import Student


class RelationshipStatus(models.TextChoices):
    PROPOSED = "proposed", "Proposed"
    PAIRED = "paired", "Paired"
    DECLINED = "declined", "Declined"
    CANCELLED = "cancelled", "Cancelled"
    COMPLETED = "completed", "Completed"


# Statuses in which a relationship keeps its holds; the others have released them.
HOLDING_STATUSES = (RelationshipStatus.PROPOSED, RelationshipStatus.PAIRED)


class Unit(models.TextChoices):
    MINUTES = "minutes", "Minutes"
    SESSIONS = "sessions", "Sessions"


class Relationship(models.Model):
    """A student–provider pairing for one service type; it holds hours from the student's grants.

    Lifecycle (DESIGN §4): proposed → paired | declined | cancelled; paired → completed |
    cancelled. Every change goes through `relationships.services` and is kept in
    `RelationshipStatusChange`.
    """

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organization = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="relationships"
    )
    student = models.ForeignKey(Student, on_delete=models.PROTECT, related_name="relationships")
    provider = models.ForeignKey(Provider, on_delete=models.PROTECT, related_name="relationships")
    service_type = models.ForeignKey(
        ServiceType, on_delete=models.PROTECT, related_name="relationships"
    )
    # A relationship holds grants of one unit: minutes, or whole sessions.
    unit = models.CharField(max_length=10, choices=Unit, default=Unit.MINUTES)
    status = models.CharField(
        max_length=12, choices=RelationshipStatus, default=RelationshipStatus.PROPOSED
    )
    # Money per hour: what the provider earns and what the client is charged.
    provider_pay_rate = models.DecimalField(max_digits=8, decimal_places=2, default=Decimal("0.00"))
    client_rate = models.DecimalField(max_digits=8, decimal_places=2, default=Decimal("0.00"))
    proposed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    respond_by = models.DateTimeField(
        null=True, blank=True, help_text="Unanswered proposals are declined after this."
    )
    paired_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "id"], name="relationship_org_id"),
            # The key a session's (provider, relationship) refers to: a session's provider is
            # its relationship's (sessions_app 0008).
            models.UniqueConstraint(fields=["provider", "id"], name="relationship_provider_id"),
            models.CheckConstraint(
                condition=Q(status__in=RelationshipStatus.values), name="relationship_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(unit__in=Unit.values), name="relationship_unit_valid"
            ),
            models.CheckConstraint(
                condition=Q(provider_pay_rate__gte=0, client_rate__gte=0),
                name="relationship_rates_not_negative",
            ),
            # One live pairing of a student and a provider per service type.
            models.UniqueConstraint(
                fields=["student", "provider", "service_type"],
                condition=Q(status__in=["proposed", "paired"]),
                name="relationship_one_live_pairing",
            ),
        ]
        # docs/indexes.md: the relationships list's order, with and without a status.
        indexes = [
            models.Index(
                fields=["organization", "-created_at", "-id"], name="relationship_org_created"
            ),
            models.Index(
                fields=["organization", "status", "-created_at", "-id"],
                name="relationship_org_status_new",
            ),
            # A provider's pairings in one state (the provider home's proposals and students),
            # read with the organization (relationships 0009, docs/indexes.md).
            models.Index(
                fields=["organization", "provider", "status"],
                name="relationship_org_provider_st",
            ),
            # The proposals awaiting an answer, soonest deadline first (the admin home's list,
            # the daily decline of stale proposals): read in order, never sorted in full.
            models.Index(
                fields=["organization", "respond_by", "id"],
                condition=Q(status="proposed"),
                name="relationship_proposed_respond",
            ),
            # The paired relationships' keys: the check-in list keeps its sessions to those
            # without reading a relationship, one probe by key each (relationships 0010,
            # docs/indexes.md; a lookup by key, so no organization before it).
            models.Index(
                fields=["id"],
                condition=Q(status="paired"),
                name="relationship_paired_id",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.student} with {self.provider} ({self.service_type})"

    def get_absolute_url(self) -> str:
        return reverse("relationships:detail", args=[self.organization.slug, self.public_id])

    @property
    def holds_hours(self) -> bool:
        return self.status in HOLDING_STATUSES


class RelationshipStatusChange(models.Model):
    """The history of a relationship: who changed its status or its allocation, when and why.

    An allocation change keeps the status (from = to) and records the allocation (held +
    consumed, in the relationship's unit) before and after.
    """

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    relationship = models.ForeignKey(
        Relationship, on_delete=models.PROTECT, related_name="status_changes"
    )
    from_status = models.CharField(max_length=12, choices=RelationshipStatus, blank=True)
    to_status = models.CharField(max_length=12, choices=RelationshipStatus)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    reason = models.CharField(max_length=500, blank=True)
    allocation_before = models.PositiveIntegerField(null=True, blank=True)
    allocation_after = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            # Both or neither: a row is a status change or an allocation change.
            models.CheckConstraint(
                condition=Q(allocation_before__isnull=True, allocation_after__isnull=True)
                | Q(allocation_before__isnull=False, allocation_after__isnull=False),
                name="relationship_change_allocation_pair",
            ),
        ]

    def __str__(self) -> str:
        if self.is_allocation_change:
            return f"allocation {self.allocation_before} → {self.allocation_after}"
        return f"{self.from_status or 'new'} → {self.to_status}"

    @property
    def is_allocation_change(self) -> bool:
        return self.allocation_after is not None


class RelationshipRateChange(models.Model):
    """A change of a relationship's rates by an admin: before and after, who, when and why.
    Sessions keep the rates they were logged at; only sessions logged afterwards use the new."""

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    relationship = models.ForeignKey(
        Relationship, on_delete=models.PROTECT, related_name="rate_changes"
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    provider_pay_rate_before = models.DecimalField(max_digits=8, decimal_places=2)
    provider_pay_rate_after = models.DecimalField(max_digits=8, decimal_places=2)
    client_rate_before = models.DecimalField(max_digits=8, decimal_places=2)
    client_rate_after = models.DecimalField(max_digits=8, decimal_places=2)
    reason = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(provider_pay_rate_after__gte=0, client_rate_after__gte=0),
                name="relationship_rate_change_not_negative",
            ),
        ]

    def __str__(self) -> str:
        return (
            f"pay {self.provider_pay_rate_before} → {self.provider_pay_rate_after}, "
            f"client {self.client_rate_before} → {self.client_rate_after}"
        )
