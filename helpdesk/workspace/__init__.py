"""The agent's workspace: one search box across practices, counts that never let a chat go unseen,
keyboard shortcuts, reports, and the agent's own profile.

``search`` (the verbs behind the header search), ``counts`` (what is waiting for the agent),
``reports`` (support figures over a period), ``profile`` (name, password, tokens, preferences),
``search_api`` and ``reports_api`` (``/api/v1``), ``views`` (console pages and ``/favicon.ico``).
"""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from helpdesk.core.extensions import csrf
    from helpdesk.workspace import reports_api, search_api, views

    for api in (search_api.bp, reports_api.bp):
        app.register_blueprint(api)
        csrf.exempt(api)
    app.register_blueprint(views.bp)
    views.register(app)
