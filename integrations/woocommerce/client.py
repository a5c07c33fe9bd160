"""A small client for the shop's REST API (v3), authenticated with the store's consumer key
and secret (HTTP Basic over HTTPS, as WooCommerce expects)."""

import base64
import json
import urllib.error
import urllib.parse
import urllib.request
from datetime import datetime
from typing import Any

from integrations.woocommerce.models import Store

TIMEOUT_SECONDS = 30
PAGE_SIZE = 50


class ShopAPIError(Exception):
    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status  # the shop's HTTP status when it answered, None when it did not


def _get(store: Store, path: str, params: dict[str, Any] | None = None) -> tuple[Any, dict]:
    base = store.store_url.rstrip("/") + "/wp-json/wc/v3/"
    url = base + path.lstrip("/")
    if params:
        url += "?" + urllib.parse.urlencode(params)
    credentials = f"{store.consumer_key}:{store.consumer_secret}".encode()
    request = urllib.request.Request(  # noqa: S310 (https or http URL of the store)
        url,
        headers={
            "Authorization": "Basic " + base64.b64encode(credentials).decode("ascii"),
            "Accept": "application/json",
            "User-Agent": "Matchpal",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310
            return json.loads(response.read()), dict(response.headers)
    except urllib.error.HTTPError as exc:
        raise ShopAPIError(
            f"The shop's API answered {path} with {exc.code}: {exc.reason}", status=exc.code
        ) from exc
    except (OSError, ValueError) as exc:
        raise ShopAPIError(f"The shop's API did not answer {path}: {exc}") from exc


def fetch_order(store: Store, order_id: int) -> dict[str, Any]:
    order, _ = _get(store, f"orders/{int(order_id)}")
    return order


def fetch_refunds(store: Store, order_id: int) -> list[dict[str, Any]]:
    refunds, _ = _get(store, f"orders/{int(order_id)}/refunds")
    return refunds


def orders_modified_since(store: Store, since: datetime) -> list[dict[str, Any]]:
    """Every order modified after `since` (UTC), all pages."""
    orders: list[dict[str, Any]] = []
    page = 1
    while True:
        batch, headers = _get(
            store,
            "orders",
            {
                "modified_after": since.strftime("%Y-%m-%dT%H:%M:%S"),
                "dates_are_gmt": "true",
                "per_page": PAGE_SIZE,
                "page": page,
                "orderby": "modified",
                "order": "asc",
            },
        )
        orders.extend(batch)
        total_pages = int(headers.get("X-WP-TotalPages") or headers.get("x-wp-totalpages") or 1)
        if page >= total_pages or not batch:
            return orders
        page += 1
