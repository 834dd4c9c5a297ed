"""The answer desk: an assistant that answers a practice's chat (and the widget's one box) from
the practice's own booking facts and our articles, and hands off to a person when it should.

``init_app`` registers its API and its Socket.IO handlers (before ``chat.events`` binds them).
"""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from chat.assistant import api, events, report  # noqa: F401  (events registers its handlers on import)
    from helpdesk.core.extensions import csrf
    from helpdesk.workspace.reports import register_report

    app.register_blueprint(api.bp)
    csrf.exempt(api.bp)  # bearer tokens only, never a cookie
    register_report("assistant", report.assistant_outcomes)  # its resolved share on the reports page
