"""Deliveries built exactly as WooCommerce builds them (see shared/woocommerce.md)."""

import json
import secrets
from typing import Any

from django.test import Client

from integrations.woocommerce.signature import sign


def php_json(payload: Any) -> bytes:
    """PHP's json_encode: no whitespace, `/` escaped as `\\/`, non-ASCII as `\\uXXXX`."""
    return (
        json.dumps(payload, separators=(",", ":"), ensure_ascii=True).replace("/", "\\/").encode()
    )


def headers(
    *,
    topic: str,
    secret: str | None,
    body: bytes,
    webhook_id: int = 7,
    source: str = "https://shop.example.org/",
) -> dict[str, str]:
    resource, _, event = topic.partition(".")
    values = {
        "HTTP_USER_AGENT": "WooCommerce/10.5.0 Hookshot (WordPress/6.9)",
        "HTTP_X_WC_WEBHOOK_SOURCE": source,
        "HTTP_X_WC_WEBHOOK_TOPIC": topic,
        "HTTP_X_WC_WEBHOOK_RESOURCE": resource,
        "HTTP_X_WC_WEBHOOK_EVENT": event,
        "HTTP_X_WC_WEBHOOK_ID": str(webhook_id),
        "HTTP_X_WC_WEBHOOK_DELIVERY_ID": secrets.token_hex(16),
    }
    if secret is not None:
        values["HTTP_X_WC_WEBHOOK_SIGNATURE"] = sign(body, secret)
    return values


def post(
    client: Client,
    url: str,
    *,
    topic: str,
    payload: Any = None,
    secret: str | None,
    body: bytes | None = None,
):  # type: ignore[no-untyped-def]
    body = php_json(payload) if body is None else body
    return client.generic(
        "POST",
        url,
        body,
        content_type="application/json",
        **headers(topic=topic, secret=secret, body=body),
    )


def order(
    *,
    order_id: int = 727,
    status: str = "processing",
    email: str = "maya@example.net",
    modified: str = "2026-03-10T14:21:05",
    lines: list[dict[str, Any]] | None = None,
    refunds: list[dict[str, Any]] | None = None,
    number: str | None = None,
    first_name: str = "Maya",
    last_name: str = "Patel",
) -> dict[str, Any]:
    paid = status in ("processing", "completed", "refunded")
    return {
        "id": order_id,
        "parent_id": 0,
        "number": number or str(order_id),
        "status": status,
        "currency": "USD",
        "customer_id": 0,
        "total": "450.00",
        "date_created_gmt": "2026-03-10T14:20:00",
        "date_modified_gmt": modified,
        "date_paid_gmt": "2026-03-10T14:21:00" if paid else None,
        "date_completed_gmt": None,
        "billing": {
            "first_name": first_name,
            "last_name": last_name,
            "email": email,
            "phone": "+1 555 0100",
        },
        "line_items": lines if lines is not None else [line()],
        "refunds": refunds or [],
        "meta_data": [],
    }


def line(
    *,
    item_id: int = 315,
    product_id: int = 101,
    variation_id: int = 0,
    quantity: int = 1,
    sku: str | None = "TUT-10",
    name: str = "Tutoring – 10 hours",
    total: str = "450.00",
) -> dict[str, Any]:
    return {
        "id": item_id,
        "name": name,
        "product_id": product_id,
        "variation_id": variation_id,
        "quantity": quantity,
        "sku": sku,
        "subtotal": total,
        "total": total,
        "price": float(total) / quantity,
        "meta_data": [],
    }
