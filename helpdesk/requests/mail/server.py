"""The SMTP receiver (aiosmtpd), meant to sit behind the organisation's mail server.

An edge like a view: each message is one transaction, committed before we answer 250, so an
accepted email is stored. Refusals are permanent (5xx) and say why; when the database cannot
be reached the answer is ``451`` (temporary), the sending server keeps the mail and retries, and
nothing is lost. Database work runs in worker threads, off the SMTP event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP
from flask import Flask
from sqlalchemy.exc import SQLAlchemyError

from helpdesk.core import db
from helpdesk.core.clock import utcnow
from helpdesk.core.errors import DomainError, Forbidden, NotFound, TooLarge
from helpdesk.requests.mail import inbound

log = logging.getLogger(__name__)
TEMPORARY = "451 4.3.0 temporarily unable to accept mail, please try again later"


def _refusal(exc: DomainError) -> str:
    message = " ".join(exc.message.split())[:200]
    if isinstance(exc, NotFound):
        return f"550 5.1.1 {message}"
    if isinstance(exc, Forbidden):
        return f"550 5.7.1 {message}"
    if isinstance(exc, TooLarge):
        return f"552 5.3.4 {message}"
    return f"550 5.6.0 {message}"


class MailHandler:
    """aiosmtpd handler: RCPT checks the address, DATA stores the message."""

    def __init__(self, app: Flask, workers: int = 4) -> None:
        self.app = app
        self.executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="mail-in")

    def _in_app(self, work: Any) -> str:
        with self.app.app_context():
            session = db.session()
            try:
                reply = work(session)
                session.commit()
                return reply
            except DomainError as exc:
                session.rollback()
                return _refusal(exc)
            except SQLAlchemyError as exc:
                log.warning("mail: database unavailable, answering 451: %s", exc)
                with contextlib.suppress(SQLAlchemyError):  # the connection may be gone with the database
                    session.rollback()
                return TEMPORARY
            except Exception:
                log.exception("mail: could not process a message")
                session.rollback()
                return TEMPORARY
            finally:
                db.session.remove()

    def check_recipient(self, address: str) -> str:
        def work(session: Any) -> str:
            inbound.check_recipient(session, address, self.app.config)
            return "250 2.1.5 OK"
        return self._in_app(work)

    def deliver(self, content: bytes, recipients: list[str]) -> str:
        def work(session: Any) -> str:
            outcome = inbound.receive(session, content, recipients, self.app.config, utcnow())
            if outcome.action in ("created", "replied"):
                return f"250 2.0.0 stored in request #{outcome.request_id}"
            if outcome.action == "duplicate":
                return "250 2.0.0 already received"
            return f"250 2.0.0 accepted and dropped ({outcome.reason})"
        return self._in_app(work)

    async def handle_RCPT(self, server: SMTP, session: Any, envelope: Any, address: str, options: Any) -> str:
        reply = await asyncio.get_running_loop().run_in_executor(self.executor, self.check_recipient, address)
        if reply.startswith("250"):
            envelope.rcpt_tos.append(address)
        return reply

    async def handle_DATA(self, server: SMTP, session: Any, envelope: Any) -> str:
        content = envelope.original_content or envelope.content
        if isinstance(content, str):
            content = content.encode("utf-8", "surrogateescape")
        return await asyncio.get_running_loop().run_in_executor(
            self.executor, self.deliver, content, list(envelope.rcpt_tos))


def parse_listen(value: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"HELPDESK_MAIL_LISTEN must be HOST:PORT, not {value!r}")
    return host.strip("[]"), int(port)


def make_controller(app: Flask, listen: str | None = None, workers: int = 4) -> Controller:
    host, port = parse_listen(listen or str(app.config.get("MAIL_LISTEN") or "127.0.0.1:2525"))
    handler = MailHandler(app, workers=workers)
    return Controller(handler, hostname=host, port=port, server_hostname=host,
                      data_size_limit=int(app.config.get("MAIL_MAX_BYTES") or 25 * 1024 * 1024),
                      enable_SMTPUTF8=True, ready_timeout=10)
