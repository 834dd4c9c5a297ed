"""Who is on the other end of a Socket.IO connection, from the ``auth`` token it sent.

Three kinds of token: an agent's personal API token (``hdt_...``), the console's short-lived
socket token (``hdc_...``, minted for a logged-in console page), or a practice user's widget JWT.
Cookies alone never authenticate a socket (DESIGN.md).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import current_app
from itsdangerous import BadSignature, URLSafeTimedSerializer

from helpdesk import db
from helpdesk.auth import API_TOKEN_PREFIX, PracticeUser, agent_for_api_token, practice_user_for_token
from helpdesk.errors import ApiError
from helpdesk.models import Agent

CONSOLE_TOKEN_PREFIX = "hdc_"
CONSOLE_TOKEN_SALT = "chat.console-socket"
CONSOLE_TOKEN_MAX_AGE = 12 * 3600
TOKEN_MAX_LENGTH = 4096


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=CONSOLE_TOKEN_SALT)


def console_socket_token(agent: Agent) -> str:
    """For the console page: tied to the agent's password hash, like the console session."""
    return CONSOLE_TOKEN_PREFIX + _serializer().dumps({"a": agent.id, "p": agent.password_hash[-16:]})


def _agent_for_console_token(token: str) -> Agent | None:
    try:
        claims = _serializer().loads(token[len(CONSOLE_TOKEN_PREFIX):], max_age=CONSOLE_TOKEN_MAX_AGE)
    except BadSignature:
        return None
    agent = db.session.get(Agent, claims.get("a")) if isinstance(claims, dict) else None
    if agent is None or not agent.is_active or agent.password_hash[-16:] != claims.get("p"):
        return None
    return agent


def authenticate(auth: Any) -> Agent | PracticeUser:
    """The caller behind ``auth`` (the Socket.IO handshake's auth object), or ``ApiError`` 401."""
    token = auth.get("token") if isinstance(auth, dict) else None
    if not isinstance(token, str) or not token.strip():
        raise ApiError(401, "unauthenticated", 'connect with auth: {"token": "<widget or agent token>"}')
    token = token.strip()
    if len(token) > TOKEN_MAX_LENGTH:
        raise ApiError(401, "invalid_token", "the token is not valid")
    if token.startswith(API_TOKEN_PREFIX) or token.startswith(CONSOLE_TOKEN_PREFIX):
        agent = agent_for_api_token(token) if token.startswith(API_TOKEN_PREFIX) else _agent_for_console_token(token)
        if agent is None:
            raise ApiError(401, "invalid_token", "the agent token is not valid")
        return agent
    return practice_user_for_token(token)


def origin_check(allowed: list[str]) -> Callable[[str | None, dict[str, Any]], bool]:
    """Engine.IO's ``cors_allowed_origins``: the helpdesk's own origin, plus ``HELPDESK_ALLOWED_ORIGINS``.

    A browser always sends ``Origin`` on a WebSocket handshake, so a page on another site (a
    cross-site WebSocket hijacking attempt) is refused; clients that send no ``Origin`` (servers,
    the tests' python client) are let through to the token check. A plain list in
    ``cors_allowed_origins`` would refuse the helpdesk's own pages as soon as one extra origin
    is configured (the portal that frames the widget), hence this function.
    """
    extra = {origin.rstrip("/") for origin in allowed}

    def allowed_origin(origin: str | None, environ: dict[str, Any]) -> bool:
        if not origin:
            return True
        own = {f"{environ.get('wsgi.url_scheme', 'http')}://{environ.get('HTTP_HOST', '')}"}
        if "HTTP_X_FORWARDED_HOST" in environ or "HTTP_X_FORWARDED_PROTO" in environ:  # behind the proxy
            scheme = environ.get("HTTP_X_FORWARDED_PROTO", environ.get("wsgi.url_scheme", "http")).split(",")[0].strip()
            host = environ.get("HTTP_X_FORWARDED_HOST", environ.get("HTTP_HOST", "")).split(",")[0].strip()
            own.add(f"{scheme}://{host}")
        return origin in own or origin in extra

    return allowed_origin
