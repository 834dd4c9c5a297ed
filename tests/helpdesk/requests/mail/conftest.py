"""The email channel's fixtures: our SMTP receiver on a loopback port, and a client that speaks SMTP to it."""

from __future__ import annotations

import smtplib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any

import pytest
from flask import Flask
from sqlalchemy.orm import Session

from helpdesk.requests.mail.server import make_controller
from tests.helpdesk.console_world import practice_world
from tests.helpdesk.outbox.servers import free_port

SUPPORT = "support@help.test"
P1_MANAGER = "manager@riverside.test"
P1_FRONT = "front@riverside.test"
P2_MANAGER = "boss@hilltop.test"


@pytest.fixture
def world(ingest: Callable[..., Any]) -> None:
    """P1 (bookings BK-1..3, emails front@/manager@riverside.test), P2 (OT-1..3, desk@/boss@hilltop.test)."""
    ingest(*practice_world("P1", "Riverside Dental", "BK", booking_emails=[P1_FRONT], alert_emails=[P1_MANAGER]))
    ingest(*practice_world("P2", "Hilltop Physio", "OT", booking_emails=["desk@hilltop.test"],
                           alert_emails=[P2_MANAGER]))


@dataclass
class Receiver:
    host: str
    port: int

    def send(self, message: EmailMessage, to: list[str] | None = None, sender: str | None = None) -> tuple[int, str]:
        """One SMTP conversation; returns the DATA reply, raises smtplib errors for a refusal."""
        with smtplib.SMTP(self.host, self.port, timeout=30) as smtp:
            smtp.ehlo()
            recipients = to or [str(message["To"])]
            smtp.mail(sender or str(message["From"]).rpartition("<")[2].strip(">"))
            for rcpt in recipients:
                code, reply = smtp.rcpt(rcpt)
                if code != 250:
                    raise smtplib.SMTPRecipientsRefused({rcpt: (code, reply)})
            code, reply = smtp.data(message.as_bytes(policy=message.policy.clone(linesep="\r\n")))
            if code != 250:
                raise smtplib.SMTPDataError(code, reply)
            return code, reply.decode()


@pytest.fixture
def receiver(app: Flask, db_session: Session) -> Iterator[Receiver]:
    """Our receiver (``flask mail serve``'s controller), storing into the test's transaction.

    One worker thread: the test waits for each SMTP reply, so the connection is never shared at once.
    """
    port = free_port()
    controller = make_controller(app, f"127.0.0.1:{port}", workers=1)
    controller.start()
    try:
        yield Receiver("127.0.0.1", port)
    finally:
        controller.stop()
        controller.handler.executor.shutdown(wait=True)


def mail(sender: str, subject: str, body: str, to: str = SUPPORT, name: str = "", **headers: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = f"{name} <{sender}>" if name else sender
    message["To"] = to
    message["Subject"] = subject
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2])
    for key, value in headers.items():
        message[key.replace("_", "-")] = value
    message.set_content(body)
    return message
