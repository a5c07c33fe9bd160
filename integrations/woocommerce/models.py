"""A center's WooCommerce stores, every delivery they post, the orders we know of, what each
order line granted, and the order errors an admin settles."""

import secrets
import string
import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse

from matchpal.models import Organization

ALPHANUMERIC = string.ascii_letters + string.digits
DEFAULT_PAID_STATUSES = ["processing", "completed"]


def new_webhook_secret() -> str:
    # Alphanumeric on purpose: WordPress mangles secrets containing &, < or %.
    return "".join(secrets.choice(ALPHANUMERIC) for _ in range(40))


def new_delivery_token() -> str:
    return secrets.token_urlsafe(24)


def default_paid_statuses() -> list[str]:
    return list(DEFAULT_PAID_STATUSES)


class Store(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organization = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="woocommerce_stores"
    )
    name = models.CharField(max_length=150)
    store_url = models.URLField(help_text="The shop's home page, e.g. https://shop.example.org/")
    webhook_secret = models.CharField(max_length=100, default=new_webhook_secret)
    delivery_token = models.CharField(
        max_length=64, unique=True, default=new_delivery_token, editable=False
    )
    consumer_key = models.CharField(max_length=200, blank=True)
    consumer_secret = models.CharField(max_length=200, blank=True)
    paid_statuses = models.JSONField(default=default_paid_statuses)
    create_unknown_customers = models.BooleanField(
        default=True, help_text="An order from an unknown email creates a new student."
    )
    is_active = models.BooleanField(default=True)
    last_synced_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "id"], name="woo_store_org_id"),
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("woocommerce:store_detail", args=[self.organization.slug, self.public_id])

    @property
    def delivery_path(self) -> str:
        return reverse("woocommerce_hooks:webhook", args=[self.delivery_token])

    @property
    def has_api_keys(self) -> bool:
        return bool(self.consumer_key and self.consumer_secret)


class DeliveryStatus(models.TextChoices):
    RECEIVED = "received", "Received"
    PROCESSED = "processed", "Processed"
    IGNORED = "ignored", "Ignored"
    FAILED = "failed", "Failed"
    REJECTED = "rejected", "Rejected (signature)"
    PING = "ping", "Activation ping"


class Delivery(models.Model):
    """One POST to a store's webhook URL, exactly as it arrived."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    store = models.ForeignKey(Store, on_delete=models.PROTECT, related_name="deliveries")
    received_at = models.DateTimeField(auto_now_add=True)
    topic = models.CharField(max_length=100, blank=True)
    delivery_id = models.CharField(max_length=64, blank=True)
    webhook_id = models.CharField(max_length=32, blank=True)
    headers = models.JSONField(default=dict)
    body = models.BinaryField()
    signature_valid = models.BooleanField(default=False)
    status = models.CharField(
        max_length=10, choices=DeliveryStatus, default=DeliveryStatus.RECEIVED
    )
    outcome = models.CharField(max_length=500, blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    # The sweeper leaves a `received` delivery alone until then: a retry is scheduled, or it
    # was just enqueued again (services.deliveries_requeue).
    sweep_after = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        indexes = [
            # docs/indexes.md: the deliveries list's order, with and without a status.
            models.Index(
                fields=["organization", "-received_at", "-id"], name="woo_delivery_org_received"
            ),
            models.Index(fields=["organization", "status", "-received_at"]),
            # The sweeper's query: the few deliveries still waiting, across organizations.
            models.Index(
                fields=["received_at"],
                condition=Q(status="received"),
                name="woo_delivery_waiting",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=DeliveryStatus.values), name="woo_delivery_status_valid"
            ),
        ]
        verbose_name_plural = "deliveries"

    def __str__(self) -> str:
        return f"{self.topic or 'delivery'} {self.received_at:%Y-%m-%d %H:%M:%S}"

    @property
    def body_text(self) -> str:
        return bytes(self.body).decode("utf-8", errors="replace")


class Order(models.Model):
    """The newest snapshot of a shop order that we applied."""

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    store = models.ForeignKey(Store, on_delete=models.PROTECT, related_name="orders")
    order_id = models.BigIntegerField()
    number = models.CharField(max_length=64, blank=True)
    status = models.CharField(max_length=40, blank=True)
    billing_email = models.CharField(max_length=254, blank=True)
    billing_name = models.CharField(max_length=200, blank=True)
    student = models.ForeignKey(
        "students.Student", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    date_modified_gmt = models.DateTimeField(null=True, blank=True)
    payload = models.JSONField(default=dict)
    fulfilled_at = models.DateTimeField(null=True, blank=True)
    refunded_at = models.DateTimeField(null=True, blank=True)
    handled_refund_ids = models.JSONField(default=list)
    deleted_in_shop_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-updated_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["store", "order_id"], name="woo_order_unique"),
            models.UniqueConstraint(fields=["organization", "id"], name="woo_order_org_id"),
        ]

    def __str__(self) -> str:
        return f"Order #{self.number or self.order_id}"

    @property
    def reference(self) -> str:
        return f"Order #{self.number or self.order_id}"


class OrderLineGrant(models.Model):
    """What one order line granted: at most one grant per (store, order, line item)."""

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    store = models.ForeignKey(Store, on_delete=models.PROTECT, related_name="+")
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="line_grants")
    order_id_in_shop = models.BigIntegerField()
    line_item_id = models.BigIntegerField()
    package = models.ForeignKey("grants.Package", on_delete=models.PROTECT, related_name="+")
    quantity = models.PositiveIntegerField(help_text="Packages bought on this line.")
    grant = models.OneToOneField("grants.Grant", on_delete=models.PROTECT, related_name="+")
    refunded_quantity = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["store", "order_id_in_shop", "line_item_id"], name="woo_one_grant_per_line"
            ),
            models.CheckConstraint(
                condition=Q(refunded_quantity__lte=models.F("quantity")),
                name="woo_refunded_within_quantity",
            ),
        ]

    def __str__(self) -> str:
        return f"Line {self.line_item_id} of order {self.order_id_in_shop}"


class ErrorKind(models.TextChoices):
    UNKNOWN_PRODUCT = "unknown_product", "Unknown product"
    CUSTOMER_NOT_FOUND = "customer_not_found", "Customer not found"
    INVALID_DATA = "invalid_data", "Invalid data"
    REFUND_CONFLICT = "refund_conflict", "Refund conflict"
    PARTIAL_REFUND = "partial_refund", "Partial refund to settle"
    ORDER_DELETED = "order_deleted", "Order deleted in the shop"
    PROCESSING_FAILED = "processing_failed", "Processing failed"


class OrderError(models.Model):
    """Something about an order that an admin must settle."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    store = models.ForeignKey(Store, on_delete=models.PROTECT, related_name="errors")
    order = models.ForeignKey(
        Order, on_delete=models.PROTECT, null=True, blank=True, related_name="errors"
    )
    delivery = models.ForeignKey(
        Delivery, on_delete=models.PROTECT, null=True, blank=True, related_name="errors"
    )
    kind = models.CharField(max_length=20, choices=ErrorKind)
    # What the error is about (a line item id, a refund id…): one open error per subject.
    subject = models.CharField(max_length=100, blank=True)
    message = models.CharField(max_length=500)
    payload = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    resolution_note = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["organization", "resolved_at", "kind"]),
            # docs/indexes.md: the order errors list's order, and its default, the open ones.
            models.Index(
                fields=["organization", "-created_at", "-id"], name="woo_error_org_created"
            ),
            models.Index(
                fields=["organization", "-created_at", "-id"],
                condition=Q(resolved_at__isnull=True),
                name="woo_error_open",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=ErrorKind.values), name="woo_error_kind_valid"
            ),
            models.UniqueConstraint(
                fields=["store", "order", "kind", "subject"],
                condition=Q(resolved_at__isnull=True),
                name="woo_one_open_error_per_subject",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.message}"
