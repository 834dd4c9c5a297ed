"""The API's contract, served as written: ``/api/v1/openapi.yaml`` and ``/api/v1/openapi.json``."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import yaml
from flask import Blueprint, Flask, Response, jsonify

OPENAPI_PATH = Path(__file__).with_name("openapi.yaml")
bp = Blueprint("openapi", __name__, url_prefix="/api/v1")


# What the request guard (helpdesk/core/guard.py) and the auth decorators may answer on any
# operation: listed once in components/responses, added to each operation that does not say
# otherwise, so a new endpoint is documented for them without repeating them.
GUARD_RESPONSES = {"400": "BadRequest", "411": "LengthRequired", "413": "TooLarge", "429": "RateLimited"}
SECURED_RESPONSES = {"401": "Unauthenticated", "403": "Forbidden"}
HTTP_METHODS = ("get", "put", "post", "delete", "patch", "head", "options")


def with_guard_responses(doc: dict[str, Any]) -> dict[str, Any]:
    default_security = doc.get("security") or []
    for path, item in (doc.get("paths") or {}).items():
        for method in HTTP_METHODS:
            operation = item.get(method)
            if not isinstance(operation, dict):
                continue
            responses = operation.setdefault("responses", {})
            added = dict(GUARD_RESPONSES)
            if operation.get("security", default_security):
                added.update(SECURED_RESPONSES)
            if "{" in path:
                added["404"] = "NotFound"
                added["405"] = "MethodNotAllowed"  # the id is not of its type, and another route has that path
            for status, name in added.items():
                responses.setdefault(status, {"$ref": f"#/components/responses/{name}"})
    return doc


@cache
def document() -> dict[str, Any]:
    """The document as served in JSON: as written, plus the guard's responses on each operation."""
    return with_guard_responses(yaml.safe_load(OPENAPI_PATH.read_text()))


@bp.get("/openapi.yaml")
def openapi_yaml() -> Response:
    return Response(OPENAPI_PATH.read_text(), mimetype="application/yaml")


@bp.get("/openapi.json")
def openapi_json() -> Response:
    return jsonify(document())


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
