"""KB follower notifications: the knowledge base queues rows in ``kb_notifications``; each send
pass copies new ones into the outbox (once, by ``dedupe_key``) and stamps them back with the
outcome (``sent_at``, or ``failed_at`` and ``error``) once the outbox has delivered or given up.
Each pass also drops the follows whose confirmation link expired unused.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from helpdesk.core.clock import utcnow
from helpdesk.outbox.models import OutboxMessage
from helpdesk.outbox.service import enqueue_email
from kb.models import Notification
from kb.service import purge_unconfirmed_follows

BATCH = 500


def _key(notification_id: int) -> str:
    return f"kb_notification:{notification_id}"


def feed(session: Session, config: Mapping[str, Any]) -> None:
    if purge_unconfirmed_follows(session):
        session.commit()
    waiting = list(session.scalars(
        select(Notification).where(Notification.sent_at.is_(None), Notification.failed_at.is_(None))
        .order_by(Notification.id).limit(BATCH)
    ))
    if not waiting:
        return
    queued = {
        key: (status, error, sent_at) for key, status, error, sent_at in session.execute(
            select(OutboxMessage.dedupe_key, OutboxMessage.status, OutboxMessage.last_error, OutboxMessage.sent_at)
            .where(OutboxMessage.dedupe_key.in_([_key(n.id) for n in waiting]))
        )
    }
    for notification in waiting:
        outcome = queued.get(_key(notification.id))
        if outcome is None:
            enqueue_email(session, notification.email, notification.subject, "requests/email/kb_notification",
                          {"notification": notification}, dedupe_key=_key(notification.id))
        elif outcome[0] == "sent":
            notification.sent_at = outcome[2]
        elif outcome[0] == "failed":
            notification.failed_at = utcnow()
            notification.error = outcome[1]
    session.commit()
