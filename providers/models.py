import uuid
from collections.abc import Iterable
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
        indexes = [
            models.Index(fields=["organization", "status", "name"]),
            # The providers list's order (name, then id) within the organization: its count and
            # its page's ids read from this index alone (providers 0004, docs/indexes.md).
            models.Index(fields=["organization", "name", "id"], name="provider_org_name"),
        ]
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

    def offered(self) -> Iterable[ServiceType]:
        """Its service types: those prefetched (`providers.selectors.with_service_types`),
        read without making a related manager (and its queryset) on each call, as
        `service_types.all()` does; otherwise `service_types.all()`."""
        cache = getattr(self, "_prefetched_objects_cache", None)
        if cache is not None and "service_types" in cache:
            rows: Iterable[ServiceType] = cache["service_types"]
            return rows
        return self.service_types.all()


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


class Weekday(models.IntegerChoices):
    MONDAY = 0, "Monday"
    TUESDAY = 1, "Tuesday"
    WEDNESDAY = 2, "Wednesday"
    THURSDAY = 3, "Thursday"
    FRIDAY = 4, "Friday"
    SATURDAY = 5, "Saturday"
    SUNDAY = 6, "Sunday"


class MeetingMode(models.TextChoices):
    IN_PERSON = "in_person", "In person"
    ONLINE = "online", "Online"


class AvailabilityWindow(models.Model):
    """A provider's weekly hours: every `weekday` from `start` to `end`, wall-clock times in the
    organization's time zone (so 15:00 stays 15:00 across a daylight-saving change). Where they
    meet then: in person at `location`, or online at the meeting link in `location`.
    docs/scheduling.md, "Availability"."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    provider = models.ForeignKey(
        Provider, on_delete=models.CASCADE, related_name="availability_windows"
    )
    weekday = models.PositiveSmallIntegerField(choices=Weekday)
    start = models.TimeField()
    end = models.TimeField()
    mode = models.CharField(max_length=10, choices=MeetingMode, default=MeetingMode.IN_PERSON)
    location = models.CharField(
        max_length=300, blank=True, help_text="The room or address, or the meeting link."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["weekday", "start", "id"]
        indexes = [models.Index(fields=["organization", "provider", "weekday"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(end__gt=models.F("start")), name="availability_window_ordered"
            ),
            models.CheckConstraint(
                condition=Q(weekday__gte=0, weekday__lte=6), name="availability_weekday_valid"
            ),
            models.CheckConstraint(
                condition=Q(mode__in=MeetingMode.values), name="availability_window_mode_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_weekday_display()} {self.start:%H:%M}–{self.end:%H:%M}"


class ExceptionKind(models.TextChoices):
    TIME_OFF = "off", "Time off"
    EXTRA = "extra", "Extra hours"


class AvailabilityException(models.Model):
    """One date that differs from the week: time off (the whole day when no times are given)
    or one-off extra hours, wall-clock times in the organization's time zone."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    provider = models.ForeignKey(
        Provider, on_delete=models.CASCADE, related_name="availability_exceptions"
    )
    kind = models.CharField(max_length=5, choices=ExceptionKind)
    date = models.DateField()
    start = models.TimeField(null=True, blank=True)
    end = models.TimeField(null=True, blank=True)
    mode = models.CharField(max_length=10, choices=MeetingMode, default=MeetingMode.IN_PERSON)
    location = models.CharField(max_length=300, blank=True)
    note = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["date", "start", "id"]
        indexes = [models.Index(fields=["organization", "provider", "date"])]
        constraints = [
            # Both times or neither (a whole day off); extra hours always have their times.
            models.CheckConstraint(
                condition=(Q(start__isnull=True, end__isnull=True, kind="off"))
                | Q(start__isnull=False, end__gt=models.F("start")),
                name="availability_exception_times",
            ),
            models.CheckConstraint(
                condition=Q(kind__in=ExceptionKind.values), name="availability_exception_kind"
            ),
            models.CheckConstraint(
                condition=Q(mode__in=MeetingMode.values), name="availability_exception_mode"
            ),
        ]

    def __str__(self) -> str:
        if self.start is None or self.end is None:
            return f"{self.get_kind_display()} on {self.date:%b %d}"
        return (
            f"{self.get_kind_display()} on {self.date:%b %d}, {self.start:%H:%M}–{self.end:%H:%M}"
        )

    @property
    def whole_day(self) -> bool:
        return self.start is None


class AvailabilityVersion(models.Model):
    """How many committed transactions have written an organization's weekly hours or dated
    exceptions: kept by the database (PostgreSQL triggers of providers 0004, in the writing
    transaction, at its commit), never by the code. The center's week is kept in the cache
    under it and the center's data version (`sessions_app.slots.center_week`)."""

    # No constraint in the database: the trigger adds to the row at the commit of a
    # transaction that may have deleted the organization with its hours.
    organization = models.OneToOneField(
        Organization,
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="+",
        db_constraint=False,
    )
    n = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"hours of organization {self.organization_id}: version {self.n}"
