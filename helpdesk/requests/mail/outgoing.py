"""What our emails carry for the email channel: a signed Reply-To, and their Message-IDs stored."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from helpdesk.requests.mail import tokens
from helpdesk.requests.mail.models import MailMessage
from helpdesk.requests.mail.parse import message_ids

if TYPE_CHECKING:
    from helpdesk.outbox.models import OutboxMessage
    from helpdesk.requests.models import Request


def reply_headers(req: Request) -> dict[str, str]:
    return {"Reply-To": tokens.reply_address(req.id, req.requester_email)}


def record_sent(session: Session, row: OutboxMessage | None, req: Request | None) -> None:
    """Remember an email we queued: a reply to it threads into ``req``; it coming back is a loop."""
    if row is None:
        return
    ids = message_ids(str((row.payload.get("headers") or {}).get("Message-ID", "")))
    if ids:
        session.add(MailMessage(message_id=ids[0], direction="out", request_id=req.id if req else None,
                                sender="", status="sent", created_at=row.next_attempt_at))
