"""``GET /api/v1/search?q=`` and ``GET /api/v1/workspace/counts``, for agents (token or console)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, g, request

from helpdesk.core import db
from helpdesk.core.audit import AuditAction, audit_request
from helpdesk.core.auth import api_agent_required
from helpdesk.workspace import counts as counts_module
from helpdesk.workspace import search as search_module

bp = Blueprint("workspace_api", __name__, url_prefix="/api/v1")


def run_search(raw: str | None) -> list[search_module.Result]:
    """Search, and record in the audit log each practice whose booking data the answer shows."""
    session = db.session()
    results = search_module.search(session, raw)
    q = search_module.clean_query(raw)
    for practice_id in sorted(search_module.practices_touched(results)):
        shown = [r.id for r in results if r.practice_id == practice_id and r.kind in ("booking", "patient")]
        audit_request(AuditAction.SEARCH_BOOKINGS, practice_id, q[:200], references=shown)
    return results


@bp.get("/search")
@api_agent_required
def search() -> dict[str, Any]:
    results = run_search(request.args.get("q"))
    return {"query": search_module.clean_query(request.args.get("q")),
            "results": [r.as_json() for r in results]}


@bp.get("/workspace/counts")
@api_agent_required
def counts() -> dict[str, Any]:
    return counts_module.counts(db.session(), g.agent)
