"""Queue outgoing mail and webhooks in the caller's transaction (never sends, never commits).

Emails are rendered here, when the change happens, from a pair of templates (``<name>.txt`` and
``<name>.html``), so a retry days later sends exactly what was meant at the time.
"""

from __future__ import annotations

import json
import uuid
from email.utils import make_msgid
from typing import Any

from flask import current_app, render_template
from sqlalchemy import select
from sqlalchemy.orm import Session

from helpdesk.core.clock import utcnow
from helpdesk.outbox.models import OutboxMessage


def _message_domain() -> str:
    sender = str(current_app.config.get("MAIL_FROM") or "helpdesk@localhost")
    return sender.rpartition("@")[2].strip(" >") or "localhost"


def enqueue_email(
    session: Session, to: str, subject: str, template: str, context: dict[str, Any],
    thread: str | None = None, dedupe_key: str | None = None, headers: dict[str, str] | None = None,
) -> OutboxMessage | None:
    """Queue one email to ``to``, rendered from ``template + '.txt'`` and ``'.html'``.

    ``thread`` groups a conversation in mail clients (References header). With ``dedupe_key``,
    a second call for the same key queues nothing and returns ``None``.
    """
    if dedupe_key is not None and session.scalar(
        select(OutboxMessage.id).where(OutboxMessage.dedupe_key == dedupe_key)
    ) is not None:
        return None
    subject = " ".join(subject.split())  # a header is one line: no CR/LF injection
    headers = {"Message-ID": make_msgid(domain=_message_domain()),
               **{k: " ".join(v.split()) for k, v in (headers or {}).items()}}  # e.g. Reply-To (helpdesk/requests/mail)
    if thread:
        reference = f"<{thread}@{_message_domain()}>"
        headers.update({"References": reference, "In-Reply-To": reference})
    context = {**context, "subject": subject}
    row = OutboxMessage(
        kind="email",
        recipient=to,
        subject=subject,
        payload={
            "text": render_template(f"{template}.txt", **context),
            "html": render_template(f"{template}.html", **context),
            "headers": headers,
        },
        dedupe_key=dedupe_key,
        next_attempt_at=utcnow(),
    )
    session.add(row)
    return row


def enqueue_webhooks(session: Session, event: str, data: dict[str, Any]) -> list[OutboxMessage]:
    """Queue ``event`` for every configured webhook URL (``HELPDESK_WEBHOOK_URLS``)."""
    rows = []
    now = utcnow()
    for url in current_app.config.get("WEBHOOK_URLS") or ():
        delivery = str(uuid.uuid4())
        body = {"id": delivery, "event": event, "occurred_at": now.isoformat(), "data": data}
        # Stored as text: the signature covers these exact bytes.
        row = OutboxMessage(kind="webhook", recipient=url, subject=event,
                            payload={"body": json.dumps(body, separators=(",", ":")), "delivery": delivery},
                            next_attempt_at=now)
        session.add(row)
        rows.append(row)
    return rows
