"""Errors: JSON bodies ``{"error": {"code", "message"}}`` for the API, pages for the console."""

from __future__ import annotations

from typing import Any

from flask import Flask, abort, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException


class ApiError(Exception):
    """An error the caller can act on; raised from services and views alike."""

    def __init__(self, status: int, code: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.extra = extra

    def to_dict(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, **self.extra}}


def not_found(what: str = "resource") -> ApiError:
    return ApiError(404, "not_found", f"{what} not found")


def _wants_json() -> bool:
    return request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json"


def _http_code(exc: HTTPException) -> str:
    return (exc.name or "error").lower().replace(" ", "_").replace("'", "")


def init_app(app: Flask) -> None:
    @app.before_request
    def _refuse_nul_in_path() -> None:
        # No id, slug or reference holds one, and PostgreSQL refuses it in text: say so, not 500.
        if "\x00" in request.path:
            abort(404)

    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError):  # type: ignore[no-untyped-def]
        return jsonify(exc.to_dict()), exc.status

    @app.errorhandler(CSRFError)
    def _csrf_error(exc: CSRFError):  # type: ignore[no-untyped-def]
        if _wants_json():
            return jsonify({"error": {"code": "csrf_failed", "message": exc.description}}), 400
        return render_template("helpdesk/error.html", status=400, message=exc.description), 400

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):  # type: ignore[no-untyped-def]
        status = exc.code or 500
        if _wants_json():
            body = {"error": {"code": _http_code(exc), "message": exc.description}}
            return jsonify(body), status
        return render_template("helpdesk/error.html", status=status, message=exc.description), status
