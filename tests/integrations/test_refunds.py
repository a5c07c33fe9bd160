"""Refunds: whole orders (refunded, or cancelled/failed after payment) and partial refunds, with
and without the store's REST API keys. Unused hours go back through the ledger; hours already
used or held are never taken silently: they become an error stating the amounts."""

from typing import Any

import pytest
from django.utils import timezone

from grants import services as ledger
from grants.models import EntryKind, Grant, GrantEntry, GrantStatus, Package, ShopKey
from grants.reconcile import find_differences
from integrations.woocommerce import services
from integrations.woocommerce.models import ErrorKind, Order, OrderError, OrderLineGrant, Store
from tests.factories import RelationshipFactory, SessionFactory
from tests.integrations import woo
from tests.integrations.conftest import (
    CONSUMER_KEY,
    CONSUMER_SECRET,
    Shop,
    ShopAPI,
    grants_of,
    make_package,
)
from tests.support import Tenant, balance

pytestmark = pytest.mark.django_db

PAID = "2026-03-10T14:22:00"
LATER = "2026-03-12T09:00:00"
LATER_STILL = "2026-03-13T09:00:00"


def refund(
    refund_id: int = 1240, total: str = "-450.00", reason: str = "Student moved away"
) -> dict[str, Any]:
    """A refund as the order payload lists it: no lines, a negative string total."""
    return {"id": refund_id, "reason": reason, "total": total}


def refund_detail(
    refund_id: int,
    items: list[dict[str, Any]],
    amount: str = "450.00",
    reason: str = "Student moved away",
) -> dict[str, Any]:
    """A refund as GET /orders/<id>/refunds returns it: lines with negative quantities."""
    return {
        "id": refund_id,
        "date_created_gmt": "2026-03-12T08:59:00",
        "amount": amount,
        "reason": reason,
        "refunded_by": 1,
        "refunded_payment": True,
        "meta_data": [],
        "line_items": items,
        "shipping_lines": [],
        "tax_lines": [],
        "fee_lines": [],
    }


def refunded_item(
    item_id: int,
    *,
    refunded_item_id: int | None,
    product_id: int = 101,
    quantity: int = -1,
    total: str = "-450.00",
) -> dict[str, Any]:
    meta = (
        []
        if refunded_item_id is None
        else [
            {
                "id": item_id * 10,
                "key": "_refunded_item_id",
                "value": str(refunded_item_id),
                "display_key": "_refunded_item_id",
                "display_value": str(refunded_item_id),
            }
        ]
    )
    return {
        "id": item_id,
        "name": "Tutoring – 10 hours",
        "product_id": product_id,
        "variation_id": 0,
        "quantity": quantity,
        "tax_class": "",
        "subtotal": total,
        "subtotal_tax": "0.00",
        "total": total,
        "total_tax": "0.00",
        "taxes": [],
        "meta_data": meta,
        "sku": "TUT-10",
        "price": -450,
    }


def order_entries(order_id: int = 727) -> list[tuple[str, int]]:
    """The ledger entries that changed the order's grants' totals (holds and uses left out)."""
    return list(
        GrantEntry.objects.filter(grant__reference=f"Order #{order_id}")
        .exclude(total_delta=0)
        .order_by("pk")
        .values_list("kind", "total_delta")
    )


def use_hours(tenant: Tenant, *, hold: int, consume: int) -> None:
    """A relationship holds `hold` minutes of the student's hours and a session consumed
    `consume` of them."""
    rel = RelationshipFactory(
        organization=tenant.organization, student=tenant.student, provider=tenant.provider
    )
    ledger.hold(actor=None, relationship=rel, quantity=hold)
    session = SessionFactory(relationship=rel, duration_minutes=consume, starts_at=timezone.now())
    ledger.consume(
        actor=None, relationship=rel, session=session, quantity=consume, at=session.starts_at
    )


@pytest.fixture
def customer(tenant_a: Tenant) -> str:
    return tenant_a.student.email


# --- Whole orders ----------------------------------------------------------------------------


def test_full_refund_before_any_use_refunds_every_unused_hour(shop: Shop, customer: str) -> None:
    shop.post(woo.order(status="completed", email=customer, modified=PAID))
    [grant] = grants_of()

    response = shop.post(
        woo.order(status="refunded", email=customer, modified=LATER, refunds=[refund()])
    )

    assert response.status_code == 200
    assert shop.statuses()[-1] == ("processed", "refunded 10 h of line 315")
    assert order_entries() == [(EntryKind.CREDIT, 600), (EntryKind.REFUND, -600)]
    refund_entry = GrantEntry.objects.get(kind=EntryKind.REFUND)
    assert refund_entry.reason == "Order refunded in the shop — Order #727"
    assert balance(grant, with_status=True) == (0, 0, 0, GrantStatus.REVOKED)
    assert OrderLineGrant.objects.get().refunded_quantity == 1
    assert Order.objects.get().refunded_at is not None
    assert not OrderError.objects.exists()

    # The same state again, and a later snapshot of it: nothing more goes back.
    shop.post(woo.order(status="refunded", email=customer, modified=LATER, refunds=[refund()]))
    shop.post(
        woo.order(status="refunded", email=customer, modified=LATER_STILL, refunds=[refund()])
    )
    assert order_entries() == [(EntryKind.CREDIT, 600), (EntryKind.REFUND, -600)]
    assert find_differences() == []


def test_a_refund_takes_back_the_package_size_sold_not_todays(
    shop: Shop, customer: str, ten_hours: Package
) -> None:
    shop.post(woo.order(status="completed", email=customer, modified=PAID))
    [grant] = grants_of()
    # The center resizes the package after the sale: the refund still returns what was sold.
    Package.objects.filter(pk=ten_hours.pk).update(quantity=900)

    shop.post(woo.order(status="refunded", email=customer, modified=LATER, refunds=[refund()]))

    assert order_entries() == [(EntryKind.CREDIT, 600), (EntryKind.REFUND, -600)]
    assert balance(grant, with_status=True) == (0, 0, 0, GrantStatus.REVOKED)
    assert not OrderError.objects.exists()
    assert find_differences() == []


def test_full_refund_after_use_refunds_only_the_unused_part_and_says_so(
    shop: Shop, tenant_a: Tenant, customer: str, mailoutbox
) -> None:
    shop.post(woo.order(status="completed", email=customer, modified=PAID))
    [grant] = grants_of()
    use_hours(tenant_a, hold=240, consume=120)  # 2 h used, 2 h still held, 6 h unused
    assert balance(grant, with_status=True) == (600, 120, 120, GrantStatus.ACTIVE)

    shop.post(woo.order(status="refunded", email=customer, modified=LATER, refunds=[refund()]))

    assert shop.statuses()[-1] == ("processed", "refunded 6 h of line 315")
    assert balance(grant, with_status=True) == (240, 120, 120, GrantStatus.ACTIVE)
    assert order_entries()[-1] == (EntryKind.REFUND, -360)
    error = OrderError.objects.get()
    assert (error.kind, error.subject, error.payload) == (
        ErrorKind.REFUND_CONFLICT,
        "full:line:315",
        {"line_item_id": 315, "wanted": 600, "refunded": 360},
    )
    assert error.message == (
        "Order #727: the shop refunded 10 h but only 6 h were unused; "
        "2 h are used and 2 h reserved. Settle the rest."
    )
    assert [m.to for m in mailoutbox if m.extra_headers["X-Matchpal-Kind"] == "order_error"] == [
        [tenant_a.admin.email]
    ]

    # Delivered again later: nothing more is taken, the error stays one.
    shop.post(
        woo.order(status="refunded", email=customer, modified=LATER_STILL, refunds=[refund()])
    )
    assert balance(grant, with_status=True) == (240, 120, 120, GrantStatus.ACTIVE)
    assert OrderError.objects.count() == 1
    assert find_differences() == []


def test_full_refund_when_everything_is_used_takes_nothing(
    shop: Shop, tenant_a: Tenant, customer: str
) -> None:
    shop.post(woo.order(status="completed", email=customer, modified=PAID))
    [grant] = grants_of()
    use_hours(tenant_a, hold=600, consume=600)

    shop.post(woo.order(status="refunded", email=customer, modified=LATER, refunds=[refund()]))

    assert shop.statuses()[-1] == ("processed", "refunded 0 min of line 315")
    assert balance(grant, with_status=True) == (600, 600, 0, GrantStatus.ACTIVE)
    assert order_entries() == [(EntryKind.CREDIT, 600)]
    assert OrderError.objects.get().message == (
        "Order #727: the shop refunded 10 h but only 0 min were unused; 10 h are used and "
        "0 min reserved. Settle the rest."
    )
    assert find_differences() == []


@pytest.mark.parametrize("status", ["cancelled", "failed"])
def test_cancelled_or_failed_after_fulfilment_is_a_full_refund(
    shop: Shop, customer: str, status: str
) -> None:
    shop.post(woo.order(status="processing", email=customer, modified=PAID))
    [grant] = grants_of()

    shop.post(woo.order(status=status, email=customer, modified=LATER))

    assert order_entries() == [(EntryKind.CREDIT, 600), (EntryKind.REFUND, -600)]
    assert GrantEntry.objects.get(kind=EntryKind.REFUND).reason == (
        f"Order {status} in the shop — Order #727"
    )
    assert balance(grant, with_status=True) == (0, 0, 0, GrantStatus.REVOKED)
    assert find_differences() == []


def test_refunded_order_never_fulfilled_grants_and_refunds_nothing(shop: Shop) -> None:
    shop.post(woo.order(status="refunded", refunds=[refund()]))

    assert not Grant.objects.exists()
    assert not OrderError.objects.exists()
    assert Order.objects.get().refunded_at is not None


def test_full_refund_of_a_multi_line_order(shop: Shop, tenant_a: Tenant, customer: str) -> None:
    make_package(tenant_a, name="Five hours", quantity=300, keys=[(ShopKey.PRODUCT, "102")])
    lines = [woo.line(item_id=315, quantity=2), woo.line(item_id=316, product_id=102)]
    shop.post(woo.order(status="completed", email=customer, modified=PAID, lines=lines))

    shop.post(
        woo.order(
            status="refunded",
            email=customer,
            modified=LATER,
            lines=lines,
            refunds=[refund(total="-1350.00")],
        )
    )

    assert shop.statuses()[-1] == (
        "processed",
        "refunded 20 h of line 315; refunded 5 h of line 316",
    )
    assert [balance(g, with_status=True)[:3] for g in grants_of()] == [(0, 0, 0), (0, 0, 0)]
    assert find_differences() == []


# --- Partial refunds without API keys: an admin decides ------------------------------------


def test_partial_refund_without_api_keys_is_left_to_an_admin(
    shop: Shop, customer: str, tenant_a: Tenant
) -> None:
    lines = [woo.line(quantity=2, total="900.00")]
    shop.post(woo.order(status="completed", email=customer, modified=PAID, lines=lines))

    shop.post(
        woo.order(
            status="completed",
            email=customer,
            modified=LATER,
            lines=lines,
            refunds=[refund(reason="One package unused")],
        )
    )

    assert shop.statuses()[-1] == ("processed", "partial refund left for an admin")
    assert order_entries() == [(EntryKind.CREDIT, 1200)]  # nothing changes in the ledger
    error = OrderError.objects.get()
    assert (error.kind, error.subject, error.order) == (
        ErrorKind.PARTIAL_REFUND,
        "refund:1240",
        Order.objects.get(),
    )
    assert error.message == (
        "Order #727: partial refund #1240 of 450.00 (One package unused). Which lines it "
        "covers is not in the webhook; take back the hours by hand, then resolve."
    )
    assert Order.objects.get().handled_refund_ids == [1240]

    # The same delivery again, and a later snapshot still listing the refund: not duplicated.
    shop.post(
        woo.order(
            status="completed",
            email=customer,
            modified=LATER,
            lines=lines,
            refunds=[refund(reason="One package unused")],
        )
    )
    shop.post(
        woo.order(
            status="completed",
            email=customer,
            modified=LATER_STILL,
            lines=lines,
            refunds=[refund(reason="One package unused")],
        )
    )
    assert OrderError.objects.count() == 1
    # Even after the admin resolved it.
    services.error_resolve(actor=tenant_a.admin, error=error, note="Took back 10 h by hand")
    shop.post(
        woo.order(
            status="completed",
            email=customer,
            modified="2026-03-14T09:00:00",
            lines=lines,
            refunds=[refund(reason="One package unused")],
        )
    )
    assert OrderError.objects.count() == 1

    # A second refund is a second decision.
    shop.post(
        woo.order(
            status="completed",
            email=customer,
            modified="2026-03-15T09:00:00",
            lines=lines,
            refunds=[refund(1241, "-45.00", ""), refund()],
        )
    )
    assert list(OrderError.objects.order_by("pk").values_list("subject", "message")) == [
        ("refund:1240", error.message),
        (
            "refund:1241",
            "Order #727: partial refund #1241 of 45.00 (no reason given). Which "
            "lines it covers is not in the webhook; take back the hours by hand, "
            "then resolve.",
        ),
    ]
    assert order_entries() == [(EntryKind.CREDIT, 1200)]
    assert find_differences() == []


# --- Partial refunds with API keys: resolved line by line ----------------------------------


@pytest.fixture
def two_line_order(keyed_shop: Shop, tenant_a: Tenant, customer: str) -> list[dict[str, Any]]:
    """Order 727, paid: 2 × ten hours (line 315) and 1 × five hours (line 316)."""
    make_package(tenant_a, name="Five hours", quantity=300, keys=[(ShopKey.PRODUCT, "102")])
    lines = [
        woo.line(item_id=315, quantity=2, total="900.00"),
        woo.line(item_id=316, product_id=102, sku="TUT-5", total="225.00"),
    ]
    keyed_shop.post(woo.order(status="completed", email=customer, modified=PAID, lines=lines))
    return lines


def test_partial_refund_with_api_keys_takes_back_the_refunded_lines(
    keyed_shop: Shop, shop_api: ShopAPI, two_line_order: list[dict[str, Any]], customer: str
) -> None:
    ten, five = grants_of()
    shop_api.json(
        "orders/727/refunds", [refund_detail(1240, [refunded_item(330, refunded_item_id=315)])]
    )

    keyed_shop.post(
        woo.order(
            status="completed",
            email=customer,
            modified=LATER,
            lines=two_line_order,
            refunds=[refund()],
        )
    )

    [request] = shop_api.requests
    assert request.path == "/wp-json/wc/v3/orders/727/refunds"
    assert request.basic_auth == (CONSUMER_KEY, CONSUMER_SECRET)
    assert keyed_shop.statuses()[-1] == ("processed", "refunded 10 h of line 315")
    assert balance(ten, with_status=True) == (600, 0, 0, GrantStatus.ACTIVE)
    assert balance(five, with_status=True) == (300, 0, 0, GrantStatus.ACTIVE)
    assert GrantEntry.objects.get(kind=EntryKind.REFUND).reason == (
        "Partial refund #1240 in the shop — Order #727"
    )
    assert dict(OrderLineGrant.objects.values_list("line_item_id", "refunded_quantity")) == {
        315: 1,
        316: 0,
    }
    assert not OrderError.objects.exists()

    # Delivered again later: the refund is not fetched nor taken back twice.
    keyed_shop.post(
        woo.order(
            status="completed",
            email=customer,
            modified=LATER_STILL,
            lines=two_line_order,
            refunds=[refund()],
        )
    )
    assert len(shop_api.requests) == 1
    assert balance(ten, with_status=True)[0] == 600

    # A second refund whose item lacks `_refunded_item_id`: matched by product.
    shop_api.json(
        "orders/727/refunds",
        [
            refund_detail(
                1241,
                [refunded_item(331, refunded_item_id=None, product_id=102, total="-225.00")],
                amount="225.00",
            ),
            refund_detail(1240, [refunded_item(330, refunded_item_id=315)]),
        ],
    )
    keyed_shop.post(
        woo.order(
            status="completed",
            email=customer,
            modified="2026-03-14T09:00:00",
            lines=two_line_order,
            refunds=[refund(1241, "-225.00"), refund()],
        )
    )
    assert keyed_shop.statuses()[-1] == ("processed", "refunded 5 h of line 316")
    assert balance(five, with_status=True) == (0, 0, 0, GrantStatus.REVOKED)
    assert balance(ten, with_status=True)[0] == 600
    assert Order.objects.get().handled_refund_ids == [1240, 1241]

    # Then the whole order is refunded: only what is left goes back.
    keyed_shop.post(
        woo.order(
            status="refunded",
            email=customer,
            modified="2026-03-15T09:00:00",
            lines=two_line_order,
            refunds=[refund(1242, "-450.00"), refund(1241, "-225.00"), refund()],
        )
    )
    assert balance(ten, with_status=True) == (0, 0, 0, GrantStatus.REVOKED)
    assert order_entries() == [
        (EntryKind.CREDIT, 1200),
        (EntryKind.CREDIT, 300),
        (EntryKind.REFUND, -600),
        (EntryKind.REFUND, -300),
        (EntryKind.REFUND, -600),
    ]
    assert not OrderError.objects.exists()
    assert find_differences() == []


@pytest.mark.concurrency
@pytest.mark.django_db(transaction=True)
def test_refunds_are_fetched_from_the_shop_before_the_order_is_locked(
    keyed_shop: Shop, shop_api: ShopAPI, customer: str
) -> None:
    """No network I/O under a lock (STYLE): while the shop answers the refunds request,
    another connection can still lock the order row."""
    import psycopg
    from django.db import connection

    keyed_shop.post(woo.order(status="completed", email=customer, modified=PAID))
    [grant] = grants_of()
    order = Order.objects.get()
    params = connection.get_connection_params()
    seen: list[str] = []

    def refunds(_request):  # type: ignore[no-untyped-def]
        with psycopg.connect(**params) as other, other.transaction():
            try:
                other.execute(
                    f"SELECT 1 FROM {Order._meta.db_table} WHERE id = %s FOR UPDATE NOWAIT",
                    [order.pk],
                )
                seen.append("free")
            except psycopg.errors.LockNotAvailable:
                seen.append("locked")
        return 200, [refund_detail(1240, [refunded_item(330, refunded_item_id=315)])], {}

    shop_api.routes["/wp-json/wc/v3/orders/727/refunds"] = refunds
    keyed_shop.post(
        woo.order(status="completed", email=customer, modified=LATER, refunds=[refund()])
    )

    assert seen == ["free"]
    assert keyed_shop.statuses()[-1] == ("processed", "refunded 10 h of line 315")
    assert balance(grant, with_status=True) == (0, 0, 0, GrantStatus.REVOKED)
    assert find_differences() == []


def test_partial_refund_of_used_hours_is_a_conflict_for_an_admin(
    keyed_shop: Shop,
    shop_api: ShopAPI,
    two_line_order: list[dict[str, Any]],
    tenant_a: Tenant,
    customer: str,
) -> None:
    ten, _five = grants_of()
    # Neither grant expires: the hold takes the lower id (line 315's grant) first.
    use_hours(tenant_a, hold=1200, consume=960)
    assert balance(ten, with_status=True)[:3] == (1200, 960, 240)
    shop_api.json(
        "orders/727/refunds", [refund_detail(1240, [refunded_item(330, refunded_item_id=315)])]
    )

    keyed_shop.post(
        woo.order(
            status="completed",
            email=customer,
            modified=LATER,
            lines=two_line_order,
            refunds=[refund()],
        )
    )

    assert keyed_shop.statuses()[-1] == ("processed", "refunded 0 min of line 315")
    assert balance(ten, with_status=True)[:3] == (1200, 960, 240)
    error = OrderError.objects.get()
    assert (error.kind, error.subject, error.payload) == (
        ErrorKind.REFUND_CONFLICT,
        "refund:1240:line:315",
        {"line_item_id": 315, "wanted": 600, "refunded": 0},
    )
    assert error.message == (
        "Order #727: the shop refunded 10 h but only 0 min were unused; "
        "16 h are used and 4 h reserved. Settle the rest."
    )
    assert find_differences() == []


def test_a_refund_naming_no_quantities_is_left_to_an_admin(
    keyed_shop: Shop, shop_api: ShopAPI, two_line_order: list[dict[str, Any]], customer: str
) -> None:
    # An amount refunded without choosing line quantities: whether hours go back is a decision.
    shop_api.json(
        "orders/727/refunds", [refund_detail(1240, [], amount="50.00", reason="Goodwill")]
    )

    keyed_shop.post(
        woo.order(
            status="completed",
            email=customer,
            modified=LATER,
            lines=two_line_order,
            refunds=[refund(total="-50.00", reason="Goodwill")],
        )
    )

    assert [g.total for g in grants_of()] == [1200, 300]
    error = OrderError.objects.get()
    assert (error.kind, error.subject) == (ErrorKind.PARTIAL_REFUND, "refund:1240")
    assert error.message == (
        "Order #727: partial refund #1240 of 50.00 (Goodwill) names no refunded quantities; "
        "decide whether hours go back, then resolve."
    )
    assert find_differences() == []


def test_a_refund_before_the_customer_is_known_is_settled_once_linked(
    keyed_shop: Shop, shop_api: ShopAPI, tenant_a: Tenant
) -> None:
    Store.objects.filter(pk=keyed_shop.store.pk).update(create_unknown_customers=False)
    lines = [woo.line(item_id=315, quantity=2, total="900.00")]
    keyed_shop.post(
        woo.order(status="completed", email="unknown@example.net", modified=PAID, lines=lines)
    )
    shop_api.json(
        "orders/727/refunds", [refund_detail(1240, [refunded_item(330, refunded_item_id=315)])]
    )
    keyed_shop.post(
        woo.order(
            status="completed",
            email="unknown@example.net",
            modified=LATER,
            lines=lines,
            refunds=[refund()],
        )
    )
    assert not Grant.objects.exists()

    error = OrderError.objects.get(kind=ErrorKind.CUSTOMER_NOT_FOUND)
    outcome = services.error_link_student(
        actor=tenant_a.admin, error=error, student=tenant_a.student
    )

    assert outcome == "granted 20 h for line 315; refunded 10 h of line 315"
    [grant] = grants_of()
    assert (grant.student, balance(grant, with_status=True)[:3]) == (tenant_a.student, (600, 0, 0))
    assert find_differences() == []


def test_partial_refund_fetch_failure_changes_nothing_and_is_retried(
    keyed_shop: Shop, shop_api: ShopAPI, two_line_order: list[dict[str, Any]], customer: str
) -> None:
    from celery.exceptions import Retry

    from integrations.woocommerce.tasks import process_delivery

    shop_api.routes["/wp-json/wc/v3/orders/727/refunds"] = lambda _r: (500, {}, {})

    response = keyed_shop.post(
        woo.order(
            status="completed",
            email=customer,
            modified=LATER,
            lines=two_line_order,
            refunds=[refund()],
        )
    )

    assert response.status_code == 200
    delivery = keyed_shop.last_delivery()
    assert (delivery.status, delivery.sweep_after is not None) == ("received", True)
    with pytest.raises(Retry):  # eager Celery shows the retry the worker would schedule
        process_delivery.apply(args=[delivery.pk])
    assert Order.objects.get().handled_refund_ids == []
    assert Order.objects.get().date_modified_gmt.isoformat() == "2026-03-10T14:22:00+00:00"
    assert [g.total for g in grants_of()] == [1200, 300]
    assert find_differences() == []


def test_unknown_line_refund_is_ignored_for_packages(
    keyed_shop: Shop, shop_api: ShopAPI, tenant_a: Tenant, customer: str, ten_hours: Package
) -> None:
    # A mug sold beside the hours and refunded: no hours move, nothing to decide.
    lines = [woo.line(item_id=315), woo.line(item_id=316, product_id=999, sku="MUG")]
    keyed_shop.post(woo.order(status="completed", email=customer, modified=PAID, lines=lines))
    OrderError.objects.all().delete()
    shop_api.json(
        "orders/727/refunds",
        [
            refund_detail(
                1240,
                [refunded_item(330, refunded_item_id=316, product_id=999, total="-12.00")],
                amount="12.00",
            )
        ],
    )

    keyed_shop.post(
        woo.order(
            status="completed",
            email=customer,
            modified=LATER,
            lines=lines,
            refunds=[refund(total="-12.00")],
        )
    )

    assert [g.total for g in grants_of()] == [600]
    assert list(OrderError.objects.values_list("kind", flat=True)) == [
        ErrorKind.UNKNOWN_PRODUCT
    ]  # the mug's line, still unmapped
    assert find_differences() == []
