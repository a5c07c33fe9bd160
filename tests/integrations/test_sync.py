"""The catch-up through the shop's REST API, against a local server playing the shop: every
page once, one bad order never stalls the batch, error objects recorded, and `last_synced_at`
moved only as far as what was really handled, asked for again with a few minutes' overlap."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from grants.models import EntryKind, Grant, GrantEntry, GrantSource
from grants.reconcile import find_differences
from integrations.woocommerce import client, services
from integrations.woocommerce.models import ErrorKind, OrderError, Store
from matchpal.models import Notification
from tests.factories import StudentFactory
from tests.integrations import woo
from tests.integrations.conftest import (
    CONSUMER_KEY,
    CONSUMER_SECRET,
    Shop,
    ShopAPI,
    grants_of,
)
from tests.support import Tenant

# The notices these tests are about (others, of other kinds, are tests/notifications').
TOLD = Notification.objects.filter(kind="order_error")

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def granted(order_id: int = 727) -> list[tuple[str, int, str]]:
    """(student email, total, unit) of each grant made for the order."""
    return [(g.student.email, g.total, g.unit) for g in grants_of(order_id)]


def store_of(shop: Shop) -> Store:
    return Store.objects.select_related("organization").get(pk=shop.store.pk)


def queries(shop_api: ShopAPI) -> list[tuple[str, str]]:
    """(modified_after, page) of each request the shop received for its order list."""
    return [
        (r.query["modified_after"], r.query["page"])
        for r in shop_api.requests
        if r.path == "/wp-json/wc/v3/orders"
    ]


def paid(order_id: int, modified: str, *, item_id: int, **kwargs: Any) -> dict[str, Any]:
    return woo.order(
        order_id=order_id,
        status="completed",
        modified=modified,
        lines=[woo.line(item_id=item_id)],
        **kwargs,
    )


def test_sync_store_catches_up_every_page_once(
    keyed_shop: Shop, shop_api: ShopAPI, tenant_a: Tenant, monkeypatch
) -> None:
    monkeypatch.setattr(client, "PAGE_SIZE", 2)
    StudentFactory(organization=tenant_a.organization, email="lee@example.net")
    shop_api.orders(
        [
            paid(727, "2026-11-22T09:00:00", item_id=315),
            woo.order(
                order_id=728,
                status="pending",
                email="lee@example.net",
                modified="2026-11-22T10:00:00",
                lines=[woo.line(item_id=316)],
            ),
            woo.order(
                order_id=729,
                status="processing",
                email="lee@example.net",
                modified="2026-11-22T11:58:00",
                lines=[woo.line(item_id=317, quantity=2)],
            ),
        ]
    )
    store = store_of(keyed_shop)

    assert services.sync_store(store=store, now=NOW) == 3

    # The first run looks a week back, from a few minutes before: two pages of two.
    assert [(r.path, r.query) for r in shop_api.requests] == [
        (
            "/wp-json/wc/v3/orders",
            {
                "modified_after": "2026-11-15T11:55:00",
                "dates_are_gmt": "true",
                "per_page": "2",
                "page": page,
                "orderby": "modified",
                "order": "asc",
            },
        )
        for page in ("1", "2")
    ]
    assert {r.basic_auth for r in shop_api.requests} == {(CONSUMER_KEY, CONSUMER_SECRET)}
    assert granted(727) == [("maya@example.net", 600, "minutes")]
    assert granted(728) == []
    assert granted(729) == [("lee@example.net", 1200, "minutes")]
    store.refresh_from_db()
    # Synced to the newest order the shop reported, by the shop's clock.
    assert store.last_synced_at == datetime(2026, 11, 22, 11, 58, tzinfo=UTC)

    # Again, later: asked from five minutes before that; order 729 comes again, changes nothing.
    shop_api.requests.clear()
    assert services.sync_store(store=store, now=NOW + timedelta(minutes=15)) == 1
    assert queries(shop_api) == [("2026-11-22T11:53:00", "1")]
    assert Grant.objects.filter(source=GrantSource.WOOCOMMERCE).count() == 2
    assert (
        GrantEntry.objects.filter(
            kind=EntryKind.CREDIT, grant__source=GrantSource.WOOCOMMERCE
        ).count()
        == 2
    )
    store.refresh_from_db()
    assert store.last_synced_at == datetime(2026, 11, 22, 11, 58, tzinfo=UTC)
    assert not OrderError.objects.exists()
    assert find_differences() == []


def test_an_order_saved_just_before_the_last_one_is_not_dropped(
    keyed_shop: Shop, shop_api: ShopAPI
) -> None:
    # The shop lists order 727 (11:58); order 728, stamped 11:56, only becomes visible after
    # that run (a slow checkout's transaction, or the shop's clock behind ours). Without the
    # overlap the next run would ask from 11:58 and never see it.
    listed = [paid(727, "2026-11-22T11:58:00", item_id=315)]
    shop_api.orders(listed)
    store = store_of(keyed_shop)
    services.sync_store(store=store, now=NOW)
    listed.append(paid(728, "2026-11-22T11:56:00", item_id=316, email="lee@example.net"))

    services.sync_store(store=store, now=NOW + timedelta(minutes=15))

    assert queries(shop_api)[-1] == ("2026-11-22T11:53:00", "1")
    assert granted(728) == [("lee@example.net", 600, "minutes")]
    assert [g.total for g in grants_of(727)] == [600]
    store.refresh_from_db()
    assert store.last_synced_at == datetime(2026, 11, 22, 11, 58, tzinfo=UTC)
    assert find_differences() == []


def test_one_bad_order_does_not_stall_the_batch_and_is_fetched_again(
    keyed_shop: Shop, shop_api: ShopAPI, tenant_a: Tenant
) -> None:
    # Order 728 carries a refund, and the shop's API fails on its refunds: 728 cannot be
    # applied (nothing of it is), 727 and 729 go through.
    shop_api.orders(
        [
            paid(727, "2026-11-22T09:00:00", item_id=315),
            paid(
                728,
                "2026-11-22T10:00:00",
                item_id=316,
                email="lee@example.net",
                refunds=[{"id": 1240, "reason": "Moved away", "total": "-450.00"}],
            ),
            paid(729, "2026-11-22T11:00:00", item_id=317, email="ana@example.net"),
        ]
    )
    shop_api.routes["/wp-json/wc/v3/orders/728/refunds"] = lambda _r: (
        500,
        {"code": "internal_server_error", "message": "There has been a critical error."},
        {},
    )
    store = store_of(keyed_shop)

    assert services.sync_store(store=store, now=NOW) == 3

    assert granted(727) == [("maya@example.net", 600, "minutes")]
    assert granted(728) == []
    assert granted(729) == [("ana@example.net", 600, "minutes")]
    error = OrderError.objects.get()
    assert (error.kind, error.subject, error.order, error.message) == (
        ErrorKind.PROCESSING_FAILED,
        "order:728",
        None,  # never applied, so there is no order row to point at
        "Order #728 could not be applied by the catch-up: The shop's API answered "
        "orders/728/refunds with 500: internal_server_error (There has been a critical error). "
        "Nothing from it was applied; the next catch-up tries again and closes this error "
        "once it goes through.",
    )
    assert TOLD.filter(
        user=tenant_a.admin, text__startswith="Alpha shop: Processing failed — Order #728"
    ).exists()
    store.refresh_from_db()
    # Not past 728: the next run asks from five minutes before it.
    assert store.last_synced_at == datetime(2026, 11, 22, 10, 0, tzinfo=UTC)

    # The shop recovers (the refund names no lines: an amount for an admin to settle).
    shop_api.json("orders/728/refunds", [{"id": 1240, "line_items": [], "amount": "450.00"}])
    shop_api.requests.clear()
    assert services.sync_store(store=store, now=NOW + timedelta(minutes=15)) == 2

    assert queries(shop_api) == [("2026-11-22T09:55:00", "1")]
    assert granted(728) == [("lee@example.net", 600, "minutes")]
    assert [g.total for g in grants_of(729)] == [600]
    error.refresh_from_db()
    assert (error.resolved_at is not None, error.resolution_note) == (
        True,
        "Applied by a later catch-up.",
    )
    assert list(
        OrderError.objects.filter(resolved_at__isnull=True).values_list("kind", "subject")
    ) == [(ErrorKind.PARTIAL_REFUND, "refund:1240")]
    store.refresh_from_db()
    assert store.last_synced_at == datetime(2026, 11, 22, 11, 0, tzinfo=UTC)
    assert find_differences() == []


def test_error_objects_in_the_answer_are_recorded_and_the_rest_applied(
    keyed_shop: Shop, shop_api: ShopAPI
) -> None:
    shop_api.orders(
        [
            {
                "code": "woocommerce_rest_shop_order_invalid_id",
                "message": "Invalid ID.",
                "data": {"status": 404},
            },
            paid(727, "2026-11-22T11:00:00", item_id=315),
        ]
    )
    store = store_of(keyed_shop)

    assert services.sync_store(store=store, now=NOW) == 2
    assert services.sync_store(store=store, now=NOW + timedelta(minutes=15)) == 2

    assert granted(727) == [("maya@example.net", 600, "minutes")]
    error = OrderError.objects.get()  # once, although the shop listed it twice
    assert (error.kind, error.subject, error.message) == (
        ErrorKind.INVALID_DATA,
        "sync:woocommerce_rest_shop_order_invalid_id",
        "The catch-up got an error instead of an order: woocommerce_rest_shop_order_invalid_id "
        "— Invalid ID.",
    )
    store.refresh_from_db()
    assert store.last_synced_at == datetime(2026, 11, 22, 11, 0, tzinfo=UTC)


def test_an_error_answer_stops_the_catch_up_and_tells_the_admin_once(
    keyed_shop: Shop, shop_api: ShopAPI, tenant_a: Tenant
) -> None:
    # The store owner revoked the keys' read access.
    shop_api.routes["/wp-json/wc/v3/orders"] = lambda _r: (
        401,
        {
            "code": "woocommerce_rest_cannot_view",
            "message": "Sorry, you cannot list resources.",
            "data": {"status": 401},
        },
        {},
    )
    Store.objects.filter(pk=keyed_shop.store.pk).update(last_synced_at=NOW - timedelta(hours=1))
    store = store_of(keyed_shop)

    assert services.sync_store(store=store, now=NOW) == 0
    assert services.sync_store(store=store, now=NOW + timedelta(minutes=15)) == 0

    error = OrderError.objects.get()
    assert (error.kind, error.subject, error.message) == (
        ErrorKind.PROCESSING_FAILED,
        "sync:woocommerce_rest_cannot_view",
        "The catch-up stopped: The shop's API answered orders with 401: "
        "woocommerce_rest_cannot_view (Sorry, you cannot list resources). Check the store's "
        "REST API keys (they need read access to orders) and the shop's security plugins, "
        "then resolve.",
    )
    assert TOLD.filter(user=tenant_a.admin).count() == 1
    store.refresh_from_db()
    assert store.last_synced_at == NOW - timedelta(hours=1)


def test_a_page_the_shop_fails_to_send_keeps_what_came_before(
    keyed_shop: Shop, shop_api: ShopAPI, monkeypatch
) -> None:
    monkeypatch.setattr(client, "PAGE_SIZE", 1)
    shop_api.orders(
        [
            paid(727, "2026-11-22T09:00:00", item_id=315),
            paid(728, "2026-11-22T10:00:00", item_id=316, email="lee@example.net"),
        ]
    )
    serve = shop_api.routes["/wp-json/wc/v3/orders"]
    shop_api.routes["/wp-json/wc/v3/orders"] = lambda r: (
        serve(r) if r.query["page"] == "1" else (502, {}, {})
    )
    store = store_of(keyed_shop)

    with pytest.raises(client.ShopAPIError, match="answered orders with 502"):
        services.sync_store(store=store, now=NOW)  # the task fails; the next run asks again

    assert granted(727) == [("maya@example.net", 600, "minutes")]
    assert granted(728) == []
    assert not OrderError.objects.exists()  # a bad gateway is not an admin's problem
    store.refresh_from_db()
    assert store.last_synced_at == datetime(2026, 11, 22, 9, 0, tzinfo=UTC)


def test_sync_after_a_delivery_finds_nothing_new(keyed_shop: Shop, shop_api: ShopAPI) -> None:
    payload = woo.order(status="completed")
    keyed_shop.post(payload)
    shop_api.orders([payload])

    services.sync_store(store=store_of(keyed_shop), now=datetime(2026, 3, 10, 15, tzinfo=UTC))

    assert [g.total for g in grants_of()] == [600]
    assert find_differences() == []


def test_sync_stores_task_syncs_only_active_stores_with_keys(
    keyed_shop: Shop, shop_api: ShopAPI, tenant_a: Tenant
) -> None:
    from integrations.woocommerce.tasks import sync_stores

    Store.objects.create(
        organization=tenant_a.organization, name="No keys", store_url="https://nokeys.example/"
    )
    shop_api.json("orders", [woo.order(status="completed")], {"X-WP-TotalPages": "1"})

    assert sync_stores.delay().get() == 1

    assert [g.total for g in grants_of()] == [600]
    assert find_differences() == []
