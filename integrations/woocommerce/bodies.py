"""Reading JSON we did not write (a delivery's body, an answer of the shop's API) into values
every later step can store and walk.

A signed body is the shop's, but what it holds is whatever a customer or a plugin typed: a
NUL character (`\\u0000`), which PostgreSQL refuses in text and jsonb, a lone UTF-16
surrogate, which it refuses too, a nesting deep enough to exhaust Python's parser
(RecursionError), or NaN and numbers beyond a double, which Python reads but jsonb does not.
Any of these, met half-way through processing, used to leave a delivery `received` for ever.
So bodies are read here, once, with a depth limit, refusing what is not JSON and replacing
the characters nothing can store; the exact bytes stay in `Delivery.body` (bytea).
"""

import json
import re
from typing import Any

MAX_DEPTH = 64  # an order nests 4 or 5 levels; meta values a few more
EXCERPT_CHARS = 2000

# Reasons, as the outcome and the order error say them.
NOT_JSON = "the body is not JSON"
TOO_DEEP = f"the body nests deeper than {MAX_DEPTH} levels"
OUT_OF_RANGE = "the body holds a number too large for JSON"

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
# A JSON string (skipped whole, so brackets inside it do not count) or a bracket.
_TOKENS = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]', re.DOTALL)


class UnreadableBody(ValueError):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def clean_text(value: str) -> str:
    """NUL and lone surrogates as U+FFFD: text PostgreSQL can store, still showing where they
    were."""
    return _UNSTORABLE.sub("\ufffd", value)


def _too_deep(raw: bytes) -> bool:
    if raw.count(b"[") + raw.count(b"{") <= MAX_DEPTH:
        return False
    depth = 0
    for token in _TOKENS.finditer(raw):
        bracket = token.group()
        if bracket in (b"[", b"{"):
            depth += 1
            if depth > MAX_DEPTH:
                return True
        elif bracket in (b"]", b"}"):
            depth -= 1
    return False


def _finite(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise UnreadableBody(OUT_OF_RANGE)
    return value


def _not_json(_name: str) -> Any:
    raise UnreadableBody(NOT_JSON)  # NaN, Infinity, -Infinity: Python's extension, not JSON


def _clean(value: Any) -> Any:
    # Depth is bounded by MAX_DEPTH, so this recursion is too.
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, list):
        return [_clean(item) for item in value]
    if isinstance(value, dict):
        return {clean_text(key): _clean(item) for key, item in value.items()}
    return value


def parse(raw: bytes) -> Any:
    """The JSON value of `raw`, every string storable; UnreadableBody says why not."""
    if _too_deep(raw):
        raise UnreadableBody(TOO_DEEP)
    try:
        value = json.loads(raw, parse_float=_finite, parse_constant=_not_json)
    except UnreadableBody:
        raise
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        raise UnreadableBody(NOT_JSON) from None
    return _clean(value)


def excerpt(raw: bytes) -> str:
    """The start of a body as text an order error can store and a page can show."""
    return clean_text(raw[: EXCERPT_CHARS * 4].decode("utf-8", errors="replace"))[:EXCERPT_CHARS]
