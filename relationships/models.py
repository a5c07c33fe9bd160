import uuid

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

    The ledger issue needs only its identity; the lifecycle (proposal, acceptance, history,
    rates) comes with the relationships issue.
    """

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.PROTECT,
                                     related_name="relationships")
    student = models.ForeignKey(Student, on_delete=models.PROTECT, related_name="relationships")
    provider = models.ForeignKey(Provider, on_delete=models.PROTECT,
                                 related_name="relationships")
    service_type = models.ForeignKey(ServiceType, on_delete=models.PROTECT,
                                     related_name="relationships")
    # A relationship holds grants of one unit: minutes, or whole sessions.
    unit = models.CharField(max_length=10, choices=Unit, default=Unit.MINUTES)
    status = models.CharField(max_length=12, choices=RelationshipStatus,
                              default=RelationshipStatus.PROPOSED)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "id"], name="relationship_org_id"),
            models.CheckConstraint(condition=Q(status__in=RelationshipStatus.values),
                                   name="relationship_status_valid"),
            models.CheckConstraint(condition=Q(unit__in=Unit.values),
                                   name="relationship_unit_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.student} with {self.provider} ({self.service_type})"

    @property
    def holds_hours(self) -> bool:
        return self.status in HOLDING_STATUSES

    def get_absolute_url(self) -> str:
        return reverse("students:detail", args=[self.organization.slug, self.student.public_id])
