"""A small client for the shop's REST API (v3), authenticated with the store's consumer key
and secret (HTTP Basic over HTTPS, as WooCommerce expects).

It fetches the shop and nothing else: every request goes through `matchpal.outbound`, which
connects only to public addresses (checked at every request, since DNS can change), follows no
redirect (it would carry the keys elsewhere), and bounds the answer's time and size. What the
shop answered is shown to admins only as WooCommerce's own error object ({"code", "message"})
or as a summary (status, content type, size), never as the body of an answer nobody expected.
"""

import base64
import re
import urllib.parse
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from django.conf import settings

from integrations.woocommerce import bodies
from integrations.woocommerce.models import Store
from matchpal import outbound

PAGE_SIZE = 50
API_PATH = "/wp-json/wc/v3/"
FIX_THE_URL = "Correct the store URL in the store's settings"
# WooCommerce's error codes are identifiers (woocommerce_rest_cannot_view, rest_no_route).
ERROR_CODE = re.compile(r"[A-Za-z0-9_.:-]{1,100}")


class ShopAPIError(Exception):
    def __init__(
        self, message: str, *, status: int | None = None, error: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status  # the shop's HTTP status when it answered, None when it did not
        # WooCommerce's error object ({"code": …, "message": …}) when the shop sent one:
        # revoked keys, missing rights — something an admin must fix, unlike a timeout.
        self.error = error


class ShopRefused(ShopAPIError):
    """The store URL or the shop's answer is something only an admin can fix (an address
    that is not public, a redirect, an answer too large): trying again will not help."""

    def __init__(self, message: str, *, code: str, advice: str, status: int | None = None) -> None:
        super().__init__(message, status=status)
        self.code = code
        self.advice = advice  # what the admin can do, as a sentence without its full stop


def _describe(error: dict[str, Any]) -> str:
    message = str(error.get("message") or "").strip().rstrip(".")
    return f"{error['code']} ({message})" if message else str(error["code"])


def _error_object(raw: bytes) -> dict[str, Any] | None:
    try:
        body = bodies.parse(raw)
    except bodies.UnreadableBody:
        return None
    return error_object(body)


def error_object(body: Any) -> dict[str, Any] | None:
    """WooCommerce's error object, reduced to its code and message, when that is what `body`
    is; None for anything else (which is then only summarised)."""
    if not isinstance(body, dict):
        return None
    code, message = body.get("code"), body.get("message")
    if not isinstance(code, str) or not ERROR_CODE.fullmatch(code):
        return None
    message = " ".join(message.split())[:300] if isinstance(message, str) else ""
    return {"code": code, "message": message}


def api_url(store: Store, path: str, params: dict[str, Any] | None = None) -> str:
    # The store URL is checked first: a "#" or "?" in it would cut off or bend the path
    # appended here (a store saved before these checks, or changed outside the form).
    outbound.parse_url(store.store_url, allow_query=False)
    url = store.store_url.rstrip("/") + API_PATH + path.lstrip("/")
    if params:
        url += "?" + urllib.parse.urlencode(params)
    return url


def _get(
    store: Store, path: str, params: dict[str, Any] | None = None
) -> tuple[Any, outbound.Answer]:
    credentials = f"{store.consumer_key}:{store.consumer_secret}".encode()
    try:
        answer = outbound.get(
            api_url(store, path, params),
            headers={
                "Authorization": "Basic " + base64.b64encode(credentials).decode("ascii"),
                "Accept": "application/json",
                "User-Agent": "Matchpal",
            },
            allow_private=settings.MATCHPAL_SHOP_ALLOW_PRIVATE_ADDRESSES,
        )
    except outbound.AddressRefused as exc:
        raise ShopRefused(
            f"The shop's API was not called: {exc.message.rstrip('.')}",
            code="address_refused",
            advice=FIX_THE_URL,
        ) from exc
    except outbound.AnswerTooLarge as exc:
        raise ShopRefused(
            f"The shop's API answered {path} with too much: {exc.message}",
            code="too_large",
            advice="Check what the shop's REST API sends (a plugin may add to every order)",
        ) from exc
    except outbound.OutboundError as exc:
        raise ShopAPIError(f"The shop's API did not answer {path}: {exc.message}") from exc
    if 300 <= answer.status < 400:
        location = answer.headers.get("Location") or ""
        target = (
            f" to {location[:200]}"
            if location.startswith(("http://", "https://")) and location.isprintable()
            else ""
        )
        raise ShopRefused(
            f"The shop's API answered {path} with a redirect ({answer.status}){target}. "
            "Redirects are not followed",
            code="redirect",
            advice="Set the store URL to the address the shop redirects to",
            status=answer.status,
        )
    if not 200 <= answer.status < 300:
        error = _error_object(answer.body)
        detail = f"{answer.status}: {_describe(error)}" if error else answer.summary()
        raise ShopAPIError(
            f"The shop's API answered {path} with {detail}", status=answer.status, error=error
        )
    try:
        # Read like a delivery's body (bodies.py): the orders the catch-up applies are stored.
        return bodies.parse(answer.body), answer
    except bodies.UnreadableBody as exc:
        raise ShopAPIError(
            f"The shop's API answered {path} with a body we cannot read ({exc.reason}): "
            f"{answer.summary()}",
            status=answer.status,
        ) from exc


def _unexpected(path: str, expected: str, answer: outbound.Answer, *, code: str) -> ShopAPIError:
    """A 200 that is not what was asked for (an error object from a security plugin, some
    other JSON): never read as data, and never shown beyond a summary."""
    error = _error_object(answer.body)
    if error:
        return ShopAPIError(
            f"The shop's API answered {path} with {_describe(error)}",
            status=answer.status,
            error=error,
        )
    summary = f"something other than {expected}: {answer.summary()}"
    return ShopAPIError(
        f"The shop's API answered {path} with {summary}",
        status=answer.status,
        error={"code": code, "message": summary},
    )


def fetch_order(store: Store, order_id: int) -> dict[str, Any]:
    path = f"orders/{int(order_id)}"
    order, answer = _get(store, path)
    if not isinstance(order, dict) or "code" in order or order.get("id") != int(order_id):
        raise _unexpected(path, "an order", answer, code="not_an_order")
    return order


def fetch_refunds(store: Store, order_id: int) -> list[dict[str, Any]]:
    path = f"orders/{int(order_id)}/refunds"
    refunds, answer = _get(store, path)
    if not isinstance(refunds, list):
        raise _unexpected(path, "a list of refunds", answer, code="not_a_list")
    return [refund for refund in refunds if isinstance(refund, dict)]


def order_pages(store: Store, *, modified_after: datetime) -> Iterator[list[Any]]:
    """The orders modified after `modified_after` (UTC), oldest first, one page at a time, so
    a caller keeps what it applied when a later page fails."""
    page = 1
    while True:
        batch, answer = _get(
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
            raise _unexpected("orders", "a list of orders", answer, code="not_a_list")
        yield batch
        total_pages = answer.headers.get("X-WP-TotalPages") or "1"
        if page >= (int(total_pages) if total_pages.isdigit() else 1) or not batch:
            return
        page += 1
