"""Signed reply addresses: ``support+<request id>.<mac>@<HELPDESK_MAIL_REPLY_DOMAIN>``.

The mac is an HMAC of the request id and its requester's email under the app's secret key, so
an address names exactly one request; changing the id or guessing a mac gets a 550. Lower-case
hex only, because mail systems may change the case of a local part.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from typing import Any

from flask import current_app

LOCAL_PART = "support"
MAC_CHARS = 20  # 80 bits
_TAGGED = re.compile(r"^support\+(\d{1,12})\.([0-9a-f]{" + str(MAC_CHARS) + "})$")
_SALT = b"helpdesk.mail-reply"


def reply_domain(config: Mapping[str, Any] | None = None) -> str:
    config = current_app.config if config is None else config
    domain = config.get("MAIL_REPLY_DOMAIN")
    if not domain:
        sender = str(config.get("MAIL_FROM") or "helpdesk@localhost")
        domain = sender.rpartition("@")[2].strip(" >") or "localhost"
    return str(domain).lower()


def support_address(config: Mapping[str, Any] | None = None) -> str:
    return f"{LOCAL_PART}@{reply_domain(config)}"


def _mac(secret: str, request_id: int, requester_email: str) -> str:
    message = f"{request_id}:{requester_email.lower()}".encode()
    return hmac.new(_SALT + b":" + secret.encode(), message, hashlib.sha256).hexdigest()[:MAC_CHARS]


def reply_address(request_id: int, requester_email: str, config: Mapping[str, Any] | None = None) -> str:
    config = current_app.config if config is None else config
    mac = _mac(str(config["SECRET_KEY"]), request_id, requester_email)
    return f"{LOCAL_PART}+{request_id}.{mac}@{reply_domain(config)}"


def parse_recipient(address: str, config: Mapping[str, Any] | None = None) -> tuple[str, int | None, str | None] | None:
    """``("support", None, None)`` for the support address, ``("reply", id, mac)`` for a tagged one
    (not yet verified: that needs the request), ``None`` for anything not ours."""
    local, _, domain = address.strip().strip("<>").lower().rpartition("@")
    if domain != reply_domain(config):
        return None
    if local == LOCAL_PART:
        return ("support", None, None)
    match = _TAGGED.match(local)
    if match is None:
        return ("forged", None, None) if local.startswith(LOCAL_PART + "+") else None
    return ("reply", int(match.group(1)), match.group(2))


def verify(request_id: int, mac: str, requester_email: str, config: Mapping[str, Any] | None = None) -> bool:
    config = current_app.config if config is None else config
    return hmac.compare_digest(_mac(str(config["SECRET_KEY"]), request_id, requester_email), mac)
