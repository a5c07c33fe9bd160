"""Who exported or erased a student's personal data, and when (docs/privacy.md)."""

from django.conf import settings
from django.db import models
from django.db.models import Q

from matchpal.models import Organization
from students.models import Student


class PersonalDataAction(models.TextChoices):
    EXPORT = "export", "Exported"
    ERASE = "erase", "Erased"


class PersonalDataEvent(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    student = models.ForeignKey(Student, on_delete=models.PROTECT, related_name="+")
    action = models.CharField(max_length=6, choices=PersonalDataAction)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    # The actor's address as it was: kept if their login is itself erased later.
    actor_email = models.CharField(max_length=254)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(
                fields=["organization", "student", "-created_at"], name="privacy_event_student"
            )
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(action__in=PersonalDataAction.values), name="privacy_action_valid"
            ),
            # Erased once: a second erasure would record a second "who and when" for nothing.
            models.UniqueConstraint(
                fields=["student"],
                condition=Q(action="erase"),
                name="privacy_one_erasure_per_student",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_action_display()} by {self.actor_email}"
