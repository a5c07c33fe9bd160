"""A small client for the shop's REST API (v3), authenticated with the store's consumer key
and secret (HTTP Basic over HTTPS, as WooCommerce expects)."""

import base64
import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from integrations.woocommerce.models import Store

TIMEOUT_SECONDS = 30
PAGE_SIZE = 50


class ShopAPIError(Exception):
    def __init__(
        self, message: str, *, status: int | None = None, error: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status  # the shop's HTTP status when it answered, None when it did not
        # WooCommerce's error object ({"code": …, "message": …}) when the shop sent one:
        # revoked keys, missing rights — something an admin must fix, unlike a timeout.
        self.error = error


def _describe(error: dict[str, Any]) -> str:
    message = str(error.get("message") or "").strip().rstrip(".")
    return f"{error['code']} ({message})" if message else str(error["code"])


def _error_object(raw: bytes) -> dict[str, Any] | None:
    try:
        body = json.loads(raw)
    except ValueError:
        return None
    return body if isinstance(body, dict) and body.get("code") else None


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
        error = _error_object(exc.read())
        detail = _describe(error) if error else exc.reason
        raise ShopAPIError(
            f"The shop's API answered {path} with {exc.code}: {detail}",
            status=exc.code,
            error=error,
        ) from exc
    except (OSError, ValueError) as exc:
        raise ShopAPIError(f"The shop's API did not answer {path}: {exc}") from exc


def fetch_order(store: Store, order_id: int) -> dict[str, Any]:
    order, _ = _get(store, f"orders/{int(order_id)}")
    return order


def fetch_refunds(store: Store, order_id: int) -> list[dict[str, Any]]:
    refunds, _ = _get(store, f"orders/{int(order_id)}/refunds")
    return refunds


def order_pages(store: Store, *, modified_after: datetime) -> Iterator[list[Any]]:
    """The orders modified after `modified_after` (UTC), oldest first, one page at a time, so
    a caller keeps what it applied when a later page fails."""
    page = 1
    while True:
        batch, headers = _get(
            store,
            "orders",
            {
                "modified_after": modified_after.strftime("%Y-%m-%dT%H:%M:%S"),
                "dates_are_gmt": "true",
                "per_page": PAGE_SIZE,
                "page": page,
                "orderby": "modified",
                "order": "asc",
            },
        )
        if not isinstance(batch, list):
            # A 200 whose body is not a list of orders (an error object from a security
            # plugin, a maintenance page's JSON): never read a dict's keys as orders.
            error = batch if isinstance(batch, dict) and batch.get("code") else None
            raise ShopAPIError(
                "The shop's API answered orders with "
                + (_describe(error) if error else "something other than a list of orders"),
                status=200,
                error=error or {"code": "not_a_list", "message": str(batch)[:200]},
            )
        yield batch
        total_pages = int(headers.get("X-WP-TotalPages") or headers.get("x-wp-totalpages") or 1)
        if page >= total_pages or not batch:
            return
        page += 1
