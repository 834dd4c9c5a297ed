"""Console sessions that end on the server: the cookie carries a random session id, and the row
says whether it is still live. Logging out, deactivating the agent or changing the password ends
it, so a replayed cookie (copied before logout) is refused. Callers commit.
"""

from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy import ForeignKey, String, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from helpdesk.core.clock import utcnow
from helpdesk.core.db import Base


class ConsoleSession(Base):
    __tablename__ = "console_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    ended_at: Mapped[datetime | None]


def open_session(session: Session, agent_id: int) -> str:
    sid = secrets.token_urlsafe(32)
    session.add(ConsoleSession(id=sid, agent_id=agent_id, created_at=utcnow()))
    return sid


def is_live(session: Session, sid: object, agent_id: int) -> bool:
    if not isinstance(sid, str) or not sid or len(sid) > 64:
        return False
    row = session.get(ConsoleSession, sid)
    return row is not None and row.agent_id == agent_id and row.ended_at is None


def end_session(session: Session, sid: object) -> None:
    if isinstance(sid, str) and sid:
        session.execute(update(ConsoleSession).where(ConsoleSession.id == sid, ConsoleSession.ended_at.is_(None))
                        .values(ended_at=utcnow()))


def end_all_sessions(session: Session, agent_id: int) -> int:
    result = session.execute(update(ConsoleSession).where(
        ConsoleSession.agent_id == agent_id, ConsoleSession.ended_at.is_(None)).values(ended_at=utcnow()))
    return int(result.rowcount or 0)


def live_session_ids(session: Session, agent_id: int) -> list[str]:
    return list(session.scalars(select(ConsoleSession.id).where(
        ConsoleSession.agent_id == agent_id, ConsoleSession.ended_at.is_(None))))



