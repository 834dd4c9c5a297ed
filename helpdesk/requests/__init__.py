"""Requests (the helpdesk's tickets): submitting, the requester's side, the agent queue.

``models`` (requests, comments, attachments), ``service`` (the verbs), ``queries`` (queues,
search, visibility), ``api`` (``/api/v1/requests``), ``views`` (the Help Center's request pages
and the console's queue), ``storage`` (attachments under ``instance/``).
"""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from helpdesk.core.errors import register_error_surface
    from helpdesk.core.extensions import csrf
    from helpdesk.requests import api, cli, views

    app.register_blueprint(api.bp)
    csrf.exempt(api.bp)
    app.register_blueprint(views.hc)
    app.register_blueprint(views.console)
    app.cli.add_command(cli.requests_group())
    from helpdesk.requests import mail

    mail.init_app(app)  # the email channel: `flask mail serve`
    limit_mb = int(app.config.get("MAX_CONTENT_LENGTH") or 0) // (1024 * 1024)
    register_error_surface(app, "/hc/requests", messages={
        404: "There is no such request, or it is not yours to see.",
        413: f"That was too much to upload at once: attachments may be at most 10 MB each and {limit_mb} MB in all.",
        429: "Too many requests were submitted from here. Please wait a few minutes and try again.",
    })
