"""Errors: domain exceptions, and their one mapping to each surface.

Services raise a :class:`DomainError` subclass that says what went wrong (not found, a conflict,
bad input...), never an HTTP status. This module maps it once per surface: the JSON API answers
``{"error": {"code", "message", ...}}``; an HTML surface (the console, the Help Center) renders
its one error template. Domains register their HTML surface by URL prefix in ``init_app``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flask import Flask, Response, abort, current_app, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException


class DomainError(Exception):
    """Something the caller can act on; ``code`` is stable, ``message`` is for people."""

    def __init__(self, code: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.extra = extra

    def to_dict(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, **self.extra}}


class BadInput(DomainError):
    """The request itself is malformed (not JSON, a missing header, an unreadable cursor)."""


class Unauthenticated(DomainError):
    """No identity, or one that is not (or no longer) valid."""


class Forbidden(DomainError):
    """A valid identity that may not do this."""


class NotFound(DomainError):
    """No such object, or not one the caller may see (tenancy answers the same)."""


class Conflict(DomainError):
    """The object's state does not allow this now (a closed request, a duplicate)."""


class TooLarge(DomainError):
    """A body, a batch or an attachment over its limit."""


class UnsupportedMedia(DomainError):
    """An attachment of a type we do not accept."""


class LengthRequired(DomainError):
    """A chunked body where the server cannot bound its length."""


class InvalidInput(DomainError):
    """Well-formed, but a field's value is not acceptable; ``field`` names it."""


class RateLimited(DomainError):
    """Too many at once; ``retry_after`` (seconds) when known."""


class Unavailable(DomainError):
    """A dependency (the database) is down: try again later."""


HTTP_STATUS: dict[type[DomainError], int] = {
    BadInput: 400,
    Unauthenticated: 401,
    Forbidden: 403,
    NotFound: 404,
    Conflict: 409,
    LengthRequired: 411,
    TooLarge: 413,
    UnsupportedMedia: 415,
    InvalidInput: 422,
    RateLimited: 429,
    Unavailable: 503,
}


def http_status(exc: DomainError) -> int:
    for kind in type(exc).__mro__:
        if kind in HTTP_STATUS:
            return HTTP_STATUS[kind]
    return 400


def not_found(what: str = "resource") -> NotFound:
    return NotFound("not_found", f"{what} not found")


# --- surfaces --------------------------------------------------------------------------------

CONSOLE_ERROR_TEMPLATE = "helpdesk/error.html"


@dataclass
class Surface:
    """An HTML surface: its URL prefix, its error template, and its own words for some statuses."""

    prefix: str
    template: str | None = None
    messages: dict[int, str] = field(default_factory=dict)


def register_error_surface(app: Flask, prefix: str, template: str | None = None,
                           messages: dict[int, str] | None = None) -> None:
    """Pages under ``prefix`` show errors with ``template`` (or the enclosing surface's)."""
    app.extensions.setdefault("error_surfaces", []).append(Surface(prefix, template, dict(messages or {})))


def _surfaces_for(path: str) -> list[Surface]:
    """The surfaces that contain ``path``, innermost first."""
    surfaces = current_app.extensions.get("error_surfaces", [])
    inside = [s for s in surfaces if path == s.prefix or path.startswith(s.prefix.rstrip("/") + "/")]
    return sorted(inside, key=lambda s: len(s.prefix), reverse=True)


def wants_json() -> bool:
    return request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json"


def _json_error(status: int, code: str, message: str, headers: dict[str, str] | None = None,
                **extra: Any) -> tuple[Response, int, dict[str, str]]:
    return jsonify({"error": {"code": code, "message": message, **extra}}), status, headers or {}


def error_page(status: int, message: str) -> tuple[str, int]:
    """The error page of the surface the request is on."""
    surfaces = _surfaces_for(request.path)
    template = next((s.template for s in surfaces if s.template), CONSOLE_ERROR_TEMPLATE)
    worded = next((s.messages[status] for s in surfaces if status in s.messages), "")
    return render_template(template, status=status, message=message or worded), status


def _http_code(exc: HTTPException) -> str:
    return (exc.name or "error").lower().replace(" ", "_").replace("'", "")


def _http_headers(exc: HTTPException) -> dict[str, str]:
    """Keep what the exception says about itself (``Allow`` on 405, ``Retry-After`` on 429)."""
    keep = {"allow", "retry-after", "www-authenticate"}
    return {name: value for name, value in exc.get_headers() if name.lower() in keep}


def init_app(app: Flask) -> None:
    @app.before_request
    def _refuse_nul_in_path() -> None:
        # No id, slug or reference holds one, and PostgreSQL refuses it in text: say so, not 500.
        if "\x00" in request.path:
            abort(404)

    @app.errorhandler(DomainError)
    def _domain_error(exc: DomainError):  # type: ignore[no-untyped-def]
        status = http_status(exc)
        if wants_json():
            headers = {"Retry-After": str(exc.extra["retry_after"])} if "retry_after" in exc.extra else {}
            return jsonify(exc.to_dict()), status, headers
        return error_page(status, exc.message)

    @app.errorhandler(OperationalError)
    def _database_down(exc: OperationalError):  # type: ignore[no-untyped-def]
        # The database is unreachable (PostgreSQL restarting, a dropped connection) or busy:
        # one answer for every route, 503 and try again; the pool's pre-ping reconnects later.
        current_app.logger.warning("database unavailable: %s", str(exc.orig).strip()[:200])
        return _domain_error(Unavailable("database_unavailable", "the database is unavailable; try again shortly",
                                         retry_after=5))

    @app.errorhandler(CSRFError)
    def _csrf_error(exc: CSRFError):  # type: ignore[no-untyped-def]
        if wants_json():
            return _json_error(400, "csrf_failed", exc.description or "the form has expired")
        return error_page(400, exc.description or "The form has expired: go back, reload and try again.")

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):  # type: ignore[no-untyped-def]
        status = exc.code or 500
        if wants_json():
            return _json_error(status, _http_code(exc), exc.description or "", _http_headers(exc))
        # Werkzeug's stock sentence gives way to the surface's own words for that status.
        specific = exc.description if exc.description != type(exc).description else ""
        page, code = error_page(status, specific or "")
        return page, code, _http_headers(exc)
