"""The admin's console: resolving an order error, or settling it by mapping a product or linking a
student and applying the order again, all or nothing."""

import contextlib
import logging
from collections.abc import Iterator
from typing import Any

from django.db import transaction
from django.utils import timezone

from grants import services as ledger
from grants.models import ShopKey
from integrations.woocommerce import client
from integrations.woocommerce.models import Order, OrderError
from integrations.woocommerce.services.fulfilment import apply_order
from integrations.woocommerce.services.payload import is_order, order_id_of
from matchpal.errors import DomainError
from matchpal.models import User
from students.models import Student

log = logging.getLogger(__name__)


class ReprocessFailed(DomainError):
    """Reprocessing an order stopped; nothing it did was kept."""


def error_resolve(*, actor: User, error: OrderError, note: str) -> OrderError:
    if not note.strip():
        raise DomainError("Say how it was settled.")
    updated = OrderError.objects.filter(pk=error.pk, resolved_at__isnull=True).update(
        resolved_at=timezone.now(), resolved_by=actor, resolution_note=note.strip()[:500]
    )
    if not updated:
        raise DomainError("This error is already resolved.")
    error.refresh_from_db()
    return error


@contextlib.contextmanager
def _all_or_nothing(error: OrderError) -> Iterator[None]:
    """Reprocessing keeps nothing unless it all goes through: when applying the order fails,
    the error stays open (and a mapping or link made for it is undone), and the admin is
    told why in words instead of a server error."""
    try:
        with transaction.atomic():
            yield
    except Exception as exc:
        error.refresh_from_db()
        if error.order is not None:
            error.order.refresh_from_db()
        if isinstance(exc, DomainError):
            raise
        if isinstance(exc, client.ShopRefused):
            raise ReprocessFailed(
                f"The order was not reprocessed and nothing changed: {exc}. {exc.advice}."
            ) from exc
        if isinstance(exc, client.ShopAPIError):
            raise ReprocessFailed(
                f"The order was not reprocessed and nothing changed: {exc}. Try again in a "
                "few minutes."
            ) from exc
        log.exception("Reprocessing order error %s failed", error.pk)
        raise ReprocessFailed(
            "Reprocessing stopped on an unexpected error and nothing changed; the details "
            "are in the server log."
        ) from exc


def _reprocess(*, actor: User, error: OrderError, note: str) -> str:
    if error.order is None or not is_order(error.order.payload):
        raise DomainError("There is no order to reprocess for this error.")
    error_resolve(actor=actor, error=error, note=note)
    return apply_order(store=error.store, payload=error.order.payload, force=True)


def reprocess(*, actor: User, error: OrderError, note: str) -> str:
    """Resolve the error and apply its order's latest snapshot again, all or nothing."""
    with _all_or_nothing(error):
        return _reprocess(actor=actor, error=error, note=note)


def error_map_product(*, actor: User, error: OrderError, package: Any) -> str:
    """Map the line's variation (or product) to a package, then reprocess the order."""
    line = error.payload or {}
    variation, product = order_id_of(line.get("variation_id")), order_id_of(line.get("product_id"))
    kind, value = (
        (ShopKey.VARIATION, str(variation))
        if variation
        else (ShopKey.PRODUCT, str(product))
        if product
        else (ShopKey.SKU, str(line.get("sku") or ""))
    )
    if not value:
        raise DomainError("This line has no product id, variation id or SKU to map.")
    with _all_or_nothing(error):
        ledger.package_add_shop_key(actor=actor, package=package, kind=kind, value=value)
        return _reprocess(
            actor=actor,
            error=error,
            note=f"Mapped {ShopKey(kind).label.lower()} {value} to {package.name}",
        )


def error_link_student(*, actor: User, error: OrderError, student: Student) -> str:
    if error.order is None:
        raise DomainError("There is no order to link.")
    if student.organization_id != error.organization_id:
        raise DomainError("That student belongs to another organization.")
    with _all_or_nothing(error):
        Order.objects.filter(pk=error.order.pk).update(student=student)
        error.order.refresh_from_db()
        return _reprocess(actor=actor, error=error, note=f"Linked to {student.name}")
