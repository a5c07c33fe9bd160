"""Reading what the shop sends: its dates, its ids, whether a body is an order."""

from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from grants.models import MAX_PRICE, ShopKey


def parse_gmt(value: Any) -> datetime | None:
    """WooCommerce's `_gmt` dates: `2026-03-10T14:21:05`, UTC, without a `Z`."""
    if not value or not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.rstrip("Z"))
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed


# Ids are stored in bigint columns; a larger one is no shop's order id.
MAX_ID = 2**63 - 1


def order_id_of(value: Any) -> int | None:
    """An order id: an int, or (in `order.deleted`) a digit string."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int) and 0 < value <= MAX_ID:
        return value
    if isinstance(value, str) and value.isdigit() and len(value) < 20 and 0 < int(value) <= MAX_ID:
        return int(value)
    return None


def is_order(payload: Any) -> bool:
    return (
        isinstance(payload, dict)
        and "code" not in payload
        and isinstance(payload.get("id"), int)
        and not isinstance(payload.get("id"), bool)
        and 0 < payload["id"] <= MAX_ID
    )


def shop_keys(line: dict[str, Any]) -> list[tuple[str, str]]:
    """The keys that map an order line to a package, most specific first: its variation (when
    not 0), its product, its SKU."""
    keys: list[tuple[str, str]] = []
    variation = order_id_of(line.get("variation_id"))
    if variation:
        keys.append((ShopKey.VARIATION, str(variation)))
    product = order_id_of(line.get("product_id"))
    if product:
        keys.append((ShopKey.PRODUCT, str(product)))
    if line.get("sku"):
        keys.append((ShopKey.SKU, str(line["sku"])))
    return keys


def line_total(line: dict[str, Any]) -> Decimal | None:
    """What the customer paid for an order line: its `total` (after discounts, before tax, as
    WooCommerce sends it: a string like "45.00"), to the cent (halves up); None when it is missing,
    malformed, negative or beyond a grant's price (the grant is then priced from its package)."""
    value = line.get("total")
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return None
    try:
        amount = Decimal(str(value)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    except (InvalidOperation, ValueError):
        return None
    if not amount.is_finite() or not Decimal(0) <= amount < MAX_PRICE:
        return None
    return amount
