"""The webhook signature, both ways: ERPs sign the gate calls they send, and creditgate signs
the callbacks it sends them (`X-Creditgate-Signature: t=<unix>,v1=<hex HMAC-SHA256 of
"<t>.<raw body>">`)."""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "X-Creditgate-Signature"
SIGNATURE_WINDOW = 300  # seconds either side of the receiver's clock


def sign(secret: str, body: bytes, timestamp: int) -> str:
    """The header value for `body` sent at `timestamp` (Unix seconds)."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def verify_signature(secret: str, header: str | None, body: bytes, now: float) -> str | None:
    """Check `t=<unix>,v1=<hex>` over "<t>.<body>"; return what is wrong, or None if it is good."""
    if not header:
        return f"this client signs its requests: send {SIGNATURE_HEADER}"
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    stamp, given = parts.get("t", ""), parts.get("v1", "")
    # ASCII digits only, and no more than a Unix time has: int() and float() must not choke.
    if not (stamp.isascii() and stamp.isdigit() and len(stamp) <= 12) or not given:
        return f"{SIGNATURE_HEADER} must look like t=<unix seconds>,v1=<hex HMAC-SHA256>"
    if abs(now - int(stamp)) > SIGNATURE_WINDOW:
        return "signature timestamp is outside the 5-minute window (replayed or clock skew)"
    expected = hmac.new(secret.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, given.strip().lower()):
        return "signature does not match the request body"
    return None
