import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.urls import reverse

from matchpal.models import Organization


class StudentStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    INACTIVE = "inactive", "Inactive"


class Student(models.Model):
    """A student of one organization, with or without a login (`user`)."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organization = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="students"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="student_records",
    )
    name = models.CharField(max_length=150)
    email = models.EmailField(blank=True)
    phone = models.CharField(max_length=40, blank=True)
    guardian_name = models.CharField(max_length=150, blank=True)
    guardian_email = models.EmailField(blank=True)
    status = models.CharField(max_length=10, choices=StudentStatus, default=StudentStatus.ACTIVE)
    notes = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        indexes = [
            models.Index(fields=["organization", "status", "name"]),
            # Students in name order, for the pairings to log (docs/indexes.md).
            models.Index(fields=["organization", "name", "id"], name="student_org_name"),
            # The newest students first (the admin home's "recent students"): read in order.
            models.Index(fields=["organization", "-created_at"], name="student_org_created"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["organization", "id"], name="student_org_id"),
            models.UniqueConstraint(
                "organization",
                Lower("email"),
                condition=~Q(email=""),
                name="student_email_unique_in_org",
            ),
            models.UniqueConstraint(
                fields=["organization", "user"],
                condition=Q(user__isnull=False),
                name="student_one_record_per_user",
            ),
            models.CheckConstraint(
                condition=Q(status__in=StudentStatus.values), name="student_status_valid"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("students:detail", args=[self.organization.slug, self.public_id])

    @property
    def is_active(self) -> bool:
        return self.status == StudentStatus.ACTIVE


class BookingSuspension(models.Model):
    """A student may not book: too many no-shows within the center's window
    (docs/scheduling.md, "No-show rules"). Open until an admin lifts it; who and when are kept."""

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    student = models.ForeignKey(Student, on_delete=models.PROTECT, related_name="suspensions")
    no_shows = models.PositiveSmallIntegerField(help_text="No-shows counted when it began.")
    started_at = models.DateTimeField(auto_now_add=True)
    lifted_at = models.DateTimeField(null=True, blank=True)
    lifted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    lift_reason = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["student"],
                condition=Q(lifted_at__isnull=True),
                name="booking_suspension_one_open",
            ),
        ]

    def __str__(self) -> str:
        return f"Booking suspended for {self.student_id} since {self.started_at:%Y-%m-%d}"


class ChargedTotal(models.Model):
    """What a student's sessions have been charged, per unit of their relationships: the sum of
    `Session.charged_minutes` (minutes for a relationship counting minutes, whole sessions for
    one counting sessions) over every session of the student's relationships of that unit.
    The student home's running total of what was used starts from it: the sessions before the
    twenty it shows used this less what those twenty did (`reports.selectors.student_home`),
    where a sum over every older session grew with the student's history.

    Kept by PostgreSQL in the transaction of every write of a session, and of a change of a
    relationship's unit or student (`students/migrations/0005_charged_total.py`), whatever
    writes it; the application never writes it. `sessions_app.rollups` rebuilds it after a
    bulk load and checks it (`manage.py rebuild_rollups`). A row exists once one of the
    student's sessions of that unit was charged; no row is nothing charged."""

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    # Read and upserted by the unique key's index (student, unit): no other index to keep up.
    student = models.ForeignKey(Student, on_delete=models.CASCADE, related_name="+", db_index=False)
    unit = models.CharField(max_length=10)
    charged = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["student", "unit"], name="charged_total_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.student_id}: {self.charged} {self.unit} charged"
