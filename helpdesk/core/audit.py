"""The audit log: who looked at (or revealed) which practice's booking data, and when.

Actions are named here, once, so a report of the log never meets an ad hoc spelling.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, Session, mapped_column

from helpdesk.core.agents import Agent
from helpdesk.core.clock import utcnow
from helpdesk.core.db import Base


class AuditEntry(Base):
    """Who looked at (or revealed) which practice's booking data, and when."""

    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_practice_time", "practice_id", "occurred_at"),
        Index("ix_audit_log_agent_time", "agent_id", "occurred_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow)
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    action: Mapped[str] = mapped_column(String(64))
    practice_id: Mapped[str | None] = mapped_column(String(64))
    target: Mapped[str | None] = mapped_column(String(200))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    ip: Mapped[str | None] = mapped_column(String(64))


def record_audit(
    session: Session, agent: Agent, action: str, practice_id: str | None, target: str | None = None,
    ip: str | None = None, **detail: Any,
) -> None:
    session.add(AuditEntry(agent_id=agent.id, action=action, practice_id=practice_id, target=target,
                           ip=ip, detail=detail))
