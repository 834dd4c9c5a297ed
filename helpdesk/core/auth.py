"""Who is calling, resolved in one place: an agent (console session, personal API token, or the
console's short-lived socket token) or a practice user (the platform's widget JWT).

Cookies alone never authenticate a socket.

A practice id is only ever taken from inside a valid widget token, never from the request.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from functools import wraps
from typing import Any, ParamSpec, TypeVar

import jwt
from flask import current_app, g, redirect, request, session, url_for
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import bindparam, select

from helpdesk.core import db
from helpdesk.core import sessions as console_sessions
from helpdesk.core.agents import Agent, ApiToken
from helpdesk.core.clock import unix_now, utcnow
from helpdesk.core.errors import DomainError, Unauthenticated
from helpdesk.core.passwords import API_TOKEN_PREFIX, hash_api_token

P = ParamSpec("P")
R = TypeVar("R")

WIDGET_TOKEN_ALGORITHM = "HS256"
WIDGET_TOKEN_REQUIRED_CLAIMS = ("sub", "practice", "exp")


@dataclass(frozen=True)
class PracticeUser:
    """A practice's staff member, as vouched for by the platform's signed widget token."""

    user_id: str
    practice_id: str
    name: str
    email: str
    is_admin: bool = False
    expires_at: float = 0.0  # the widget token's ``exp`` (Unix time): the identity ends with it

    @property
    def expired(self) -> bool:
        return bool(self.expires_at) and unix_now() >= self.expires_at


# Built once: it runs on every agent API request.
_LIVE_API_TOKEN = select(ApiToken).where(ApiToken.token_hash == bindparam("token_hash"), ApiToken.revoked_at.is_(None))


def agent_for_api_token(token: str) -> Agent | None:
    if not token.startswith(API_TOKEN_PREFIX):
        return None
    row = db.session.scalar(_LIVE_API_TOKEN, {"token_hash": hash_api_token(token)})
    if row is None or not row.agent.is_active:
        return None
    return row.agent


def mint_widget_token(
    practice_id: str, user_id: str, name: str = "", email: str = "", ttl: timedelta = timedelta(hours=1),
    admin: bool = False,
) -> str:
    claims: dict[str, Any] = {
        "sub": user_id, "practice": practice_id, "name": name, "email": email, "exp": utcnow() + ttl,
    }
    if admin:
        claims["admin"] = True
    return jwt.encode(claims, current_app.config["WIDGET_SECRET"], algorithm=WIDGET_TOKEN_ALGORITHM)


def practice_user_for_token(token: str) -> PracticeUser:
    try:
        claims = jwt.decode(
            token,
            current_app.config["WIDGET_SECRET"],
            algorithms=[WIDGET_TOKEN_ALGORITHM],
            # The expiry is checked below against the one clock (helpdesk.core.clock), not PyJWT's.
            options={"require": list(WIDGET_TOKEN_REQUIRED_CLAIMS), "verify_exp": False},
        )
    except jwt.PyJWTError as exc:
        raise Unauthenticated("invalid_token", f"the widget token is not valid: {exc}") from exc
    practice, sub = claims.get("practice"), claims.get("sub")
    if not isinstance(practice, str) or not practice or not isinstance(sub, str) or not sub:
        raise Unauthenticated("invalid_token", "the widget token must name a practice and a user")
    expires_at = claims.get("exp")
    if isinstance(expires_at, bool) or not isinstance(expires_at, (int, float)) or unix_now() >= expires_at:
        raise Unauthenticated("token_expired", "the widget token has expired")
    return PracticeUser(
        user_id=sub,
        practice_id=practice,
        name=str(claims.get("name") or ""),
        email=str(claims.get("email") or ""),
        is_admin=bool(claims.get("admin")),
        expires_at=float(expires_at),
    )


def bearer_token() -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("unauthenticated", "send Authorization: Bearer <token>")
    return token.strip()


def api_agent_required(view: Callable[P, R]) -> Callable[P, R]:
    """An agent's personal API token, or the console session (so console pages can call the API)."""

    @wraps(view)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        agent = console_agent() if "Authorization" not in request.headers else None
        if agent is None:
            agent = agent_for_api_token(bearer_token())
        if agent is None:
            raise Unauthenticated("invalid_token", "the API token is not valid")
        g.agent = agent
        return view(*args, **kwargs)

    return wrapper


def practice_user_required(view: Callable[P, R]) -> Callable[P, R]:
    @wraps(view)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        g.practice_user = practice_user_for_token(bearer_token())
        return view(*args, **kwargs)

    return wrapper


def console_agent() -> Agent | None:
    agent_id = session.get("agent_id")
    if agent_id is None:
        return None
    agent = db.session.get(Agent, agent_id)
    if agent is None or not agent.is_active or session.get("agent_auth") != agent.password_hash[-16:]:
        return None
    if not console_sessions.is_live(db.session(), session.get("sid"), agent.id):
        return None  # logged out: a replayed cookie is refused
    return agent


def login_required(view: Callable[P, R]) -> Callable[P, R]:
    @wraps(view)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        agent = console_agent()
        if agent is None:
            return redirect(url_for("console.login", next=request.full_path))  # type: ignore[return-value]
        g.agent = agent
        return view(*args, **kwargs)

    return wrapper


def start_console_session(agent: Agent) -> None:
    session.clear()
    session["agent_id"] = agent.id
    # Tied to the password hash, so changing the password ends every other session.
    session["agent_auth"] = agent.password_hash[-16:]
    session["sid"] = console_sessions.open_session(db.session(), agent.id)  # the caller commits
    session.permanent = True


def end_console_session() -> None:
    """Logout: the server-side record ends too (the caller commits)."""
    console_sessions.end_session(db.session(), session.get("sid"))
    session.clear()


# --- practice users in the browser (Help Center, requests pages) --------------------------------

PRACTICE_USER_SESSION_KEY = "practice_user"


def start_practice_user_session(user: PracticeUser) -> None:
    """Keep a widget-token identity in the session cookie, for the server-rendered pages.

    The token was verified once; the cookie is signed with the app's secret key.
    """
    session[PRACTICE_USER_SESSION_KEY] = {
        "user_id": user.user_id, "practice_id": user.practice_id, "name": user.name,
        "email": user.email, "is_admin": user.is_admin, "expires_at": user.expires_at,
    }


def session_practice_user() -> PracticeUser | None:
    """The Help Center identity, until its widget token's expiry (then it is dropped)."""
    stored = session.get(PRACTICE_USER_SESSION_KEY)
    if not isinstance(stored, dict):
        return None
    try:
        user = PracticeUser(**stored)
    except TypeError:
        user = None
    if user is None or not user.expires_at or user.expired:
        session.pop(PRACTICE_USER_SESSION_KEY, None)
        return None
    return user


def end_practice_user_session() -> None:
    session.pop(PRACTICE_USER_SESSION_KEY, None)


# --- sockets: the ``auth`` object of the Socket.IO handshake ---------------------------------

CONSOLE_TOKEN_PREFIX = "hdc_"
CONSOLE_TOKEN_SALT = "chat.console-socket"
CONSOLE_TOKEN_MAX_AGE = 12 * 3600
TOKEN_MAX_LENGTH = 4096


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=CONSOLE_TOKEN_SALT)


def console_socket_token(agent: Agent) -> str:
    """For the console page: tied to the agent's password hash, like the console session."""
    claims = {"a": agent.id, "p": agent.password_hash[-16:], "s": session.get("sid")}
    return CONSOLE_TOKEN_PREFIX + _serializer().dumps(claims)


def _agent_for_console_token(token: str) -> Agent | None:
    try:
        claims = _serializer().loads(token[len(CONSOLE_TOKEN_PREFIX):], max_age=CONSOLE_TOKEN_MAX_AGE)
    except BadSignature:
        return None
    agent = db.session.get(Agent, claims.get("a")) if isinstance(claims, dict) else None
    if agent is None or not agent.is_active or agent.password_hash[-16:] != claims.get("p"):
        return None
    if not console_sessions.is_live(db.session(), claims.get("s"), agent.id):
        return None  # the console session it was issued for has ended
    return agent


def authenticate_socket(auth: Any) -> Agent | PracticeUser:
    """The caller behind ``auth`` (the Socket.IO handshake's auth object), or ``DomainError`` 401."""
    token = auth.get("token") if isinstance(auth, dict) else None
    if not isinstance(token, str) or not token.strip():
        raise Unauthenticated("unauthenticated", 'connect with auth: {"token": "<widget or agent token>"}')
    token = token.strip()
    if len(token) > TOKEN_MAX_LENGTH:
        raise Unauthenticated("invalid_token", "the token is not valid")
    if token.startswith(API_TOKEN_PREFIX) or token.startswith(CONSOLE_TOKEN_PREFIX):
        agent = agent_for_api_token(token) if token.startswith(API_TOKEN_PREFIX) else _agent_for_console_token(token)
        if agent is None:
            raise Unauthenticated("invalid_token", "the agent token is not valid")
        return agent
    return practice_user_for_token(token)


def session_ended(token: str, practice_user: PracticeUser | None = None) -> DomainError | None:
    """Why a socket's identity no longer holds (token revoked or expired, agent deactivated,
    console session logged out), or ``None``; asked on every event. An agent's token is looked up
    again (one indexed lookup), since it can be revoked at any moment. A widget token is signed
    and self-contained: once verified at connect (``practice_user``, the identity it vouched for)
    only its expiry can end it, so no signature is checked again."""
    if practice_user is not None:
        return Unauthenticated("token_expired", "the widget token has expired") if practice_user.expired else None
    try:
        authenticate_socket({"token": token})
    except DomainError as exc:
        return exc
    return None


def rate_limit_key() -> str:
    """Who a request counts against (Flask-Limiter's key): the verified identity, never the raw
    header text (which a caller varies at will to get a fresh bucket). A widget token counts
    against its practice and user, an agent's token or console session against the agent;
    anything unverified against the client address."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() == "bearer" and token and len(token) <= TOKEN_MAX_LENGTH:
        if token.startswith(API_TOKEN_PREFIX):
            agent = agent_for_api_token(token)
            if agent is not None:
                return f"agent:{agent.id}"
        else:
            try:
                user = practice_user_for_token(token)
            except DomainError:
                user = None
            if user is not None:
                return f"practice:{user.practice_id}:user:{user.user_id}"
    elif not header and session.get("agent_id") is not None:
        agent = console_agent()
        if agent is not None:
            return f"agent:{agent.id}"
    return f"addr:{request.remote_addr or 'unknown'}"
