"""Agents: the support staff who sign in to the console, their personal API tokens, and the
verbs that create them (the CLI and the demo call these; callers commit)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from helpdesk.core.clock import utcnow
from helpdesk.core.db import Base
from helpdesk.core.errors import Conflict, InvalidInput
from helpdesk.core.passwords import generate_api_token, generate_password, hash_password
from helpdesk.core.text import EMAIL_RE

AGENT_ROLES = ("agent", "editor", "admin")


class Agent(Base):
    __tablename__ = "agents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16), default="agent")
    password_hash: Mapped[str] = mapped_column(String(256))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None]


class ApiToken(Base):
    """A personal API token; only its SHA-256 is stored, the token itself is shown once."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str] = mapped_column(String(100), default="default")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]

    agent: Mapped[Agent] = relationship(lazy="joined")


@dataclass(frozen=True)
class NewAgent:
    agent: Agent
    password: str
    token: str


def create_agent(session: Session, email: str, name: str, role: str = "agent", password: str | None = None) -> NewAgent:
    email = email.strip().lower()
    if not EMAIL_RE.match(email):
        raise InvalidInput("invalid_email", f"{email!r} is not an email address")
    if role not in AGENT_ROLES:
        raise InvalidInput("invalid_role", f"role must be one of {', '.join(AGENT_ROLES)}")
    if not name.strip():
        raise InvalidInput("invalid_name", "the agent needs a name")
    if session.scalar(select(Agent.id).where(Agent.email == email)) is not None:
        raise Conflict("agent_exists", f"an agent with email {email} already exists")
    password = password or generate_password()
    agent = Agent(email=email, name=name.strip(), role=role, password_hash=hash_password(password))
    session.add(agent)
    session.flush()
    return NewAgent(agent, password, issue_api_token(session, agent))


def issue_api_token(session: Session, agent: Agent, label: str = "default") -> str:
    token, token_hash = generate_api_token()
    session.add(ApiToken(agent_id=agent.id, token_hash=token_hash, label=label))
    return token
