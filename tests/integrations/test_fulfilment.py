"""Order → grant: once per line whatever arrives twice, late, out of order or at the same time;
lines mapped by variation, product or SKU; customers found or created. The catch-up through
the REST API is in test_sync.py."""

import threading
from datetime import UTC, datetime
from typing import Any

import pytest

from grants.models import EntryKind, Grant, GrantEntry, GrantSource, Package, ShopKey
from grants.reconcile import find_differences
from grants.services import package_set_active
from integrations.woocommerce import services
from integrations.woocommerce.models import (
    Delivery,
    ErrorKind,
    Order,
    OrderError,
    OrderLineGrant,
    Store,
)
from integrations.woocommerce.services import fulfilment
from matchpal.models import Notification
from students.models import Student
from tests.integrations import woo
from tests.integrations.conftest import (
    Shop,
    grants_of,
    make_package,
)
from tests.support import Tenant
from tests.threads import run_together

# The notices these tests are about (others, of other kinds, are tests/notifications').
TOLD = Notification.objects.filter(kind="order_error")

SAME_AGAIN = "The same snapshot again; nothing to do."
OLDER = "An older snapshot than the one applied; ignored."


def granted(order_id: int = 727) -> list[tuple[str, int, str]]:
    """(student email, total, unit) of each grant made for the order."""
    return [(g.student.email, g.total, g.unit) for g in grants_of(order_id)]


# --- Once, whatever arrives ------------------------------------------------------------------


@pytest.mark.django_db
def test_created_pending_then_updated_completed_grants_once(shop: Shop, tenant_a: Tenant) -> None:
    email = tenant_a.student.email
    assert (
        shop.post(
            woo.order(status="pending", email=email, modified="2026-03-10T14:20:00"),
            topic="order.created",
        ).status_code
        == 200
    )
    assert not Grant.objects.exists()

    assert (
        shop.post(
            woo.order(status="completed", email=email, modified="2026-03-10T14:22:00"),
            topic="order.updated",
        ).status_code
        == 200
    )

    [grant] = grants_of()
    assert (grant.student, grant.total, grant.unit, grant.source, grant.package.name) == (
        tenant_a.student,
        600,
        "minutes",
        GrantSource.WOOCOMMERCE,
        "Ten hours",
    )
    assert grant.valid_from == datetime(2026, 3, 10, 14, 21, tzinfo=UTC)  # the payment date
    assert list(GrantEntry.objects.values_list("kind", "total_delta", "idempotency_key")) == [
        (EntryKind.CREDIT, 600, f"woo:{shop.store.pk}:727:315")
    ]
    assert shop.statuses() == [
        ("processed", "status pending: nothing to grant"),
        ("processed", "granted 10 h for line 315"),
    ]
    order = Order.objects.get()
    assert (order.status, order.student, order.number) == ("completed", tenant_a.student, "727")
    assert order.fulfilled_at is not None
    assert OrderLineGrant.objects.get().grant == grant
    assert find_differences() == []


@pytest.mark.django_db
def test_the_same_delivery_twice_grants_once(shop: Shop) -> None:
    body = woo.php_json(woo.order(status="completed"))

    assert shop.post(body=body).status_code == 200
    assert shop.post(body=body).status_code == 200

    assert granted() == [("maya@example.net", 600, "minutes")]
    assert shop.statuses() == [("processed", "granted 10 h for line 315"), ("ignored", SAME_AGAIN)]
    assert find_differences() == []


@pytest.mark.django_db
def test_created_and_updated_carrying_one_snapshot_grant_once(shop: Shop) -> None:
    payload = woo.order(status="processing")

    shop.post(payload, topic="order.created")
    shop.post(payload, topic="order.updated")

    assert granted() == [("maya@example.net", 600, "minutes")]
    assert [s for s, _ in shop.statuses()] == ["processed", "ignored"]
    assert find_differences() == []


@pytest.mark.django_db
def test_completed_before_pending_grants_once_and_ignores_the_stale_snapshot(shop: Shop) -> None:
    shop.post(woo.order(status="completed", modified="2026-03-10T14:22:00"))
    shop.post(woo.order(status="pending", modified="2026-03-10T14:20:00"), topic="order.created")

    assert granted() == [("maya@example.net", 600, "minutes")]
    assert shop.statuses() == [("processed", "granted 10 h for line 315"), ("ignored", OLDER)]
    order = Order.objects.get()
    assert (order.status, order.date_modified_gmt) == (
        "completed",
        datetime(2026, 3, 10, 14, 22, tzinfo=UTC),
    )
    assert find_differences() == []


@pytest.mark.django_db
def test_a_stale_cancelled_snapshot_takes_nothing_back(shop: Shop) -> None:
    shop.post(woo.order(status="completed", modified="2026-03-10T14:22:00"))
    shop.post(woo.order(status="cancelled", modified="2026-03-10T14:00:00"))

    assert [g.total for g in grants_of()] == [600]
    assert shop.statuses()[-1] == ("ignored", OLDER)
    assert find_differences() == []


@pytest.mark.django_db
def test_same_second_tie_applies_different_content_and_ignores_identical(shop: Shop) -> None:
    second = "2026-03-10T14:21:05"
    shop.post(woo.order(status="processing", modified=second))
    shop.post(woo.order(status="completed", modified=second))
    shop.post(woo.order(status="completed", modified=second))

    assert shop.statuses() == [
        ("processed", "granted 10 h for line 315"),
        ("processed", "nothing new"),
        ("ignored", SAME_AGAIN),
    ]
    assert Order.objects.get().status == "completed"
    assert [g.total for g in grants_of()] == [600]
    assert find_differences() == []


@pytest.mark.django_db
@pytest.mark.parametrize(
    "status",
    ["checkout-draft", "pending", "on-hold", "failed", "cancelled", "trash", "my-custom-status"],
)
def test_unpaid_statuses_never_grant(shop: Shop, status: str) -> None:
    response = shop.post(woo.order(status=status), topic="order.created")

    assert response.status_code == 200
    assert shop.statuses() == [("processed", f"status {status}: nothing to grant")]
    assert not Grant.objects.exists()
    assert not OrderError.objects.exists()


@pytest.mark.django_db
def test_checkout_draft_then_pending_never_grant(shop: Shop) -> None:
    shop.post(woo.order(status="checkout-draft", modified="2026-03-10T14:19:00"))
    shop.post(woo.order(status="pending", modified="2026-03-10T14:20:00"))

    assert not Grant.objects.exists()
    assert Order.objects.get().status == "pending"


@pytest.mark.django_db
def test_on_hold_grants_when_the_store_counts_it_as_paid(shop: Shop) -> None:
    Store.objects.filter(pk=shop.store.pk).update(
        paid_statuses=["on-hold", "processing", "completed"]
    )

    shop.post(woo.order(status="on-hold"))

    assert [g.total for g in grants_of()] == [600]
    assert find_differences() == []


# --- Two workers, two copies, one grant (PostgreSQL, real threads) --------------------------


def stored_delivery(store: Store, payload: Any, topic: str = "order.updated") -> Delivery:
    """A verified delivery, as the endpoint stores it before the task runs."""
    body = woo.php_json(payload)
    return Delivery.objects.create(
        organization_id=store.organization_id,
        store=store,
        topic=topic,
        body=body,
        signature_valid=True,
        headers={"X-WC-Webhook-Topic": topic},
    )


@pytest.mark.concurrency
@pytest.mark.django_db(transaction=True)
def test_two_workers_processing_two_copies_at_once_grant_once(shop: Shop) -> None:
    payload = woo.order(
        status="completed", email="new.customer@example.net", first_name="Nia", last_name="Cole"
    )
    copies = [stored_delivery(shop.store, payload) for _ in range(2)]

    outcomes = run_together(*[lambda d=d: services.process_delivery(d.pk) for d in copies])

    assert outcomes == [("ok", None), ("ok", None)]
    assert granted() == [("new.customer@example.net", 600, "minutes")]
    assert sorted(Delivery.objects.values_list("status", "outcome")) == [
        ("ignored", SAME_AGAIN),
        ("processed", "granted 10 h for line 315"),
    ]
    assert Student.objects.filter(email="new.customer@example.net").count() == 1
    assert OrderLineGrant.objects.count() == 1
    assert not OrderError.objects.exists()
    assert find_differences() == []


@pytest.mark.concurrency
@pytest.mark.django_db(transaction=True)
def test_two_orders_of_one_new_customer_at_once_grant_both(shop: Shop, monkeypatch) -> None:
    # Both workers look the email up, find nobody, then both create the student: the second
    # insert waits for the first transaction and then collides with its row.
    both_looked_up = threading.Barrier(2)
    real_create = fulfilment.student_create

    def create_after_both_looked(**kwargs: Any) -> Student:
        both_looked_up.wait(timeout=10)
        return real_create(**kwargs)

    monkeypatch.setattr(fulfilment, "student_create", create_after_both_looked)
    deliveries = [
        stored_delivery(
            shop.store,
            woo.order(
                order_id=order_id,
                status="completed",
                email="Twice.Buyer@example.net",
                lines=[woo.line(item_id=item_id)],
            ),
        )
        for order_id, item_id in ((727, 315), (728, 316))
    ]

    outcomes = run_together(*[lambda d=d: services.process_delivery(d.pk) for d in deliveries])

    assert outcomes == [("ok", None), ("ok", None)]
    assert list(Delivery.objects.order_by("pk").values_list("status", "outcome")) == [
        ("processed", "granted 10 h for line 315"),
        ("processed", "granted 10 h for line 316"),
    ]
    [student] = Student.objects.filter(email__iexact="twice.buyer@example.net")
    assert [g.student for g in grants_of(727) + grants_of(728)] == [student, student]
    assert not OrderError.objects.exists()
    assert find_differences() == []


# --- Lines and packages ----------------------------------------------------------------------


@pytest.mark.django_db
def test_multi_line_order_with_quantity_variation_and_sku_mappings(
    shop: Shop, tenant_a: Tenant, ten_hours: Package
) -> None:
    evening = make_package(
        tenant_a, name="Five evening hours", quantity=300, keys=[(ShopKey.VARIATION, "2021")]
    )
    advising = make_package(
        tenant_a,
        name="Four advising sessions",
        quantity=4,
        unit="sessions",
        keys=[(ShopKey.SKU, "ADV-4")],
    )
    lines = [
        woo.line(item_id=315, product_id=101, quantity=2, total="900.00"),
        # A variation of product 101: its own mapping wins over the product's.
        woo.line(
            item_id=316,
            product_id=101,
            variation_id=2021,
            sku="TUT-EVE",
            name="Tutoring – evenings",
        ),
        # A variation nobody mapped: the parent product's mapping applies.
        woo.line(item_id=317, product_id=101, variation_id=2022, sku="TUT-WKD"),
        woo.line(item_id=318, product_id=555, sku="ADV-4", name="Advising × 4"),
    ]

    shop.post(woo.order(status="processing", lines=lines, email=tenant_a.student.email))

    assert shop.statuses() == [
        (
            "processed",
            "granted 20 h for line 315; granted 5 h for line "
            "316; granted 10 h for line 317; granted 4 sessions "
            "for line 318",
        )
    ]
    rows = OrderLineGrant.objects.order_by("line_item_id").values_list(
        "line_item_id", "package", "quantity", "grant__total", "grant__unit", "grant__reference"
    )
    assert list(rows) == [
        (315, ten_hours.pk, 2, 1200, "minutes", "Order #727"),
        (316, evening.pk, 1, 300, "minutes", "Order #727"),
        (317, ten_hours.pk, 1, 600, "minutes", "Order #727"),
        (318, advising.pk, 1, 4, "sessions", "Order #727"),
    ]
    assert OrderLineGrant.objects.get(line_item_id=315).grant.entries.get().reason == (
        "2 × Ten hours"
    )
    assert find_differences() == []


@pytest.mark.django_db
def test_unknown_product_opens_an_error_grants_nothing_and_tells_the_admins(
    shop: Shop, tenant_a: Tenant, mailoutbox
) -> None:
    lines = [woo.line(item_id=315, product_id=999, sku=None, name="Gift card")]

    response = shop.post(woo.order(status="completed", lines=lines))

    assert response.status_code == 200
    assert not Grant.objects.exists()
    error = OrderError.objects.get()
    message = (
        "“Gift card” (product 999, variation 0, SKU —) in Order #727 is not mapped to a package."
    )
    assert (error.kind, error.subject, error.message, error.order) == (
        ErrorKind.UNKNOWN_PRODUCT,
        "line:315",
        message,
        Order.objects.get(),
    )
    assert error.payload == lines[0]
    assert list(TOLD.values_list("user", "text", "link")) == [
        (
            tenant_a.admin.pk,
            f"Alpha shop: Unknown product — {message}",
            f"/o/alpha/shop/errors/{error.public_id}/",
        )
    ]
    [email] = mailoutbox
    assert email.to == [tenant_a.admin.email]
    assert email.subject == "[Matchpal] Shop order needs attention: Unknown product"
    assert f"Alpha shop: Unknown product — {message}" in email.body

    # A newer snapshot of the same order: the error stays one, nobody is told twice.
    shop.post(woo.order(status="completed", lines=lines, modified="2026-03-10T15:00:00"))
    assert OrderError.objects.count() == 1
    assert TOLD.count() == 1
    assert len(mailoutbox) == 1


@pytest.mark.django_db
def test_a_mapped_line_is_granted_beside_an_unknown_one(shop: Shop) -> None:
    lines = [woo.line(item_id=315), woo.line(item_id=316, product_id=999, sku="MUG")]

    shop.post(woo.order(status="completed", lines=lines))

    assert [g.total for g in grants_of()] == [600]
    assert list(OrderError.objects.values_list("kind", "subject")) == [
        (ErrorKind.UNKNOWN_PRODUCT, "line:316")
    ]
    assert find_differences() == []


@pytest.mark.django_db
def test_a_package_no_longer_offered_is_not_granted(
    shop: Shop, tenant_a: Tenant, ten_hours: Package
) -> None:
    package_set_active(actor=tenant_a.admin, package=ten_hours, active=False)

    shop.post(woo.order(status="completed"))

    assert not Grant.objects.exists()
    error = OrderError.objects.get()
    assert (error.kind, error.message) == (
        ErrorKind.UNKNOWN_PRODUCT,
        "“Tutoring – 10 hours” (product 101, variation 0, SKU TUT-10) in Order #727 is mapped "
        "to “Ten hours”, which is no longer offered: reactivate it or map the line to another "
        "package.",
    )


@pytest.mark.django_db
def test_a_line_without_a_valid_quantity_is_an_invalid_data_error(shop: Shop) -> None:
    line = {**woo.line(), "quantity": 0}  # e.g. a line emptied by a plugin

    shop.post(woo.order(status="completed", lines=[line]))

    assert not Grant.objects.exists()
    assert list(OrderError.objects.values_list("kind", "message")) == [
        (ErrorKind.INVALID_DATA, "Order #727 has a line without a valid id or quantity.")
    ]


# --- Customers -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_new_customer_becomes_a_student(shop: Shop, tenant_a: Tenant) -> None:
    before = Student.objects.filter(organization=tenant_a.organization).count()

    shop.post(woo.order(status="completed", email="maya@example.net"))

    student = Student.objects.get(email="maya@example.net")
    assert (student.organization, student.name, student.phone) == (
        tenant_a.organization,
        "Maya Patel",
        "+1 555 0100",
    )
    assert Student.objects.filter(organization=tenant_a.organization).count() == before + 1
    assert granted() == [("maya@example.net", 600, "minutes")]
    assert Order.objects.get().student == student
    assert find_differences() == []


@pytest.mark.django_db
def test_an_existing_customer_is_matched_case_insensitively(shop: Shop, tenant_a: Tenant) -> None:
    before = Student.objects.count()

    shop.post(woo.order(status="completed", email=f"  {tenant_a.student.email.upper()} "))

    assert Student.objects.count() == before
    assert [g.student for g in grants_of()] == [tenant_a.student]
    assert find_differences() == []


@pytest.mark.django_db
def test_a_student_of_another_organization_is_never_matched(shop: Shop, tenant_b: Tenant) -> None:
    shop.post(woo.order(status="completed", email=tenant_b.student.email))

    [grant] = grants_of()
    assert grant.student != tenant_b.student
    assert grant.student.organization_id == shop.store.organization_id
    assert find_differences() == []


@pytest.mark.django_db
def test_unknown_customer_is_an_error_when_the_store_creates_none(shop: Shop) -> None:
    Store.objects.filter(pk=shop.store.pk).update(create_unknown_customers=False)
    before = Student.objects.count()

    shop.post(woo.order(status="completed", email="Maya@Example.net"))

    assert Student.objects.count() == before
    assert not Grant.objects.exists()
    assert shop.statuses() == [("processed", "waiting for a customer")]
    error = OrderError.objects.get()
    assert (error.kind, error.subject, error.message) == (
        ErrorKind.CUSTOMER_NOT_FOUND,
        "maya@example.net",
        "No student has the email Maya@Example.net (Order #727); link the order to a student.",
    )


@pytest.mark.django_db
def test_an_order_without_billing_email_waits_for_a_customer(shop: Shop) -> None:
    payload = woo.order(status="completed")
    payload["billing"]["email"] = None

    shop.post(payload)

    assert not Grant.objects.exists()
    error = OrderError.objects.get()
    assert (error.kind, error.subject, error.message) == (
        ErrorKind.CUSTOMER_NOT_FOUND,
        "no-email",
        "Order #727 has no billing email; link it to a student.",
    )
