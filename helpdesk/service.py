"""Verbs of the helpdesk kernel: creating agents and tokens, recording audit entries.

Services take the actor explicitly and never commit: the HTTP edge or the CLI does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from helpdesk.auth import generate_api_token, generate_password, hash_password
from helpdesk.errors import ApiError
from helpdesk.ingest import EMAIL_RE
from helpdesk.models import AGENT_ROLES, Agent, ApiToken, AuditEntry


@dataclass(frozen=True)
class NewAgent:
    agent: Agent
    password: str
    token: str


def create_agent(session: Session, email: str, name: str, role: str = "agent", password: str | None = None) -> NewAgent:
    email = email.strip().lower()
    if not EMAIL_RE.match(email):
        raise ApiError(422, "invalid_email", f"{email!r} is not an email address")
    if role not in AGENT_ROLES:
        raise ApiError(422, "invalid_role", f"role must be one of {', '.join(AGENT_ROLES)}")
    if not name.strip():
        raise ApiError(422, "invalid_name", "the agent needs a name")
    if session.scalar(select(Agent.id).where(Agent.email == email)) is not None:
        raise ApiError(409, "agent_exists", f"an agent with email {email} already exists")
    password = password or generate_password()
    agent = Agent(email=email, name=name.strip(), role=role, password_hash=hash_password(password))
    session.add(agent)
    session.flush()
    return NewAgent(agent, password, issue_api_token(session, agent))


def issue_api_token(session: Session, agent: Agent, label: str = "default") -> str:
    token, token_hash = generate_api_token()
    session.add(ApiToken(agent_id=agent.id, token_hash=token_hash, label=label))
    return token


def record_audit(
    session: Session, agent: Agent, action: str, practice_id: str | None, target: str | None = None,
    ip: str | None = None, **detail: Any,
) -> None:
    session.add(AuditEntry(agent_id=agent.id, action=action, practice_id=practice_id, target=target,
                           ip=ip, detail=detail))
