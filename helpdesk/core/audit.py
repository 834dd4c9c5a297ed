"""The audit log: who looked at (or revealed) which practice's booking data, and when.

Actions are named here, once, so a report of the log never meets an ad hoc spelling.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from flask import g, request
from sqlalchemy import JSON, ForeignKey, Index, Integer, String, insert
from sqlalchemy.orm import Mapped, Session, mapped_column

from helpdesk.core import db
from helpdesk.core.agents import Agent
from helpdesk.core.clock import utcnow
from helpdesk.core.db import Base


class AuditAction(StrEnum):
    """Every action the log records; the values are what is stored."""

    VIEW_BOOKINGS = "view_bookings"
    VIEW_DIAGNOSIS = "view_diagnosis"
    VIEW_DIAGNOSTICS = "view_diagnostics"  # the console's practice page, or a request's sidebar
    CHAT_VIEW_DIAGNOSTICS = "chat_view_diagnostics"  # the diagnostics panel beside a chat
    VIEW_INTEGRATION_EVENTS = "view_integration_events"
    VIEW_HEALTH = "view_health"
    VIEW_AT_RISK = "view_at_risk"
    SEARCH_BOOKINGS = "search_bookings"
    REVEAL_PATIENT = "reveal_patient"
    REVEAL_PATIENTS = "reveal_patients"
    AGENT_DEACTIVATED = "agent.deactivated"
    AGENT_ACTIVATED = "agent.activated"
    API_TOKEN_REVOKED = "api_token.revoked"


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
    session: Session, agent: Agent, action: AuditAction, practice_id: str | None, target: str | None = None,
    ip: str | None = None, **detail: Any,
) -> None:
    # A plain INSERT, not an object for the unit of work: every agent read writes one, and the
    # flush's bookkeeping cost more than the read itself on a bookings page (docs/PERFORMANCE.md).
    session.execute(insert(AuditEntry.__table__), {
        "occurred_at": utcnow(), "agent_id": agent.id, "action": AuditAction(action).value,
        "practice_id": practice_id, "target": target, "ip": ip, "detail": detail,
    })


def audit_request(action: AuditAction, practice_id: str | None, target: str | None = None, **detail: Any) -> None:
    """At the HTTP edge: the signed-in agent (``g.agent``) did ``action``, from this address."""
    record_audit(db.session(), g.agent, action, practice_id, target, ip=request.remote_addr, **detail)
