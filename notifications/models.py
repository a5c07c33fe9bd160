"""The send keys (exactly once), the email delivery log, and who wants which email."""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q

from matchpal.models import Organization


class Dispatch(models.Model):
    """One event or reminder told: (kind, object, occasion) is unique, and the row is inserted
    before anything is sent, in the transaction of the change it tells. A job run twice, two
    beat processes or a retried task meet the row and send nothing more."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE)
    kind = models.CharField(max_length=40)
    # "session:<public id>", "grant:<public id>", …: what the notice is about.
    object_key = models.CharField(max_length=80)
    # What makes this sending distinct among the object's ("24h@2026-12-04T15:00", "14d", "").
    occasion = models.CharField(max_length=80, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "kind", "object_key", "occasion"], name="dispatch_once"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.object_key} {self.occasion}".strip()


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Queued"
    SENDING = "sending", "Sending"
    RETRYING = "retrying", "Retrying"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"
    SKIPPED = "skipped", "Not sent"


class EmailDelivery(models.Model):
    """One email to one address: the delivery log admins browse. Rendered when the event
    happens (subject, text and HTML kept here), sent by a Celery task that retries with backoff."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE)
    dispatch = models.ForeignKey(Dispatch, on_delete=models.CASCADE, related_name="emails")
    kind = models.CharField(max_length=40)
    to = models.EmailField(max_length=254)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    subject = models.CharField(max_length=200)
    text = models.TextField()
    html = models.TextField()
    # [{"filename": …, "content": …, "mimetype": …}], e.g. a calendar invitation.
    attachments = models.JSONField(default=list, blank=True)
    status = models.CharField(max_length=10, choices=DeliveryStatus, default=DeliveryStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name_plural = "email deliveries"
        constraints = [
            models.CheckConstraint(
                condition=Q(status="sent", sent_at__isnull=False)
                | (~Q(status="sent") & Q(sent_at__isnull=True)),
                name="email_delivery_sent_at",
            ),
            models.UniqueConstraint(fields=["dispatch", "to"], name="email_delivery_once"),
        ]
        indexes = [
            # The log: an organization's emails newest first, whole or by status or kind.
            models.Index(fields=["organization", "-id"], name="email_delivery_org_id"),
            models.Index(fields=["organization", "status", "-id"], name="email_delivery_status"),
            models.Index(fields=["organization", "kind", "-id"], name="email_delivery_kind"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} to {self.to}"


class EmailPreference(models.Model):
    """A member's choice for one kind of email (the inbox always gets the notice)."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    kind = models.CharField(max_length=40)
    email = models.BooleanField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "user", "kind"], name="email_preference_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind}: {'on' if self.email else 'off'}"


class CenterEmailDefault(models.Model):
    """The center's default for one kind of email, for everyone who has not chosen (and for
    those without a login, who cannot)."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE)
    kind = models.CharField(max_length=40)
    email = models.BooleanField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "kind"], name="center_email_default"),
        ]

    def __str__(self) -> str:
        return f"{self.kind}: {'on' if self.email else 'off'}"
