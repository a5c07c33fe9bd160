"""Applying an order's snapshot: the customer, each mapped line granted once, refunds taken back."""

from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from grants import selectors as ledger_reads
from grants import services as ledger
from grants.models import GrantSource, Package
from integrations.woocommerce.models import ErrorKind, Order, OrderLineGrant, Store
from integrations.woocommerce.services.errors import OrderSkipped, record_error
from integrations.woocommerce.services.payload import line_total, order_id_of, parse_gmt, shop_keys
from integrations.woocommerce.services.refunds import (
    RefundDetails,
    full_refund,
    partial_refunds,
    refund_details,
)
from matchpal.quantities import format_quantity
from students import selectors as students
from students.models import Student
from students.services import DuplicateStudentEmail, student_create

FULL_REFUND_STATUSES = {"refunded"}
REVERSED_AFTER_PAYMENT = {"cancelled", "failed"}


def _customer(store: Store, order: Order, payload: dict[str, Any]) -> Student | None:
    """The order's student: linked already, found by the billing email, or created when the
    store allows it. None, with an error for an admin, otherwise."""
    if order.student_id is not None:
        return order.student
    billing = payload.get("billing") or {}
    email = (billing.get("email") or "").strip()
    if not email:
        record_error(
            store=store,
            order=order,
            kind=ErrorKind.CUSTOMER_NOT_FOUND,
            subject="no-email",
            payload=payload,
            message=f"{order.reference} has no billing email; link it to a student.",
        )
        return None
    student = students.student_with_email(organization_id=store.organization_id, email=email)
    if student is not None:
        return student
    if not store.create_unknown_customers:
        record_error(
            store=store,
            order=order,
            kind=ErrorKind.CUSTOMER_NOT_FOUND,
            subject=email.lower(),
            payload=payload,
            message=f"No student has the email {email} ({order.reference}); link the "
            "order to a student.",
        )
        return None
    return _new_customer(store, billing, email)


def _new_customer(store: Store, billing: dict[str, Any], email: str) -> Student:
    """A student made from the order's billing details."""
    name = (
        " ".join(
            filter(
                None,
                [
                    (billing.get("first_name") or "").strip(),
                    (billing.get("last_name") or "").strip(),
                ],
            )
        )
        or email
    )
    try:
        return student_create(
            actor=None,
            organization=store.organization,
            name=name,
            email=email,
            phone=(billing.get("phone") or "")[:40],
        )
    except DuplicateStudentEmail:
        # Another order of the same new customer, in another worker, created the student
        # after our lookup (the order lock does not cover two orders): use that student.
        student = students.student_with_email(organization_id=store.organization_id, email=email)
        if student is None:
            raise  # cannot happen: the duplicate is committed, so this lookup sees it
        return student


def _fulfil(store: Store, order: Order, payload: dict[str, Any]) -> list[str]:
    """Grant each line of a paid order that is mapped and not granted yet."""
    student = _customer(store, order, payload)
    if student is None:
        return ["waiting for a customer"]
    order.student = student
    done = {lg.line_item_id for lg in order.line_grants.all()}
    paid_at = parse_gmt(payload.get("date_paid_gmt")) or timezone.now()
    notes = []
    for line in payload.get("line_items") or []:
        valid = _line_id_and_quantity(store, order, line)
        if valid is None or valid[0] in done:
            continue
        line_id, quantity = valid
        package = _offered_package(store, order, line, line_id)
        if package is None:
            continue
        note = _grant_line(store, order, student, package, (line_id, quantity, line), paid_at)
        if note:
            notes.append(note)
    if order.fulfilled_at is None and order.line_grants.exists():
        order.fulfilled_at = timezone.now()
    return notes


def _line_id_and_quantity(
    store: Store, order: Order, line: dict[str, Any]
) -> tuple[int, int] | None:
    """The line's id and quantity; None, with an error for an admin, when either is invalid."""
    line_id = order_id_of(line.get("id"))
    quantity = line.get("quantity")
    if line_id is None or not isinstance(quantity, int) or quantity < 1:
        record_error(
            store=store,
            order=order,
            kind=ErrorKind.INVALID_DATA,
            subject=f"line:{line.get('id')}",
            payload=line,
            message=f"{order.reference} has a line without a valid id or quantity.",
        )
        return None
    return line_id, quantity


def _offered_package(
    store: Store, order: Order, line: dict[str, Any], line_id: int
) -> Package | None:
    """The package the line is mapped to; None, with an error for an admin, when it is not
    mapped or the package is no longer offered (grants.services maps no new order to it)."""
    package = ledger_reads.package_for_shop_keys(
        organization_id=store.organization_id, keys=shop_keys(line)
    )
    if package is not None and package.is_active:
        return package
    problem = (
        "is not mapped to a package."
        if package is None
        else f"is mapped to “{package.name}”, which is no longer offered: reactivate "
        "it or map the line to another package."
    )
    record_error(
        store=store,
        order=order,
        kind=ErrorKind.UNKNOWN_PRODUCT,
        subject=f"line:{line_id}",
        payload=line,
        message=f"“{line.get('name', '?')}” (product {line.get('product_id')}, "
        f"variation {line.get('variation_id')}, SKU "
        f"{line.get('sku') or '—'}) in {order.reference} {problem}",
    )
    return None


def _grant_line(
    store: Store,
    order: Order,
    student: Student,
    package: Package,
    line_item: tuple[int, int, dict[str, Any]],
    paid_at: datetime,
) -> str | None:
    """Grant `quantity` packages for the line, once (the ledger's idempotency key), priced at
    the line's own total (the package's price × quantity when the line has none)."""
    line_id, quantity, line = line_item
    try:
        grant = ledger.grant_from_package(
            actor=None,
            student=student,
            package=package,
            count=quantity,
            valid_from=min(paid_at, timezone.now()),
            source=GrantSource.WOOCOMMERCE,
            reference=order.reference,
            reason=f"{quantity} × {package.name}",
            idempotency_key=f"woo:{store.pk}:{order.order_id}:{line_id}",
            price=line_total(line),
        )
    except ledger.AlreadyApplied:
        return None
    OrderLineGrant.objects.create(
        organization_id=store.organization_id,
        store=store,
        order=order,
        order_id_in_shop=order.order_id,
        line_item_id=line_id,
        package=package,
        quantity=quantity,
        grant=grant,
    )
    return f"granted {format_quantity(grant.total, grant.unit)} for line {line_id}"


def _lock_order(store: Store, order_id: int) -> Order:
    try:
        with transaction.atomic():
            Order.objects.get_or_create(
                store=store, order_id=order_id, defaults={"organization_id": store.organization_id}
            )
    except IntegrityError:
        pass  # another worker created it first
    return (
        Order.objects.select_for_update(of=("self",))
        .select_related("student")
        .get(store=store, order_id=order_id)
    )


def apply_order(*, store: Store, payload: dict[str, Any], force: bool = False) -> str:
    """Apply one snapshot of an order; returns what happened, for the delivery log."""
    details = refund_details(store, payload)
    with transaction.atomic():
        order = _lock_order(store, payload["id"])
        modified = parse_gmt(payload.get("date_modified_gmt"))
        if not force:
            _skip_unless_newer(order, payload, modified)
        _take_snapshot(order, payload, modified)
        notes = _act_on_status(store, order, payload, details)
        order.save()
        return "; ".join(notes) or "nothing new"


def _skip_unless_newer(order: Order, payload: dict[str, Any], modified: datetime | None) -> None:
    """Raise OrderSkipped for a snapshot older than the one applied, or the same one again."""
    if not (order.date_modified_gmt and modified):
        return
    if modified < order.date_modified_gmt:
        raise OrderSkipped("An older snapshot than the one applied; ignored.")
    # One-second resolution: on a tie, compare the content.
    if modified == order.date_modified_gmt and payload == order.payload:
        raise OrderSkipped("The same snapshot again; nothing to do.")


def _take_snapshot(order: Order, payload: dict[str, Any], modified: datetime | None) -> None:
    """Copy what the order's pages show from the snapshot onto the order."""
    billing = payload.get("billing") or {}
    order.number = str(payload.get("number") or payload["id"])[:64]
    order.status = str(payload.get("status") or "")[:40]
    order.billing_email = (billing.get("email") or "")[:254]
    order.billing_name = " ".join(
        filter(None, [billing.get("first_name"), billing.get("last_name")])
    )[:200]
    order.date_modified_gmt = modified or order.date_modified_gmt
    order.payload = payload


def _act_on_status(
    store: Store, order: Order, payload: dict[str, Any], details: RefundDetails
) -> list[str]:
    """Refunded or reversed: take the hours back. Paid: grant, then settle new refunds."""
    status = order.status
    if status in FULL_REFUND_STATUSES or (status in REVERSED_AFTER_PAYMENT and order.fulfilled_at):
        return full_refund(store, order, status)
    if status in store.paid_statuses:
        notes = _fulfil(store, order, payload)
        if order.student_id is not None:
            # Without a customer nothing was granted, so a refund has nothing to take
            # back yet: it is settled when the order is reprocessed after linking.
            notes += partial_refunds(store, order, payload, details)
        return notes
    return [f"status {status or 'unknown'}: nothing to grant"]
