"""Flask extensions, created unbound and attached by the app factory."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask
from flask_limiter import Limiter
from flask_socketio import SocketIO
from flask_wtf import CSRFProtect

from helpdesk.core.sockets import GuardedPacket, without_websocket_compression

csrf = CSRFProtect()
limiter = Limiter(key_func=lambda: _rate_limit_key(), default_limits=[])
socketio = SocketIO()


def _rate_limit_key() -> str:
    from helpdesk.core.auth import (
        rate_limit_key,  # the verified identity (auth imports the models)
    )

    return rate_limit_key()


def init_extensions(app: Flask) -> None:
    csrf.init_app(app)
    limiter.init_app(app)
    queue = app.config["SOCKETIO_MESSAGE_QUEUE"]
    manager: dict[str, Any] = {}
    socketio.server_options.pop("client_manager", None)  # never the previous app's
    if queue and queue.startswith(("redis://", "rediss://")):  # a listener that notices Redis going away
        from helpdesk.core.pubsub import WatchfulRedisManager

        manager["client_manager"] = WatchfulRedisManager(queue, channel=app.config["SOCKETIO_CHANNEL"])
    socketio.init_app(
        app,
        **manager,
        async_mode=app.config["ASYNC_MODE"],
        message_queue=queue,
        channel=app.config["SOCKETIO_CHANNEL"],
        cors_allowed_origins=origin_check(app.config["ALLOWED_ORIGINS"], app.config.get("PROXY_FIX", 0) > 0),
        serializer=GuardedPacket,  # helpdesk.core.sockets: the guard on every packet a client sends
        # A client's events run in its connection's reader, one after another, not each in a green
        # thread of its own: spawning one was about 5 % of a chat message's instructions (bench/chat.py
        # throughput --callgrind), and a client's messages are now handled in the order it sent them.
        # No handler waits for another event of the same client (python-socketio's call() is refused).
        async_handlers=False,
    )
    if not app.config["WEBSOCKET_COMPRESSION"]:
        app.wsgi_app = without_websocket_compression(app.wsgi_app)  # type: ignore[method-assign]


def origin_check(allowed: list[str], trust_proxy: bool = False) -> Callable[[str | None, dict[str, Any]], bool]:
    """Engine.IO's ``cors_allowed_origins``: the helpdesk's own origin, plus ``HELPDESK_ALLOWED_ORIGINS``.

    A browser always sends ``Origin`` on a WebSocket handshake, so a page on another site (a
    cross-site WebSocket hijacking attempt) is refused; clients that send no ``Origin`` (servers,
    the tests' python client) are let through to the token check. A plain list in
    ``cors_allowed_origins`` would refuse the helpdesk's own pages as soon as one extra origin
    is configured (the portal that frames the widget), hence this function.

    ``X-Forwarded-Host``/``-Proto`` are the caller's to choose unless a proxy sets them: they
    count only with ``trust_proxy`` (``HELPDESK_PROXY_FIX`` > 0, a proxy in front that
    overwrites them).
    """
    extra = {origin.rstrip("/") for origin in allowed}

    def allowed_origin(origin: str | None, environ: dict[str, Any]) -> bool:
        if not origin:
            return True
        own = {f"{environ.get('wsgi.url_scheme', 'http')}://{environ.get('HTTP_HOST', '')}"}
        if trust_proxy and ("HTTP_X_FORWARDED_HOST" in environ or "HTTP_X_FORWARDED_PROTO" in environ):
            scheme = environ.get("HTTP_X_FORWARDED_PROTO", environ.get("wsgi.url_scheme", "http")).split(",")[0].strip()
            host = environ.get("HTTP_X_FORWARDED_HOST", environ.get("HTTP_HOST", "")).split(",")[0].strip()
            own.add(f"{scheme}://{host}")
        return origin in own or origin in extra

    return allowed_origin
