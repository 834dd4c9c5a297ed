"""HMAC-SHA256 over ``<timestamp>.<body>``: the ingest API's signature and the webhooks' alike."""

from __future__ import annotations

import hashlib
import hmac

from helpdesk.core.clock import unix_now
from helpdesk.core.errors import Unauthenticated


def sign(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify_signature(secret: str, timestamp: str | None, signature: str | None, body: bytes, max_skew: int) -> None:
    if not timestamp or not signature:
        raise Unauthenticated("unsigned", "X-Helpdesk-Timestamp and X-Helpdesk-Signature are required")
    try:
        sent_at = int(timestamp)
    except ValueError as exc:
        raise Unauthenticated("bad_timestamp", "X-Helpdesk-Timestamp must be unix seconds") from exc
    if abs(unix_now() - sent_at) > max_skew:
        raise Unauthenticated("stale_timestamp", f"the timestamp is more than {max_skew} seconds from now")
    if not hmac.compare_digest(sign(secret, timestamp, body), signature.strip()):
        raise Unauthenticated("bad_signature", "the signature does not match the body")
