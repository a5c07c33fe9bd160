import uuid
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse

from matchpal.models import Organization
from relationships.models import Relationship


class SessionStatus(models.TextChoices):
    SCHEDULED = "scheduled", "Scheduled"
    COMPLETED = "completed", "Completed"
    CANCELLED = "cancelled", "Cancelled"
    NO_SHOW = "no_show", "No-show"


class SessionKind(models.TextChoices):
    TUTORING = "tutoring", "Tutoring"
    ADVISING = "advising", "Advising"
    REVISION = "revision", "Revision"
    OTHER = "other", "Other"


class NoShowParty(models.TextChoices):
    STUDENT = "student", "The student"
    PROVIDER = "provider", "The provider"


class DisputeResolution(models.TextChoices):
    KEPT = "kept", "Kept as logged"
    EDITED = "edited", "Edited"
    CANCELLED = "cancelled", "Cancelled"


class Session(models.Model):
    """A meeting of a relationship (DESIGN §4). Hours move only through `grants.services`,
    called by `sessions_app.services`; `charged_minutes` mirrors what the ledger consumed."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organization = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="sessions"
    )
    relationship = models.ForeignKey(
        Relationship, on_delete=models.PROTECT, related_name="sessions"
    )
    starts_at = models.DateTimeField()
    duration_minutes = models.PositiveIntegerField()
    kind = models.CharField(max_length=10, choices=SessionKind, default=SessionKind.TUTORING)
    mode = models.CharField(max_length=120, blank=True, help_text="Online, at the center, …")
    status = models.CharField(max_length=10, choices=SessionStatus, default=SessionStatus.COMPLETED)
    notes = models.TextField(blank=True, help_text="The recap the student can read.")
    # Seen and changed only by admins and whoever wrote it last (DESIGN §2).
    internal_note = models.TextField(blank=True)
    internal_note_author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    review_minutes = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="A revision's actual review time; blank: the policy's fixed value.",
    )
    rating = models.PositiveSmallIntegerField(null=True, blank=True)
    cancellation_reason = models.CharField(max_length=500, blank=True)
    no_show_party = models.CharField(max_length=10, choices=NoShowParty, blank=True)
    no_show_explanation = models.CharField(max_length=500, blank=True)
    charged_minutes = models.PositiveIntegerField(
        default=0, help_text="What the ledger consumed for this session, net of restores."
    )
    charge_shortfall = models.PositiveIntegerField(
        default=0,
        help_text="Of a charged late cancellation or no-show, what the hours could not cover.",
    )
    logged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    logged_at = models.DateTimeField(null=True, blank=True)
    student_confirmed_at = models.DateTimeField(null=True, blank=True)
    disputed_at = models.DateTimeField(null=True, blank=True)
    dispute_reason = models.CharField(max_length=500, blank=True)
    report_sent_at = models.DateTimeField(null=True, blank=True)
    report_sent_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    report_sent_to = models.CharField(max_length=500, blank=True)
    dispute_resolved_at = models.DateTimeField(null=True, blank=True)
    dispute_resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    dispute_resolution = models.CharField(max_length=10, choices=DisputeResolution, blank=True)
    dispute_resolution_note = models.CharField(max_length=500, blank=True)
    # The relationship's rates when the session was logged: a later rate change does not
    # reprice it (issue 9, "money follows what was charged").
    provider_pay_rate = models.DecimalField(max_digits=8, decimal_places=2, default=Decimal("0.00"))
    client_rate = models.DecimalField(max_digits=8, decimal_places=2, default=Decimal("0.00"))
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-starts_at", "-id"]
        indexes = [
            models.Index(fields=["organization", "status", "-starts_at"]),
            models.Index(fields=["relationship", "starts_at"]),
        ]
        constraints = [
            models.UniqueConstraint(fields=["organization", "id"], name="session_org_id"),
            models.CheckConstraint(
                condition=Q(duration_minutes__gte=1), name="session_duration_positive"
            ),
            models.CheckConstraint(
                condition=Q(status__in=SessionStatus.values), name="session_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(rating__isnull=True) | Q(rating__range=(1, 5)),
                name="session_rating_1_to_5",
            ),
            models.CheckConstraint(
                condition=Q(provider_pay_rate__gte=0, client_rate__gte=0),
                name="session_rates_not_negative",
            ),
            models.CheckConstraint(
                condition=Q(review_minutes__isnull=True)
                | Q(review_minutes__gte=1, kind="revision"),
                name="session_review_minutes_of_a_revision",
            ),
            # The same meeting cannot be logged twice (cancelled ones do not count).
            models.UniqueConstraint(
                fields=["relationship", "starts_at"],
                condition=~Q(status="cancelled"),
                name="session_unique_start_per_relationship",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.relationship} on {self.starts_at:%Y-%m-%d %H:%M}"

    def get_absolute_url(self) -> str:
        return reverse("sessions_app:detail", args=[self.organization.slug, self.public_id])

    @property
    def dispute_open(self) -> bool:
        """The student disputes it and no admin has resolved it yet (the "Disputed" badge)."""
        return (
            self.status == SessionStatus.COMPLETED
            and self.disputed_at is not None
            and self.dispute_resolved_at is None
        )

    @property
    def hours(self) -> Decimal:
        return Decimal(self.duration_minutes) / 60

    @property
    def provider_earnings(self) -> Decimal:
        return (self.hours * self.relationship.provider_pay_rate).quantize(Decimal("0.01"))

    @property
    def client_amount(self) -> Decimal:
        return (self.hours * self.relationship.client_rate).quantize(Decimal("0.01"))


class SessionChangeKind(models.TextChoices):
    EDITED = "edited", "Edited"
    COMPLETED = "completed", "Logged"
    RESCHEDULED = "rescheduled", "Rescheduled"
    CANCELLED = "cancelled", "Cancelled"
    NO_SHOW = "no_show", "Marked a no-show"
    DISPUTE_RESOLVED = "dispute_resolved", "Dispute resolved"


class SessionChange(models.Model):
    """One change to a session: who made it, when, why, and each field from → to.

    `changes` is a list of {"field": name, "label": shown name, "from": text, "to": text}; the
    values are kept as the text a person read, so a later rule change cannot rewrite them.
    Written by `sessions_app.services` in the transaction of the change itself.
    """

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    session = models.ForeignKey(Session, on_delete=models.PROTECT, related_name="changes")
    kind = models.CharField(max_length=20, choices=SessionChangeKind)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    reason = models.CharField(max_length=500, blank=True)
    changes = models.JSONField(default=list, blank=True)
    # The change gave hours back after the logging grace window (the admins were told).
    gave_back_after_window = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["session", "created_at"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} by {self.actor} at {self.created_at:%Y-%m-%d %H:%M}"
