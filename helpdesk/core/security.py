"""What every response says about itself, and what the app trusts about its surroundings.

* Headers: every HTML page gets a Content-Security-Policy without inline script, and
  ``frame-ancestors 'none'`` unless the view set its own policy (the widget panel and the chat
  page list the portals allowed to frame them, ``HELPDESK_WIDGET_ORIGINS``); every response gets
  ``X-Content-Type-Options: nosniff`` and a ``Referrer-Policy``; HSTS when cookies are secure.
* Proxies: ``X-Forwarded-*`` is believed only with ``HELPDESK_PROXY_FIX`` = the number of proxies
  in front (werkzeug's ProxyFix), never by default.
* Links: outside the embedded default (``HELPDESK_DATABASE_URL`` set), ``HELPDESK_PUBLIC_URL`` is
  required, so links in emails never depend on the address a request came in on.
"""

from __future__ import annotations

import os

from flask import Flask, Response, current_app
from flask.sessions import SecureCookieSessionInterface
from itsdangerous import URLSafeTimedSerializer
from werkzeug.middleware.proxy_fix import ProxyFix

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
REFERRER_POLICY = "strict-origin-when-cross-origin"
HSTS = "max-age=31536000; includeSubDomains"


class SessionCookies(SecureCookieSessionInterface):
    """Flask's signed session cookie, with its serializer built once per set of keys.

    Flask builds it for every request, and Flask-SocketIO pushes a request context, so opens
    the session, for every Socket.IO event: building it was about 4 % of a chat message's server
    time. The serializer holds nothing per request; a changed key or fallback list builds a new one.
    """

    _serializers: dict[tuple[object, ...], URLSafeTimedSerializer | None]

    def __init__(self) -> None:
        self._serializers = {}

    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:
        keys = (app.secret_key, *(app.config["SECRET_KEY_FALLBACKS"] or ()))
        if keys not in self._serializers:
            self._serializers = {keys: super().get_signing_serializer(app)}
        return self._serializers[keys]


class ConfigurationError(RuntimeError):
    """The app refuses to start with a setting that would make it unsafe."""


def _headers(response: Response) -> Response:
    headers = response.headers
    if response.mimetype == "text/html" and "Content-Security-Policy" not in headers:
        headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", REFERRER_POLICY)
    if current_app.config.get("SESSION_COOKIE_SECURE"):
        headers.setdefault("Strict-Transport-Security", HSTS)
    return response


def check_public_url(app: Flask) -> None:
    """Links in emails come from ``PUBLIC_URL``: required once a real database is configured."""
    if app.config.get("TESTING") or app.config.get("PUBLIC_URL") or os.environ.get("FLASK_RUN_FROM_CLI") == "true":
        return  # CLI commands (db upgrade, agents ...) send no links
    if os.environ.get("HELPDESK_DATABASE_URL"):
        raise ConfigurationError(
            "HELPDESK_PUBLIC_URL is required when HELPDESK_DATABASE_URL is set "
            "(e.g. https://help.example.com): links in emails must not come from a request's Host header")


def init_app(app: Flask) -> None:
    """After the extensions: ProxyFix wraps everything, Socket.IO included."""
    check_public_url(app)
    app.session_interface = SessionCookies()
    proxies = int(app.config.get("PROXY_FIX") or 0)
    if proxies > 0:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies,  # type: ignore[method-assign]
                                x_port=proxies, x_prefix=proxies)
    app.after_request(_headers)
