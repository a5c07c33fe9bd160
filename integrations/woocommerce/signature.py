"""WooCommerce's delivery signature: base64(HMAC-SHA256(secret, raw body))."""

import base64
import hashlib
import hmac


def sign(body: bytes, secret: str) -> str:
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def is_valid(body: bytes, secret: str, signature: str | None) -> bool:
    """Compare over the exact raw bytes, in constant time; re-serialised JSON never matches."""
    if not signature:
        return False
    return hmac.compare_digest(
        sign(body, secret).encode("ascii"), signature.strip().encode("ascii", errors="replace")
    )
