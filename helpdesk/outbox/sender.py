"""Deliver the outbox: emails over SMTP (``HELPDESK_SMTP_URL``), webhooks as signed POSTs.

One pass: claim due rows (``FOR UPDATE SKIP LOCKED`` on PostgreSQL; on SQLite the transaction's
``BEGIN IMMEDIATE`` lock serialises claims), commit the claim, send outside any transaction, then
record each outcome under the claim token. A claim is a lease: a sender that dies mid-pass
leaves its rows to be picked up again when the lease runs out. Failures retry with exponential
backoff; a permanent refusal (5xx from SMTP, 4xx from a webhook) or too many attempts marks the
row ``failed``, which is kept (``outbox retry`` queues it again). Nothing is ever deleted.

Application code stays free of eventlet: the background loop runs through
``socketio.start_background_task`` and sleeps with ``socketio.sleep``.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from flask import Flask, current_app
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from helpdesk.core.clock import unix_now, utcnow
from helpdesk.core.signing import sign
from helpdesk.outbox.models import OutboxMessage

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=5)
SMTP_TIMEOUT_SECONDS = 15.0
WEBHOOK_TIMEOUT_SECONDS = 10.0
TRANSIENT_HTTP = {408, 425, 429}


class DeliveryError(Exception):
    def __init__(self, message: str, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


@dataclass
class PassReport:
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def claimed(self) -> int:
        return self.sent + self.retrying + self.failed


def backoff(attempts: int, config: Mapping[str, Any]) -> timedelta:
    base = float(config["OUTBOX_BACKOFF_SECONDS"])
    cap = float(config["OUTBOX_BACKOFF_MAX_SECONDS"])
    return timedelta(seconds=min(base * 2 ** max(attempts - 1, 0), cap))


# --- claiming ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Claimed:
    """A claimed row, detached from the session: sending never touches the database."""

    id: int
    kind: str
    recipient: str
    subject: str
    payload: dict[str, Any]
    attempts: int


def claim(session: Session, config: Mapping[str, Any], now: datetime, limit: int) -> tuple[str, list[Claimed]]:
    """Take up to ``limit`` due rows for this sender and commit the claim."""
    kinds = ["webhook"]
    if config.get("SMTP_URL"):
        kinds.append("email")  # without a server, emails wait in the outbox untouched
    token = uuid.uuid4().hex
    rows = list(session.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.status == "pending", OutboxMessage.next_attempt_at <= now,
               OutboxMessage.kind.in_(kinds))
        .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ))
    claimed = []
    for row in rows:
        row.claim_token = token
        row.next_attempt_at = now + LEASE
        claimed.append(Claimed(row.id, row.kind, row.recipient, row.subject, dict(row.payload), row.attempts))
    session.commit()
    return token, claimed


def _record(session: Session, row: Claimed, token: str, error: DeliveryError | None,
            config: Mapping[str, Any], report: PassReport) -> None:
    now = utcnow()
    values: dict[str, Any] = {"claim_token": None, "attempts": row.attempts + 1}
    if error is None:
        values.update(status="sent", sent_at=now, last_error=None)
        report.sent += 1
    else:
        give_up = error.permanent or values["attempts"] >= int(config["OUTBOX_MAX_ATTEMPTS"])
        values.update(last_error=str(error)[:2000], next_attempt_at=now + backoff(values["attempts"], config),
                      status="failed" if give_up else "pending")
        report.errors.append(f"#{row.id} {row.kind} to {row.recipient}: {error}")
        if give_up:
            report.failed += 1
        else:
            report.retrying += 1
    session.execute(
        update(OutboxMessage).where(OutboxMessage.id == row.id, OutboxMessage.claim_token == token).values(**values)
    )
    session.commit()


# --- email ------------------------------------------------------------------------------------

def _smtp_connect(url: str) -> smtplib.SMTP:
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps"):
        raise DeliveryError(f"HELPDESK_SMTP_URL must be smtp:// or smtps://, not {parts.scheme}://", permanent=False)
    host = parts.hostname or "127.0.0.1"
    options = parse_qs(parts.query)
    try:
        if parts.scheme == "smtps":
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(host, parts.port or 465, timeout=SMTP_TIMEOUT_SECONDS,
                                                  context=ssl.create_default_context())
        else:
            smtp = smtplib.SMTP(host, parts.port or 25, timeout=SMTP_TIMEOUT_SECONDS)
            if options.get("starttls", ["0"])[0].lower() in ("1", "true", "yes"):
                smtp.starttls(context=ssl.create_default_context())
        if parts.username:
            smtp.login(unquote(parts.username), unquote(parts.password or ""))
    except (OSError, smtplib.SMTPException) as exc:
        raise DeliveryError(f"cannot reach the SMTP server {host}:{parts.port}: {exc}") from exc
    return smtp


def build_email(row: Claimed, sender: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = row.recipient
    message["Subject"] = row.subject
    for name, value in (row.payload.get("headers") or {}).items():
        message[name] = value
    message.set_content(row.payload["text"])
    message.add_alternative(row.payload["html"], subtype="html")
    return message


def _smtp_error(exc: Exception) -> DeliveryError:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        return DeliveryError(f"recipient refused: {exc.recipients}", permanent=all(c >= 500 for c in codes))
    if isinstance(exc, smtplib.SMTPResponseException) and not isinstance(exc, smtplib.SMTPConnectError):
        return DeliveryError(f"SMTP {exc.smtp_code}: {exc.smtp_error!r}", permanent=exc.smtp_code >= 500)
    return DeliveryError(f"SMTP connection failed: {exc}")


class _Mailer:
    """One SMTP connection per pass, opened on the first email; a failed connect fails the rest fast."""

    def __init__(self, config: Mapping[str, Any]) -> None:
        self.url = str(config["SMTP_URL"])
        self.sender = str(config.get("MAIL_FROM") or "helpdesk@localhost")
        self.smtp: smtplib.SMTP | None = None
        self.broken: DeliveryError | None = None

    def send(self, row: Claimed) -> None:
        if self.broken is not None:
            raise self.broken
        if self.smtp is None:
            try:
                self.smtp = _smtp_connect(self.url)
            except DeliveryError as exc:
                self.broken = exc
                raise
        try:
            message = build_email(row, self.sender)
        except (ValueError, TypeError, KeyError) as exc:
            raise DeliveryError(f"the stored email cannot be sent: {exc}", permanent=True) from exc
        try:
            self.smtp.send_message(message, to_addrs=[row.recipient])
        except (OSError, smtplib.SMTPException) as exc:
            error = _smtp_error(exc)
            if not isinstance(exc, (smtplib.SMTPRecipientsRefused, smtplib.SMTPDataError)):
                self.close()  # the connection is in an unknown state: reconnect for the next one
            raise error from exc

    def close(self) -> None:
        if self.smtp is not None:
            try:
                self.smtp.quit()
            except (OSError, smtplib.SMTPException):
                self.smtp.close()
            self.smtp = None


# --- webhooks ---------------------------------------------------------------------------------

def post_webhook(row: Claimed, secret: str) -> None:
    body = row.payload["body"].encode()
    timestamp = str(int(unix_now()))
    request = urllib.request.Request(row.recipient, data=body, method="POST", headers={
        "Content-Type": "application/json",
        "User-Agent": "PracticeHelpdesk-Webhooks/1",
        "X-Helpdesk-Event": row.subject,
        "X-Helpdesk-Delivery": str(row.payload.get("delivery", row.id)),
        "X-Helpdesk-Timestamp": timestamp,
        "X-Helpdesk-Signature": sign(secret, timestamp, body),
    })
    try:
        with urllib.request.urlopen(request, timeout=WEBHOOK_TIMEOUT_SECONDS) as response:  # noqa: S310 (configured URLs)
            response.read(1024)
    except urllib.error.HTTPError as exc:
        permanent = 400 <= exc.code < 500 and exc.code not in TRANSIENT_HTTP
        raise DeliveryError(f"HTTP {exc.code} from {row.recipient}", permanent=permanent) from exc
    except (OSError, ValueError) as exc:
        raise DeliveryError(f"cannot reach {row.recipient}: {exc}") from exc


# --- a pass and the loop ----------------------------------------------------------------------

Feeder = Callable[[Session, Mapping[str, Any]], None]


def register_feeder(app: Flask, feed: Feeder) -> None:
    """Another queue that goes out through the outbox (a domain registers it in its ``init_app``).

    Each feeder copies new rows in and reports the outcome back; it runs before a pass and after
    it, so the outcome is reported at once.
    """
    app.extensions.setdefault("outbox_feeders", []).append(feed)


def _feeders() -> list[Feeder]:
    return list(current_app.extensions.get("outbox_feeders", ()))


def send_pending(session: Session, config: Mapping[str, Any], now: datetime | None = None, limit: int = 100) -> PassReport:
    """One pass over the due rows. Commits (it is an edge, like a view or a CLI command)."""
    for feed in _feeders():
        feed(session, config)
    token, rows = claim(session, config, now or utcnow(), limit)
    report = PassReport()
    mailer = _Mailer(config) if any(r.kind == "email" for r in rows) else None
    try:
        for row in rows:
            try:
                if row.kind == "email":
                    assert mailer is not None
                    mailer.send(row)
                else:
                    post_webhook(row, str(config["WEBHOOK_SECRET"]))
            except DeliveryError as exc:
                _record(session, row, token, exc, config, report)
            else:
                _record(session, row, token, None, config, report)
    finally:
        if mailer is not None:
            mailer.close()
    if rows:
        for feed in _feeders():
            feed(session, config)
    for line in report.errors:
        log.warning("outbox: %s", line)
    return report


def run_forever(app: Flask, interval: float | None = None, sleep: Callable[[float], Any] | None = None,
                should_stop: Callable[[], bool] = lambda: False) -> None:
    """Send, sleep, repeat; an error in one pass is logged and the loop goes on."""
    from helpdesk.core import db
    from helpdesk.core.extensions import socketio

    pause = sleep or socketio.sleep
    wait = float(interval if interval is not None else app.config["OUTBOX_INTERVAL_SECONDS"])
    while not should_stop():
        busy = False
        with app.app_context():
            try:
                report = send_pending(db.session(), app.config)
                busy = report.claimed > 0 and report.retrying == 0 and report.failed == 0
            except Exception:  # noqa: BLE001 (the loop must outlive a bad pass)
                log.exception("outbox: a send pass failed")
                db.session.rollback()
            finally:
                db.session.remove()
        pause(0 if busy else wait)


def start_background_sender(app: Flask) -> Any:
    """Run the sender inside the server (``wsgi.py``); not under tests or with OUTBOX_LOOP off."""
    if app.config.get("TESTING") or not app.config["OUTBOX_LOOP"]:
        return None
    from helpdesk.core.extensions import socketio

    return socketio.start_background_task(run_forever, app)
