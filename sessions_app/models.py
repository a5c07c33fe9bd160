import uuid

from django.db import models
from django.db.models import Q

from matchpal.models import Organization
from relationships.models import Relationship


class SessionStatus(models.TextChoices):
    SCHEDULED = "scheduled", "Scheduled"
    COMPLETED = "completed", "Completed"
    CANCELLED = "cancelled", "Cancelled"
    NO_SHOW = "no_show", "No-show"


class Session(models.Model):
    """A meeting of a relationship. The ledger consumes hours for it; the full lifecycle comes
    with the sessions issue."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.PROTECT,
                                     related_name="sessions")
    relationship = models.ForeignKey(Relationship, on_delete=models.PROTECT,
                                     related_name="sessions")
    starts_at = models.DateTimeField()
    duration_minutes = models.PositiveIntegerField()
    status = models.CharField(max_length=10, choices=SessionStatus,
                              default=SessionStatus.COMPLETED)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-starts_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "id"], name="session_org_id"),
            models.CheckConstraint(condition=Q(duration_minutes__gte=1),
                                   name="session_duration_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.relationship} on {self.starts_at:%Y-%m-%d %H:%M}"
