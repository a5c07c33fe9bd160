"""Order errors: what a person must decide, opened once per open subject, and closed again when a
later snapshot settles them."""

from typing import Any

from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from integrations.woocommerce import bodies
from integrations.woocommerce.models import Delivery, ErrorKind, Order, OrderError, Store
from notifications.services import Audience, Message, admins, notify


class OrderSkipped(Exception):
    """The snapshot changes nothing (stale or a duplicate); the reason is its message."""


def record_error(
    *,
    store: Store,
    kind: str,
    message: str,
    order: Order | None = None,
    subject: str = "",
    payload: Any = None,
    delivery: Delivery | None = None,
) -> OrderError | None:
    """Open an error for an admin (once per open subject) and tell the admins about it."""
    # Exception texts and payload values end up here: keep them storable (bodies.py).
    message, subject = bodies.clean_text(message), bodies.clean_text(str(subject))
    if (
        order is None
        and OrderError.objects.filter(
            store=store,
            order__isnull=True,
            kind=kind,
            subject=str(subject)[:100],
            resolved_at__isnull=True,
        ).exists()
    ):
        # The unique constraint treats NULL orders as distinct, so it cannot stop a repeated
        # delivery about no known order from opening (and emailing) the same problem again.
        return None
    try:
        with transaction.atomic():
            error = OrderError.objects.create(
                organization_id=store.organization_id,
                store=store,
                order=order,
                kind=kind,
                subject=str(subject)[:100],
                message=message[:500],
                payload=payload if payload is not None else {},
                delivery=delivery,
            )
    except IntegrityError:
        return None  # the same problem is already open
    text = f"{store.name}: {error.get_kind_display()} — {message}"[:500]
    organization = store.organization
    notify(
        organization=organization,
        kind="order_error",
        about=f"order_error:{error.public_id}",
        audiences=[
            Audience(
                admins(organization),
                Message(
                    subject=f"Shop order needs attention: {error.get_kind_display()}",
                    text=text,
                    link=reverse(
                        "woocommerce:error_detail", args=[organization.slug, error.public_id]
                    ),
                    facts=[("Store", store.name), ("Order", subject or "—")],
                    action="Resolve it",
                ),
            )
        ],
    )
    return error


def settle_failures(store: Store, order_id: int, *, note: str) -> None:
    """A snapshot carries the order's whole state, so once a newer one is applied, what an
    earlier one failed to apply is done: close those errors instead of leaving them to an
    admin. (Failures of `order.deleted` have their own subject and stay open.)"""
    OrderError.objects.filter(
        store=store,
        kind=ErrorKind.PROCESSING_FAILED,
        subject=f"order:{order_id}",
        resolved_at__isnull=True,
    ).update(resolved_at=timezone.now(), resolution_note=note)


def unexpected_reason(exc: Exception) -> str:
    return f"an unexpected error ({type(exc).__name__}: {exc}); the details are in the log"
