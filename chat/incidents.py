"""Push ``incident`` events on ``/chat``: to every agent (room ``agents``) and to the affected
practices' diagnostics rooms, when ``helpdesk.bookings.incidents`` reports a committed change."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask

from helpdesk.bookings import incidents
from helpdesk.bookings.models import Incident
from helpdesk.core import db
from helpdesk.core.extensions import socketio

log = logging.getLogger(__name__)


def on_incident_changed(app: Flask, incident_ids: Any = (), **_kw: Any) -> None:
    from chat.events import NAMESPACE, diagnostics_room

    try:
        session = db.session()
        payloads = [incidents.incident_summary(session, found)
                    for found in (session.get(Incident, i) for i in incident_ids or ()) if found is not None]
        db.session.rollback()  # read only; free SQLite's lock before any socket I/O
        for payload in payloads:
            socketio.emit("incident", payload, to="agents", namespace=NAMESPACE)
            for practice in payload["practices"]:
                socketio.emit("incident", payload, to=diagnostics_room(practice["id"]), namespace=NAMESPACE)
    except Exception:  # the change is committed; a failed live push must not undo it
        db.session.rollback()
        log.exception("could not push incidents %s", incident_ids)


def init_app(app: Flask) -> None:
    incidents.incident_changed.connect(on_incident_changed, weak=False)
