"""The WooCommerce tests' world: organization A's admin, packages mapped to shop products, a
connected store, deliveries posted the way WooCommerce posts them (with the task run eagerly on
commit, as the worker would), and a local HTTP server playing the shop's REST API."""

import base64
import json
import math
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client, override_settings

from grants import services as ledger
from grants.models import Grant, Package, ShopKey
from integrations.woocommerce.models import Delivery, Store
from matchpal.models import ServiceType
from tests.integrations import woo
from tests.support import Tenant

SAME_SECRET = object()


def make_package(
    tenant: Tenant,
    *,
    name: str,
    quantity: int,
    unit: str = "minutes",
    keys: list[tuple[str, str]],
    validity_days: int | None = None,
) -> Package:
    """A package made the way an admin makes one (validity none by default: the deliveries are
    dated March 2026, and an expiring grant would not stay usable for the hold tests)."""
    org = tenant.organization
    return ledger.package_save(
        actor=tenant.admin,
        organization=org,
        name=name,
        quantity=quantity,
        unit=unit,
        validity_days=validity_days,
        price="450.00",
        service_types=list(ServiceType.objects.filter(organization=org, name="Tutoring")),
        shop_keys=keys,
    )


@pytest.fixture
def ten_hours(tenant_a: Tenant) -> Package:
    """Product 101 sells ten hours."""
    return make_package(tenant_a, name="Ten hours", quantity=600, keys=[(ShopKey.PRODUCT, "101")])


@dataclass
class Shop:
    """A connected store and a way to post to its delivery URL."""

    store: Store
    capture: Callable[..., Any]
    client: Client = field(default_factory=Client)
    callbacks: list[Any] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.store.delivery_path

    def post(
        self,
        payload: Any = None,
        *,
        topic: str = "order.updated",
        body: bytes | None = None,
        secret: Any = SAME_SECRET,
        url: str | None = None,
    ):  # type: ignore[no-untyped-def]
        """Post a delivery; the task enqueued on commit runs at once (eager Celery)."""
        with self.capture(execute=True) as callbacks:
            response = woo.post(
                self.client,
                url or self.url,
                topic=topic,
                payload=payload,
                body=body,
                secret=self.store.webhook_secret if secret is SAME_SECRET else secret,
            )
        self.callbacks = callbacks
        return response

    def ping(self, url: str | None = None):  # type: ignore[no-untyped-def]
        """WooCommerce's activation ping: form-encoded, unsigned, no X-WC headers."""
        with self.capture(execute=True) as callbacks:
            response = self.client.generic(
                "POST",
                url or self.url,
                b"webhook_id=7",
                content_type="application/x-www-form-urlencoded",
                HTTP_USER_AGENT="WooCommerce/10.5.0 Hookshot (WordPress/6.9)",
            )
        self.callbacks = callbacks
        return response

    def last_delivery(self) -> Delivery:
        return Delivery.objects.filter(store=self.store).order_by("-pk").first()

    def statuses(self) -> list[tuple[str, str]]:
        return list(
            Delivery.objects.filter(store=self.store)
            .order_by("pk")
            .values_list("status", "outcome")
        )


@pytest.fixture
def shop(tenant_a: Tenant, ten_hours: Package, django_capture_on_commit_callbacks) -> Shop:
    store = Store.objects.create(
        organization=tenant_a.organization, name="Alpha shop", store_url="https://shop.example.org/"
    )
    return Shop(store=store, capture=django_capture_on_commit_callbacks)


def grants_of(order_id: int = 727) -> list[Grant]:
    return list(Grant.objects.filter(reference=f"Order #{order_id}").order_by("pk"))


# --- The shop's REST API, served on loopback -----------------------------------------------


@dataclass
class ShopRequest:
    path: str
    query: dict[str, str]
    headers: dict[str, str]

    @property
    def basic_auth(self) -> tuple[str, str] | None:
        value = self.headers.get("Authorization", "")
        if not value.startswith("Basic "):
            return None
        key, _, secret = base64.b64decode(value[6:]).decode().partition(":")
        return key, secret


# A route answers (status, JSON-able body, extra headers) for a request.
Route = Callable[[ShopRequest], tuple[int, Any, dict[str, str]]]


@dataclass
class ShopAPI:
    base_url: str
    routes: dict[str, Route] = field(default_factory=dict)
    requests: list[ShopRequest] = field(default_factory=list)

    def json(self, path: str, body: Any, headers: dict[str, str] | None = None) -> None:
        """Serve `body` at `/wp-json/wc/v3/<path>`."""
        self.routes[f"/wp-json/wc/v3/{path}"] = lambda _request: (200, body, headers or {})

    def orders(self, orders: list[Any]) -> None:
        """Serve `orders` (a list the test may change between runs) at `/orders` the way
        WooCommerce answers the catch-up: modified after `modified_after`, oldest first,
        `per_page` a page, with the X-WP-Total and X-WP-TotalPages headers. An entry without
        a date (an error object a plugin slipped in) is always listed."""

        def route(request: ShopRequest) -> tuple[int, Any, dict[str, str]]:
            after = request.query.get("modified_after", "")
            matching = sorted(
                (
                    o
                    for o in orders
                    if "date_modified_gmt" not in o or o["date_modified_gmt"] > after
                ),
                key=lambda o: o.get("date_modified_gmt") or "",
            )
            per_page, page = int(request.query["per_page"]), int(request.query["page"])
            return (
                200,
                matching[(page - 1) * per_page : page * per_page],
                {
                    "X-WP-Total": str(len(matching)),
                    "X-WP-TotalPages": str(max(1, math.ceil(len(matching) / per_page))),
                },
            )

        self.routes["/wp-json/wc/v3/orders"] = route


@pytest.fixture
def shop_api() -> Iterator[ShopAPI]:
    api = ShopAPI(base_url="")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            request = ShopRequest(
                path=parts.path,
                query={k: v[0] for k, v in parse_qs(parts.query).items()},
                headers=dict(self.headers.items()),
            )
            api.requests.append(request)
            route = api.routes.get(parts.path)
            if route is None:
                status, body, headers = (
                    404,
                    {
                        "code": "rest_no_route",
                        "message": "No route was found.",
                        "data": {"status": 404},
                    },
                    {},
                )
            else:
                status, body, headers = route(request)
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=UTF-8")
            self.send_header("Content-Length", str(len(data)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    api.base_url = f"http://127.0.0.1:{server.server_address[1]}/"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        # The shop is played on loopback, which store URLs may point at only where the
        # server allows private addresses (test_outbound.py: refused otherwise).
        with override_settings(MATCHPAL_SHOP_ALLOW_PRIVATE_ADDRESSES=True):
            yield api
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


CONSUMER_KEY = "ck_4f1b2c3d4e5f60718293a4b5c6d7e8f901234567"
CONSUMER_SECRET = "cs_0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1b"


@pytest.fixture
def keyed_shop(shop: Shop, shop_api: ShopAPI) -> Shop:
    """The store with REST API keys, its `store_url` pointing at the local shop API."""
    shop.store.store_url = shop_api.base_url
    shop.store.consumer_key, shop.store.consumer_secret = CONSUMER_KEY, CONSUMER_SECRET
    shop.store.save()
    return shop
