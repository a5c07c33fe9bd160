"""The admin's WooCommerce console under /o/<slug>/shop/: stores and their setup, order errors
and what an admin does about them, the delivery log; roles and tenants; pinned query counts."""

import re
from collections.abc import Callable

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from grants.models import Grant, Package, PackageShopMapping, ShopKey
from grants.reconcile import find_differences
from grants.services import package_set_active
from integrations.woocommerce.models import (
    Delivery,
    DeliveryStatus,
    ErrorKind,
    Order,
    OrderError,
    Store,
)
from tests.factories import StudentFactory, UserFactory
from tests.integrations import woo
from tests.integrations.conftest import CONSUMER_KEY, CONSUMER_SECRET, Shop, ShopAPI, grants_of
from tests.support import Tenant, messages_of

pytestmark = pytest.mark.django_db

SHOP = "/o/alpha/shop/"


# --- Stores ----------------------------------------------------------------------------------


def test_store_create_then_detail_shows_url_secret_and_setup_steps(
    admin_client_a: Client, tenant_a: Tenant
) -> None:
    assert admin_client_a.get(f"{SHOP}new/").status_code == 200

    response = admin_client_a.post(
        f"{SHOP}new/",
        {
            "name": "Alpha shop",
            "store_url": "https://shop.alpha.example/",
            "paid_statuses": ["processing", "completed"],
            "create_unknown_customers": "on",
            "is_active": "on",
        },
    )

    store = Store.objects.get()
    assert response.status_code == 302
    assert response.url == f"{SHOP}{store.public_id}/"
    assert (store.organization, store.name, store.paid_statuses, store.has_api_keys) == (
        tenant_a.organization,
        "Alpha shop",
        ["processing", "completed"],
        False,
    )
    assert re.fullmatch(r"[A-Za-z0-9]{40}", store.webhook_secret)  # WordPress-safe
    assert messages_of(response, earlier_too=True) == [
        "The store is connected: finish the setup in WooCommerce with the URL and secret below."
    ]

    page = admin_client_a.get(response.url).content.decode()
    assert f'value="http://testserver/hooks/woocommerce/{store.delivery_token}/"' in page
    assert f'value="{store.webhook_secret}"' in page
    for step in (
        "WooCommerce → Settings → Advanced → Webhooks",
        "Order created",
        "Order updated",
        "Order deleted",
        "Order restored",
        "WP REST API Integration v3",
        "not even its final slash",
    ):
        assert step in page
    assert "Nothing received yet." in page


def test_store_create_requires_a_paid_status(admin_client_a: Client) -> None:
    response = admin_client_a.post(
        f"{SHOP}new/", {"name": "Shop", "store_url": "https://s.example/"}
    )

    assert response.status_code == 200
    assert response.context["form"].errors == {"paid_statuses": ["This field is required."]}
    assert not Store.objects.exists()


def test_store_edit_keeps_secret_and_url(admin_client_a: Client, shop: Shop) -> None:
    store = shop.store
    before = (store.webhook_secret, store.delivery_token)

    response = admin_client_a.post(
        f"{SHOP}{store.public_id}/edit/",
        {
            "name": "Renamed",
            "store_url": "https://shop.example.org/",
            "paid_statuses": ["completed"],
            "consumer_key": CONSUMER_KEY,
            "consumer_secret": CONSUMER_SECRET,
            "is_active": "on",
        },
    )

    assert response.status_code == 302
    store.refresh_from_db()
    assert (
        store.name,
        store.paid_statuses,
        store.create_unknown_customers,
        store.has_api_keys,
    ) == ("Renamed", ["completed"], False, True)
    assert (store.webhook_secret, store.delivery_token) == before
    assert messages_of(response, earlier_too=True) == ["Store settings saved."]


def test_store_detail_lists_recent_deliveries(admin_client_a: Client, shop: Shop) -> None:
    shop.ping()
    shop.post(woo.order(status="completed"))

    page = admin_client_a.get(f"{SHOP}{shop.store.public_id}/").content.decode()

    assert "Activation ping answered." in page
    assert "granted 10 h for line 315" in page
    assert "No REST API keys" in page
    assert find_differences() == []


def test_store_list_counts_open_errors(admin_client_a: Client, shop: Shop) -> None:
    shop.post(woo.order(status="completed", lines=[woo.line(product_id=999)]))

    response = admin_client_a.get(SHOP)

    assert response.status_code == 200
    assert list(response.context["stores"]) == [shop.store]
    assert response.context["open_errors"] == 1


def test_store_sync_runs_the_catch_up(
    admin_client_a: Client, keyed_shop: Shop, shop_api: ShopAPI
) -> None:
    shop_api.json("orders", [woo.order(status="completed")], {"X-WP-TotalPages": "1"})

    response = admin_client_a.post(f"{SHOP}{keyed_shop.store.public_id}/sync/")

    assert response.status_code == 302
    assert messages_of(response, earlier_too=True) == ["Catching up on orders in the background."]
    assert [g.total for g in grants_of()] == [600]
    keyed_shop.store.refresh_from_db()
    assert keyed_shop.store.last_synced_at is not None
    assert find_differences() == []


def test_store_sync_without_keys_says_what_is_missing(admin_client_a: Client, shop: Shop) -> None:
    response = admin_client_a.post(f"{SHOP}{shop.store.public_id}/sync/")

    assert response.status_code == 302
    assert messages_of(response, earlier_too=True) == ["Add the store's REST API keys first."]
    assert admin_client_a.get(f"{SHOP}{shop.store.public_id}/sync/").status_code == 405


# --- Order errors ----------------------------------------------------------------------------


@pytest.fixture
def errors(shop: Shop) -> dict[str, OrderError]:
    """An unknown product (order 727), a missing customer (order 728, store creating none at
    the time), and a resolved invalid-data error."""
    shop.post(
        woo.order(
            order_id=727,
            status="completed",
            lines=[woo.line(item_id=315, product_id=999, sku=None, name="Tutoring – 3 hours")],
        )
    )
    Store.objects.filter(pk=shop.store.pk).update(create_unknown_customers=False)
    shop.store.refresh_from_db()
    shop.post(
        woo.order(
            order_id=728,
            status="completed",
            email="nobody@example.net",
            lines=[woo.line(item_id=316)],
        )
    )
    shop.post(body=b"not json")
    invalid = OrderError.objects.get(kind=ErrorKind.INVALID_DATA)
    OrderError.objects.filter(pk=invalid.pk).update(
        resolution_note="Checked", resolved_at=invalid.created_at
    )
    return {e.kind: e for e in OrderError.objects.all()}


def test_error_list_shows_open_errors_by_default_and_filters_by_kind(
    admin_client_a: Client, errors: dict[str, OrderError]
) -> None:
    def listed(query: str = "") -> list[str]:
        response = admin_client_a.get(f"{SHOP}errors/{query}")
        assert response.status_code == 200
        return sorted(e.kind for e in response.context["page"])

    assert listed() == ["customer_not_found", "unknown_product"]
    assert listed("?kind=unknown_product") == ["unknown_product"]
    assert listed("?state=resolved") == ["invalid_data"]
    assert listed("?state=") == ["customer_not_found", "invalid_data", "unknown_product"]
    page = admin_client_a.get(f"{SHOP}errors/").content.decode()
    assert "Order #727" in page
    assert "not mapped to a package" in page


def test_error_detail_shows_the_payload_and_the_right_actions(
    admin_client_a: Client, errors: dict[str, OrderError]
) -> None:
    unknown = admin_client_a.get(f"{SHOP}errors/{errors['unknown_product'].public_id}/")
    missing = admin_client_a.get(f"{SHOP}errors/{errors['customer_not_found'].public_id}/")

    assert (unknown.context["can_map"], unknown.context["can_link"]) == (True, False)
    assert (missing.context["can_map"], missing.context["can_link"]) == (False, True)
    assert "Tutoring – 3 hours" in unknown.content.decode()


def test_map_the_product_to_a_package_and_reprocess(
    admin_client_a: Client, errors: dict[str, OrderError], ten_hours: Package, tenant_a: Tenant
) -> None:
    error = errors["unknown_product"]

    response = admin_client_a.post(
        f"{SHOP}errors/{error.public_id}/", {"action": "map", "package": ten_hours.public_id}
    )

    assert response.status_code == 302
    assert response.url == f"{SHOP}errors/"
    assert messages_of(response, earlier_too=True) == ["Done: granted 10 h for line 315."]
    assert PackageShopMapping.objects.filter(
        package=ten_hours, kind=ShopKey.PRODUCT, value="999"
    ).exists()
    [grant] = grants_of(727)
    assert (grant.total, grant.student.email) == (600, "maya@example.net")
    error.refresh_from_db()
    assert (error.resolved_by, error.resolution_note) == (
        tenant_a.admin,
        "Mapped product id 999 to Ten hours",
    )
    assert error.resolved_at is not None
    assert find_differences() == []


def test_map_a_variation_maps_the_variation_not_its_product(
    admin_client_a: Client, shop: Shop, ten_hours: Package
) -> None:
    shop.post(
        woo.order(status="completed", lines=[woo.line(product_id=777, variation_id=778, sku=None)])
    )
    error = OrderError.objects.get()

    response = admin_client_a.post(
        f"{SHOP}errors/{error.public_id}/", {"action": "map", "package": ten_hours.public_id}
    )

    assert response.status_code == 302
    assert list(
        PackageShopMapping.objects.filter(package=ten_hours).values_list("kind", "value")
    ) == [(ShopKey.PRODUCT, "101"), (ShopKey.VARIATION, "778")]
    assert [g.total for g in grants_of()] == [600]
    assert find_differences() == []


def test_map_to_a_key_that_sells_another_package_is_refused(
    admin_client_a: Client, errors: dict[str, OrderError], ten_hours: Package, tenant_a: Tenant
) -> None:
    from tests.integrations.conftest import make_package

    other = make_package(tenant_a, name="Mugs", quantity=1, keys=[])
    PackageShopMapping.objects.create(
        organization=tenant_a.organization, package=other, kind=ShopKey.PRODUCT, value="999"
    )
    # The line's product is now mapped, but to a package no longer offered.
    package_set_active(actor=tenant_a.admin, package=other, active=False)
    error = errors["unknown_product"]

    response = admin_client_a.post(
        f"{SHOP}errors/{error.public_id}/", {"action": "map", "package": ten_hours.public_id}
    )

    assert response.status_code == 200
    assert response.context["forms"]["map"].non_field_errors() == [
        "That product already sells another package."
    ]
    assert not Grant.objects.exists()
    error.refresh_from_db()
    assert error.resolved_at is None


def test_map_to_a_package_of_another_organization_is_refused(
    admin_client_a: Client, errors: dict[str, OrderError], tenant_b: Tenant
) -> None:
    from tests.integrations.conftest import make_package

    foreign = make_package(tenant_b, name="Beta hours", quantity=600, keys=[])
    error = errors["unknown_product"]

    response = admin_client_a.post(
        f"{SHOP}errors/{error.public_id}/", {"action": "map", "package": foreign.public_id}
    )

    assert response.status_code == 200
    assert "package" in response.context["forms"]["map"].errors
    assert not Grant.objects.exists()
    error.refresh_from_db()
    assert error.resolved_at is None


def test_link_the_order_to_a_student_and_reprocess(
    admin_client_a: Client, errors: dict[str, OrderError], tenant_a: Tenant
) -> None:
    error = errors["customer_not_found"]

    response = admin_client_a.post(
        f"{SHOP}errors/{error.public_id}/",
        {"action": "link", "student": tenant_a.student.public_id},
    )

    assert response.status_code == 302
    assert messages_of(response, earlier_too=True) == ["Done: granted 10 h for line 316."]
    assert [g.student for g in grants_of(728)] == [tenant_a.student]
    assert Order.objects.get(order_id=728).student == tenant_a.student
    error.refresh_from_db()
    assert error.resolution_note == f"Linked to {tenant_a.student.name}"
    assert find_differences() == []


def test_link_to_a_student_of_another_organization_is_refused(
    admin_client_a: Client, errors: dict[str, OrderError], tenant_b: Tenant
) -> None:
    error = errors["customer_not_found"]

    response = admin_client_a.post(
        f"{SHOP}errors/{error.public_id}/",
        {"action": "link", "student": tenant_b.student.public_id},
    )

    assert response.status_code == 200
    assert "student" in response.context["forms"]["link"].errors
    assert not Grant.objects.exists()


def test_link_and_reprocess_when_the_shop_fails_changes_nothing_and_says_why(
    admin_client_a: Client, keyed_shop: Shop, shop_api: ShopAPI, tenant_a: Tenant
) -> None:
    # An unknown customer's order with a partial refund: the refund waits for the customer,
    # and linking one fetches its lines, which fails while the shop's API is down.
    Store.objects.filter(pk=keyed_shop.store.pk).update(create_unknown_customers=False)
    keyed_shop.store.refresh_from_db()
    keyed_shop.post(
        woo.order(
            status="completed",
            email="nobody@example.net",
            refunds=[{"id": 1240, "reason": "Changed plans", "total": "-450.00"}],
        )
    )
    error = OrderError.objects.get(kind=ErrorKind.CUSTOMER_NOT_FOUND)
    shop_api.routes["/wp-json/wc/v3/orders/727/refunds"] = lambda _r: (500, {}, {})
    url = f"{SHOP}errors/{error.public_id}/"

    response = admin_client_a.post(url, {"action": "link", "student": tenant_a.student.public_id})

    assert response.status_code == 200
    assert response.context["forms"]["link"].non_field_errors() == [
        "The order was not reprocessed and nothing changed: The shop's API answered "
        "orders/727/refunds with 500 Internal Server Error (application/json, 2 bytes). Try "
        "again in a few minutes."
    ]
    assert "Try again in a few minutes." in response.content.decode()
    assert response.context["can_link"] is True  # still open: the form is offered again
    error.refresh_from_db()
    assert (error.resolved_at, error.resolved_by, error.resolution_note) == (None, None, "")
    assert Order.objects.get().student is None
    assert not Grant.objects.exists()

    # The shop is back: the same action goes through.
    shop_api.json(
        "orders/727/refunds",
        [
            {
                "id": 1240,
                "amount": "450.00",
                "line_items": [
                    {"id": 330, "product_id": 101, "quantity": -1, "refunded_item_id": 315}
                ],
            }
        ],
    )
    done = admin_client_a.post(url, {"action": "link", "student": tenant_a.student.public_id})

    assert done.status_code == 302
    assert messages_of(done, earlier_too=True) == [
        "Done: granted 10 h for line 315; refunded 10 h of line 315."
    ]
    error.refresh_from_db()
    assert error.resolution_note == f"Linked to {tenant_a.student.name}"
    [grant] = grants_of()
    assert (grant.student, grant.total) == (tenant_a.student, 0)
    assert find_differences() == []


def test_link_on_an_error_resolved_meanwhile_leaves_the_order_alone(
    admin_client_a: Client, errors: dict[str, OrderError], tenant_a: Tenant
) -> None:
    # Another admin settled it while this page was open.
    error = errors["customer_not_found"]
    url = f"{SHOP}errors/{error.public_id}/"
    admin_client_a.post(url, {"action": "resolve", "note": "Refunded in the shop"})
    other = StudentFactory(organization=tenant_a.organization)

    response = admin_client_a.post(url, {"action": "link", "student": other.public_id})

    assert response.status_code == 200
    assert response.context["forms"]["link"].non_field_errors() == [
        "This error is already resolved."
    ]
    assert Order.objects.get(order_id=728).student is None  # the link was undone with it
    assert not Grant.objects.exists()


def test_map_on_an_error_resolved_meanwhile_leaves_no_mapping_behind(
    admin_client_a: Client, errors: dict[str, OrderError], ten_hours: Package
) -> None:
    error = errors["unknown_product"]
    url = f"{SHOP}errors/{error.public_id}/"
    admin_client_a.post(url, {"action": "resolve", "note": "Sold a gift card"})

    response = admin_client_a.post(url, {"action": "map", "package": ten_hours.public_id})

    assert response.status_code == 200
    assert response.context["forms"]["map"].non_field_errors() == [
        "This error is already resolved."
    ]
    assert not PackageShopMapping.objects.filter(kind=ShopKey.PRODUCT, value="999").exists()
    assert not Grant.objects.exists()


def test_mark_resolved_requires_a_note(
    admin_client_a: Client, errors: dict[str, OrderError], tenant_a: Tenant
) -> None:
    error = errors["unknown_product"]
    url = f"{SHOP}errors/{error.public_id}/"

    refused = admin_client_a.post(url, {"action": "resolve", "note": ""})

    assert refused.status_code == 200
    assert refused.context["forms"]["resolve"].errors == {"note": ["This field is required."]}
    error.refresh_from_db()
    assert error.resolved_at is None

    done = admin_client_a.post(url, {"action": "resolve", "note": "  Sold a gift card  "})

    assert done.status_code == 302
    assert messages_of(done, earlier_too=True) == ["Done: marked resolved."]
    error.refresh_from_db()
    assert (error.resolved_by, error.resolution_note) == (tenant_a.admin, "Sold a gift card")
    assert not Grant.objects.exists()
    page = admin_client_a.get(url).content.decode()
    assert "Sold a gift card" in page
    assert 'value="resolve"' not in page  # no form to resolve it again


def test_resolving_twice_is_refused(admin_client_a: Client, errors: dict[str, OrderError]) -> None:
    error = errors["unknown_product"]
    url = f"{SHOP}errors/{error.public_id}/"
    admin_client_a.post(url, {"action": "resolve", "note": "First"})

    again = admin_client_a.post(url, {"action": "resolve", "note": "Second"})

    assert again.status_code == 200
    assert again.context["forms"]["resolve"].non_field_errors() == [
        "This error is already resolved."
    ]
    error.refresh_from_db()
    assert error.resolution_note == "First"


# --- Deliveries ------------------------------------------------------------------------------


@pytest.fixture
def deliveries(shop: Shop) -> None:
    shop.ping()
    shop.post(woo.order(status="completed"), topic="order.created")
    shop.post(woo.order(status="completed"), topic="order.updated", secret="wrong")
    shop.post({"id": 727}, topic="order.deleted")


def test_delivery_log_filters_by_status_topic_and_signature(
    admin_client_a: Client, deliveries: None
) -> None:
    def listed(query: str = "") -> list[tuple[str, str]]:
        response = admin_client_a.get(f"{SHOP}deliveries/{query}")
        assert response.status_code == 200
        return [(d.topic, d.status) for d in response.context["page"]]

    assert listed() == [
        ("order.deleted", "processed"),
        ("order.updated", "rejected"),
        ("order.created", "processed"),
        ("ping", "ping"),
    ]
    assert listed("?status=rejected") == [("order.updated", "rejected")]
    assert listed("?topic=deleted") == [("order.deleted", "processed")]
    assert listed("?signature_valid=false") == [("order.updated", "rejected"), ("ping", "ping")]
    assert listed("?signature_valid=true&topic=order.") == [
        ("order.deleted", "processed"),
        ("order.created", "processed"),
    ]
    assert find_differences() == []


def test_delivery_detail_shows_headers_and_the_exact_body(
    admin_client_a: Client, deliveries: None
) -> None:
    delivery = Delivery.objects.get(topic="order.created")

    response = admin_client_a.get(f"{SHOP}deliveries/{delivery.public_id}/")

    page = response.content.decode()
    assert response.status_code == 200
    assert "X-WC-Webhook-Topic: order.created" in page
    assert "Tutoring \\u2013 10 hours" in page  # the body as sent, escaped the PHP way
    assert "granted 10 h for line 315" in page
    assert find_differences() == []


# --- Roles and tenants -----------------------------------------------------------------------


def console_urls(shop: Shop) -> list[str]:
    store = shop.store
    shop.post(woo.order(status="completed", lines=[woo.line(product_id=999)]))
    error, delivery = OrderError.objects.get(), Delivery.objects.get()
    return [
        SHOP,
        f"{SHOP}new/",
        f"{SHOP}errors/",
        f"{SHOP}errors/{error.public_id}/",
        f"{SHOP}deliveries/",
        f"{SHOP}deliveries/{delivery.public_id}/",
        f"{SHOP}{store.public_id}/",
        f"{SHOP}{store.public_id}/edit/",
    ]


def test_admin_sees_every_console_page(admin_client_a: Client, shop: Shop) -> None:
    for url in console_urls(shop):
        assert admin_client_a.get(url).status_code == 200, url


@pytest.mark.parametrize("persona", ["provider_client_a", "student_client_a"])
def test_providers_and_students_get_403(shop: Shop, persona: str, request) -> None:
    client = request.getfixturevalue(persona)
    for url in console_urls(shop):
        assert client.get(url).status_code == 403, url
        assert client.post(url, {"action": "resolve", "note": "x"}).status_code in (403, 405), url
    assert client.post(f"{SHOP}{shop.store.public_id}/sync/").status_code == 403
    assert OrderError.objects.get().resolved_at is None


def test_another_tenants_admin_gets_404(shop: Shop, admin_client_b: Client) -> None:
    for url in console_urls(shop):
        assert admin_client_b.get(url).status_code == 404, url
    # Through their own organization's URLs, A's objects do not exist either.
    error, delivery, store = OrderError.objects.get(), Delivery.objects.get(), shop.store
    beta = "/o/beta/shop/"
    for url in (
        f"{beta}errors/{error.public_id}/",
        f"{beta}deliveries/{delivery.public_id}/",
        f"{beta}{store.public_id}/",
        f"{beta}{store.public_id}/edit/",
    ):
        assert admin_client_b.get(url).status_code == 404, url
    assert (
        admin_client_b.post(
            f"{beta}errors/{error.public_id}/", {"action": "resolve", "note": "x"}
        ).status_code
        == 404
    )
    assert admin_client_b.post(f"{beta}{store.public_id}/sync/").status_code == 404
    error.refresh_from_db()
    assert error.resolved_at is None


def test_anonymous_is_sent_to_sign_in(shop: Shop) -> None:
    response = Client().get(f"{SHOP}errors/")

    assert response.status_code == 302
    assert response.url.startswith("/accounts/login/")


# --- Pinned query counts ---------------------------------------------------------------------


def grow_errors(shop: Shop, n: int) -> None:
    """n errors of every kind, half about a known order, some resolved by the admin."""
    org_id, store = shop.store.organization_id, shop.store
    admin = UserFactory()
    kinds = list(ErrorKind.values)
    for i in range(OrderError.objects.count(), n):
        order = (
            Order.objects.create(
                organization_id=org_id, store=store, order_id=2000 + i, number=f"A-{2000 + i}"
            )
            if i % 2
            else None
        )
        OrderError.objects.create(
            organization_id=org_id,
            store=store,
            order=order,
            kind=kinds[i % len(kinds)],
            subject=f"s{i}",
            message=f"Problem {i}",
            payload={"id": i},
            resolved_by=admin if i % 5 == 0 else None,
        )


def grow_deliveries(shop: Shop, n: int) -> None:
    statuses = list(DeliveryStatus.values)
    for i in range(Delivery.objects.count(), n):
        Delivery.objects.create(
            organization_id=shop.store.organization_id,
            store=shop.store,
            topic="order.updated",
            body=woo.php_json(woo.order(order_id=3000 + i)),
            headers={"X-WC-Webhook-Topic": "order.updated"},
            signature_valid=i % 3 != 0,
            status=statuses[i % len(statuses)],
            outcome=f"outcome {i}",
        )


PINNED = {
    "errors/": 3,
    "errors/?kind=unknown_product&state=": 3,
    "deliveries/": 3,
    "deliveries/?status=processed&signature_valid=true": 3,
}


@pytest.mark.parametrize("page", list(PINNED))
def test_console_lists_run_a_pinned_number_of_queries(
    admin_client_a: Client, shop: Shop, page: str
) -> None:
    grow: Callable[[Shop, int], None] = (
        grow_errors if page.startswith("errors") else (grow_deliveries)
    )
    counts = []
    for rows in (3, 30):
        grow(shop, rows)
        admin_client_a.get(SHOP + page)  # warm the session
        with CaptureQueriesContext(connection) as queries:
            response = admin_client_a.get(SHOP + page)
        assert response.status_code == 200
        assert len(response.context["page"]) > 0
        counts.append(len(queries))

    assert counts == [PINNED[page], PINNED[page]]


def test_a_student_created_elsewhere_does_not_change_the_link_choices_of_another_org(
    admin_client_a: Client, errors: dict[str, OrderError], tenant_b: Tenant
) -> None:
    StudentFactory(organization=tenant_b.organization, name="Beta Only Student")

    page = admin_client_a.get(
        f"{SHOP}errors/{errors['customer_not_found'].public_id}/"
    ).content.decode()

    assert "Beta Only Student" not in page


@pytest.mark.usefixtures("broker_unreachable")
def test_store_sync_with_the_broker_down_says_it_could_not_start(
    admin_client_a: Client, keyed_shop: Shop
) -> None:
    response = admin_client_a.post(f"{SHOP}{keyed_shop.store.public_id}/sync/")

    assert response.status_code == 302
    assert messages_of(response, earlier_too=True) == [
        "The catch-up could not start. It runs on its own every 15 minutes; try again in a few "
        "minutes if you need it sooner."
    ]
    keyed_shop.store.refresh_from_db()
    assert keyed_shop.store.last_synced_at is None
