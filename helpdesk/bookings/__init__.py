"""Booking data: practices, bookings and their delivery facts, integration events; the signed
ingest (``ingest``), the diagnosis (``diagnosis``, pure rules), read paths (``queries``), JSON
shapes (``presenters``), the API (``api``), the console's practice pages (``views``) and the
demo world (``demo``).
"""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from helpdesk.bookings import (
        api,
        demo,
        diagnosis,
        incidents,
        incidents_api,
        incidents_views,
        ingest,
        projection,
        views,
        watch,
    )
    from helpdesk.core.extensions import csrf
    from helpdesk.core.knowledge import register_cause_codes
    from helpdesk.core.views import set_console_home
    from helpdesk.core.worker import register_loop

    app.register_blueprint(api.bp)
    csrf.exempt(api.bp)  # signed by HMAC or by a bearer token, never by a cookie
    app.register_blueprint(views.bp)
    app.register_blueprint(incidents_api.bp)
    csrf.exempt(incidents_api.bp)  # bearer tokens only
    app.register_blueprint(incidents_views.bp)
    register_loop(app, "watch", watch.run_forever, "WATCH_LOOP")  # sweep + digest (helpdesk/core/worker.py)
    register_loop(app, "projection", projection.run_forever, "PROJECTION_LOOP")  # queued bulk ingest
    for group in (*watch.groups(), projection.group()):
        app.cli.add_command(group)

    def announce_after_ingest(sender: Flask, **_kw: object) -> None:
        from helpdesk.core import db

        incidents.announce(sender, db.session())

    ingest.events_ingested.connect(announce_after_ingest, weak=False)

    @app.template_global("open_incident_for")
    def open_incident_for(practice_id: str) -> object:
        """For any console page about a practice (requests, chats): its open incident, linked."""
        from helpdesk.core import db

        return incidents.open_incident_for(db.session(), practice_id)

    from helpdesk.workspace.counts import register_count

    register_count("open_incidents", incidents.open_incident_count)  # the navigation shows it
    set_console_home(app, "practices.practices")
    app.cli.add_command(demo.demo_group())
    register_cause_codes(app, diagnosis.CAUSE_CODES)
