"""Booking data: practices, bookings and their delivery facts, integration events; the signed
ingest (``ingest``), the diagnosis (``diagnosis``, pure rules), read paths (``queries``), JSON
shapes (``presenters``), the API (``api``), the console's practice pages (``views``) and the
demo world (``demo``).
"""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from helpdesk.bookings import api, demo, diagnosis, views
    from helpdesk.core.extensions import csrf
    from helpdesk.core.knowledge import register_cause_codes
    from helpdesk.core.views import set_console_home

    app.register_blueprint(api.bp)
    csrf.exempt(api.bp)  # signed by HMAC or by a bearer token, never by a cookie
    app.register_blueprint(views.bp)
    set_console_home(app, "practices.practices")
    app.cli.add_command(demo.demo_group())
    register_cause_codes(app, diagnosis.CAUSE_CODES)
