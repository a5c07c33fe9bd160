"""Reading what the shop sends: its dates, its ids, whether a body is an order."""

from datetime import UTC, datetime
from typing import Any


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
