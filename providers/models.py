import uuid
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.urls import reverse

from matchpal.models import Organization, ServiceType


class ProviderStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    INACTIVE = "inactive", "Inactive"


class Provider(models.Model):
    """A tutor or advisor of one organization, with or without a login (`user`)."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organization = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="providers"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="provider_records",
    )
    name = models.CharField(max_length=150)
    email = models.EmailField(blank=True)
    phone = models.CharField(max_length=40, blank=True)
    bio = models.TextField(blank=True)
    default_pay_rate = models.DecimalField(
        max_digits=8,
        decimal_places=2,
        default=Decimal("0.00"),
        help_text="Per hour, in the organization's currency.",
    )
    service_types = models.ManyToManyField(
        ServiceType, through="ProviderService", related_name="providers", blank=True
    )
    status = models.CharField(max_length=10, choices=ProviderStatus, default=ProviderStatus.ACTIVE)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        indexes = [models.Index(fields=["organization", "status", "name"])]
        constraints = [
            models.UniqueConstraint(fields=["organization", "id"], name="provider_org_id"),
            models.UniqueConstraint(
                "organization",
                Lower("email"),
                condition=~Q(email=""),
                name="provider_email_unique_in_org",
            ),
            models.UniqueConstraint(
                fields=["organization", "user"],
                condition=Q(user__isnull=False),
                name="provider_one_record_per_user",
            ),
            models.CheckConstraint(
                condition=Q(default_pay_rate__gte=0), name="provider_pay_rate_not_negative"
            ),
            models.CheckConstraint(
                condition=Q(status__in=ProviderStatus.values), name="provider_status_valid"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("providers:detail", args=[self.organization.slug, self.public_id])

    @property
    def is_active(self) -> bool:
        return self.status == ProviderStatus.ACTIVE


class ProviderService(models.Model):
    """A provider offers a service type; both of the same organization (composite keys)."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    provider = models.ForeignKey(Provider, on_delete=models.CASCADE)
    service_type = models.ForeignKey(ServiceType, on_delete=models.PROTECT)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "service_type"], name="provider_service_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"provider {self.provider_id} offers service type {self.service_type_id}"
