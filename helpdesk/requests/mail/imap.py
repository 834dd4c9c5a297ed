"""Poll an IMAP mailbox (``HELPDESK_IMAP_URL``) for hosted mailboxes, instead of receiving SMTP.

``imap://user:password@host:143/INBOX`` (``imaps://`` for TLS, ``?starttls=1`` to upgrade). Each
unseen message goes through the same path as an SMTP delivery (one transaction per message);
a stored, duplicate or dropped message is marked ``\\Seen`` and ``\\Deleted`` (and expunged at
the end of the pass), a refused one is marked ``\\Seen`` and ``\\Flagged`` and left for a person;
a temporary failure (the database is down) leaves it unseen, so the next pass tries it again.
The recipients are read from ``Delivered-To``/``X-Original-To``/``To``/``Cc``: the first of our
addresses found, the support address if none.
"""

from __future__ import annotations

import contextlib
import email
import email.policy
import imaplib
import logging
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import getaddresses
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from flask import Flask

from helpdesk.requests.mail import tokens
from helpdesk.requests.mail.server import MailHandler

log = logging.getLogger(__name__)
TIMEOUT_SECONDS = 30.0


@dataclass
class PollReport:
    stored: int = 0
    refused: int = 0
    retry: int = 0


def connect(url: str) -> tuple[imaplib.IMAP4, str]:
    parts = urlsplit(url)
    if parts.scheme not in ("imap", "imaps"):
        raise ValueError(f"HELPDESK_IMAP_URL must be imap:// or imaps://, not {parts.scheme}://")
    host = parts.hostname or "127.0.0.1"
    if parts.scheme == "imaps":
        client: imaplib.IMAP4 = imaplib.IMAP4_SSL(host, parts.port or 993, ssl_context=ssl.create_default_context(),
                                                  timeout=TIMEOUT_SECONDS)
    else:
        client = imaplib.IMAP4(host, parts.port or 143, timeout=TIMEOUT_SECONDS)
        if parse_qs(parts.query).get("starttls", ["0"])[0].lower() in ("1", "true", "yes"):
            client.starttls(ssl_context=ssl.create_default_context())
    client.login(unquote(parts.username or ""), unquote(parts.password or ""))
    return client, unquote(parts.path.strip("/")) or "INBOX"


def recipients_of(raw: bytes, config: Mapping[str, Any]) -> list[str]:
    headers = email.message_from_bytes(raw, policy=email.policy.compat32, _class=email.message.Message)
    values = [str(v) for name in ("Delivered-To", "X-Original-To", "To", "Cc") for v in headers.get_all(name, [])]
    for _, address in getaddresses(values):
        if tokens.parse_recipient(address, config) is not None:
            return [address]
    return [tokens.support_address(config)]


def poll_once(app: Flask, url: str | None = None, handler: MailHandler | None = None) -> PollReport:
    """One pass over the mailbox's unseen messages."""
    handler = handler or MailHandler(app, workers=1)
    client, mailbox = connect(url or str(app.config["IMAP_URL"]))
    report = PollReport()
    try:
        status, _ = client.select(mailbox)
        if status != "OK":
            raise RuntimeError(f"cannot open the mailbox {mailbox!r}")
        _, found = client.uid("SEARCH", None, "UNSEEN")  # type: ignore[arg-type]
        for uid in (found[0] or b"").split():
            _, data = client.uid("FETCH", uid, "(BODY.PEEK[])")  # type: ignore[arg-type]
            raw = next((item[1] for item in data if isinstance(item, tuple)), None)
            if not isinstance(raw, bytes):
                continue
            reply = handler.check_recipient(recipients_of(raw, app.config)[0])
            if reply.startswith("250"):
                reply = handler.deliver(raw, recipients_of(raw, app.config))
            if reply.startswith("250"):
                client.uid("STORE", uid, "+FLAGS", "(\\Seen \\Deleted)")  # type: ignore[arg-type]
                report.stored += 1
            elif reply.startswith("5"):
                client.uid("STORE", uid, "+FLAGS", "(\\Seen \\Flagged)")  # type: ignore[arg-type]
                log.warning("mail: IMAP message %s refused: %s", uid.decode(), reply)
                report.refused += 1
            else:
                report.retry += 1  # left unseen: the next pass tries again
        client.expunge()
    finally:
        with contextlib.suppress(OSError, imaplib.IMAP4.error):
            client.logout()
    return report
