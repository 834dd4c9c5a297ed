"""The agent's own profile: name, password, personal API tokens, notification preferences, time zone.

Verbs take the session and the agent explicitly and never commit.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from sqlalchemy import select
from sqlalchemy.orm import Session

from helpdesk.core.agents import Agent, ApiToken, issue_api_token
from helpdesk.core.clock import utcnow
from helpdesk.core.errors import InvalidInput, NotFound
from helpdesk.core.passwords import hash_password, verify_password
from helpdesk.workspace.models import AgentPreference

MIN_PASSWORD = 12
MAX_TOKENS = 20


def preferences_for(session: Session, agent: Agent) -> AgentPreference:
    """The agent's saved preferences, or the defaults (not stored until changed)."""
    found = session.get(AgentPreference, agent.id)
    return found if found is not None else AgentPreference(agent_id=agent.id, timezone="UTC", sound=False, desktop=False)


def valid_timezone(name: str) -> str:
    name = (name or "").strip()
    if not name or name not in available_timezones():
        raise InvalidInput("invalid_timezone", f"{name[:64]!r} is not a time zone (e.g. Europe/London)", field="timezone")
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidInput("invalid_timezone", f"{name[:64]!r} is not a time zone", field="timezone") from exc
    return name


def save_preferences(session: Session, agent: Agent, *, timezone: str, sound: bool, desktop: bool) -> AgentPreference:
    zone = valid_timezone(timezone)
    prefs = session.get(AgentPreference, agent.id)
    if prefs is None:
        prefs = AgentPreference(agent_id=agent.id)
        session.add(prefs)
    prefs.timezone, prefs.sound, prefs.desktop, prefs.updated_at = zone, bool(sound), bool(desktop), utcnow()
    return prefs


def rename(session: Session, agent: Agent, name: str) -> None:
    name = (name or "").strip()
    if not name or len(name) > 200:
        raise InvalidInput("invalid_name", "your name must be 1 to 200 characters", field="name")
    agent.name = name


def change_password(session: Session, agent: Agent, current: str, new: str, repeat: str) -> None:
    if not verify_password(agent.password_hash, current or ""):
        raise InvalidInput("wrong_password", "your current password is not right", field="current_password")
    if len(new or "") < MIN_PASSWORD:
        raise InvalidInput("weak_password", f"the new password needs at least {MIN_PASSWORD} characters",
                           field="new_password")
    if len(new) > 1024:
        raise InvalidInput("weak_password", "the new password is too long", field="new_password")
    if new != repeat:
        raise InvalidInput("password_mismatch", "the two new passwords differ", field="repeat_password")
    agent.password_hash = hash_password(new)


def tokens(session: Session, agent: Agent) -> list[ApiToken]:
    return list(session.scalars(
        select(ApiToken).where(ApiToken.agent_id == agent.id).order_by(ApiToken.revoked_at.is_not(None), ApiToken.id.desc())
    ))


def create_token(session: Session, agent: Agent, label: str) -> str:
    label = (label or "").strip()
    if not label or len(label) > 100:
        raise InvalidInput("invalid_label", "name the token (1 to 100 characters)", field="label")
    live = [t for t in tokens(session, agent) if t.revoked_at is None]
    if len(live) >= MAX_TOKENS:
        raise InvalidInput("too_many_tokens", f"you have {MAX_TOKENS} tokens: revoke one first")
    token = issue_api_token(session, agent, label)
    session.flush()
    return token


def revoke_token(session: Session, agent: Agent, token_id: int) -> ApiToken:
    token = session.scalar(select(ApiToken).where(ApiToken.id == token_id, ApiToken.agent_id == agent.id))
    if token is None:
        raise NotFound("no_such_token", "you have no token with that id")
    if token.revoked_at is None:
        token.revoked_at = utcnow()
    return token
