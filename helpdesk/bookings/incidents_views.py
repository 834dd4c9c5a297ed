"""The console's incidents pages: ``/console/incidents`` (open and resolved) and one incident."""

from __future__ import annotations

from flask import Blueprint, abort, render_template, request

from helpdesk.bookings import incidents
from helpdesk.bookings.models import Incident
from helpdesk.core import db
from helpdesk.core.auth import login_required

bp = Blueprint("incidents", __name__, url_prefix="/console/incidents", template_folder="templates")


@bp.get("")
@login_required
def index() -> str:
    session = db.session()
    state = request.args.get("state") if request.args.get("state") in ("open", "resolved") else None
    rows = [incidents.incident_summary(session, i) for i in incidents.list_incidents(session, state)]
    return render_template("bookings/incidents.html", incidents=rows, state=state)


@bp.get("/<int:incident_id>")
@login_required
def incident(incident_id: int) -> str:
    session = db.session()
    found = session.get(Incident, incident_id)
    if found is None:
        abort(404)
    detail = incidents.incident_detail(session, found)
    tz = detail["practices"][0]["timezone"] if len(detail["practices"]) == 1 else "UTC"
    return render_template("bookings/incident.html", incident=detail, tz=tz)
