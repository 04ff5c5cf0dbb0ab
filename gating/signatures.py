"""The webhook signature, both ways: ERPs sign the gate calls they send, and creditgate signs
the callbacks it sends them (`X-Creditgate-Signature: t=<unix>,v1=<hex HMAC-SHA256 of
"<t>.<raw body>">`).

A sender may add a nonce, `t=<unix>,n=<nonce>,v1=<hex HMAC-SHA256 of "<t>.<n>.<raw body>">`:
signed with the body, so it cannot be stripped or changed, and kept by the receiver for the
window, so the same request sent twice is refused the second time (connector/auth.py).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass

SIGNATURE_HEADER = "X-Creditgate-Signature"
SIGNATURE_WINDOW = 300  # seconds a signature stays good after its timestamp
FUTURE_SKEW = 30  # seconds a sender's clock may run ahead of the receiver's
_NONCE = re.compile(r"[A-Za-z0-9._:-]{1,100}")
_MALFORMED = f"{SIGNATURE_HEADER} must look like t=<unix seconds>,v1=<hex HMAC-SHA256>"
REPLAYED = "this signature's nonce (n=) was used before: a replayed request; send a new nonce"


def _mac(secret: str, message: bytes) -> str:
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def sign(secret: str, body: bytes, timestamp: int, nonce: str | None = None) -> str:
    """The header value for `body` sent at `timestamp` (Unix seconds), with `nonce` if given."""
    if nonce is None:
        return f"t={timestamp},v1={_mac(secret, f'{timestamp}.'.encode() + body)}"
    mac = _mac(secret, f"{timestamp}.{nonce}.".encode() + body)
    return f"t={timestamp},n={nonce},v1={mac}"


@dataclass(frozen=True)
class SignatureCheck:
    """What checking a signature found: `problem` None when it is good; then `nonce` (if the
    sender gave one) must be kept until `good_until` (Unix seconds), when the signature
    expires, and refused if seen again before."""

    problem: str | None
    nonce: str | None = None
    good_until: int = 0


def check_signature(secret: str, header: str | None, body: bytes, now: float) -> SignatureCheck:
    """Check `t=<unix>[,n=<nonce>],v1=<hex>` over "<t>.[<n>.]<body>"."""
    if not header:
        return SignatureCheck(f"this client signs its requests: send {SIGNATURE_HEADER}")
    parts: dict[str, str] = {}
    for part in header.split(","):
        name, equals, value = part.partition("=")
        name = name.strip()
        if not equals:
            continue
        if name in parts and name in ("t", "n", "v1"):
            # One of each: `v1=00,v1=<good>` took the last before; no sender means two.
            return SignatureCheck(f"{SIGNATURE_HEADER} names {name}= more than once")
        parts[name] = value.strip()
    stamp, nonce, given = parts.get("t", ""), parts.get("n"), parts.get("v1", "")
    # ASCII digits only, and no more than a Unix time has: int() and float() must not choke.
    if not (stamp.isascii() and stamp.isdigit() and len(stamp) <= 12) or not given:
        return SignatureCheck(_MALFORMED)
    if nonce is not None and not _NONCE.fullmatch(nonce):
        return SignatureCheck("n= must be 1 to 100 of the characters A-Z a-z 0-9 . _ : -")
    age = now - int(stamp)
    if age > SIGNATURE_WINDOW:
        return SignatureCheck(
            "signature timestamp is outside the 5-minute window (replayed or clock skew)"
        )
    if age < -FUTURE_SKEW:
        return SignatureCheck(
            f"signature timestamp is outside the 5-minute window: more than {FUTURE_SKEW} s "
            "ahead of this server's clock (check the sender's clock)"
        )
    prefix = f"{stamp}." if nonce is None else f"{stamp}.{nonce}."
    expected = _mac(secret, prefix.encode() + body)
    # Bytes: compare_digest refuses str holding anything but ASCII (a TypeError, a 500 before).
    if not hmac.compare_digest(expected.encode(), given.lower().encode("utf-8", "surrogatepass")):
        return SignatureCheck("signature does not match the request body")
    return SignatureCheck(None, nonce, int(stamp) + SIGNATURE_WINDOW)


def verify_signature(secret: str, header: str | None, body: bytes, now: float) -> str | None:
    """Check a signature; return what is wrong, or None if it is good (its nonce not kept)."""
    return check_signature(secret, header, body, now).problem
