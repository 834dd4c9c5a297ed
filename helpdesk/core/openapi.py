"""The API's contract, served as written: ``/api/v1/openapi.yaml`` and ``/api/v1/openapi.json``."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import yaml
from flask import Blueprint, Flask, Response, jsonify

OPENAPI_PATH = Path(__file__).with_name("openapi.yaml")
bp = Blueprint("openapi", __name__, url_prefix="/api/v1")


@cache
def document() -> dict[str, Any]:
    return yaml.safe_load(OPENAPI_PATH.read_text())


@bp.get("/openapi.yaml")
def openapi_yaml() -> Response:
    return Response(OPENAPI_PATH.read_text(), mimetype="application/yaml")


@bp.get("/openapi.json")
def openapi_json() -> Response:
    return jsonify(document())


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
