"""Practice Helpdesk: the application factory."""

from __future__ import annotations

from typing import Any

from flask import Flask

from helpdesk.config import INSTANCE_DIR, Config


def create_app(overrides: dict[str, Any] | None = None) -> Flask:
    app = Flask(__name__, instance_path=str(INSTANCE_DIR), instance_relative_config=False)
    app.config.from_mapping(Config().as_mapping())
    if overrides:
        app.config.update(overrides)

    from chat.identity import origin_check
    from helpdesk import db
    from helpdesk.extensions import csrf, limiter, socketio

    db.init_app(app)
    csrf.init_app(app)
    limiter.init_app(app)
    socketio.init_app(
        app,
        async_mode=app.config["ASYNC_MODE"],
        message_queue=app.config["SOCKETIO_MESSAGE_QUEUE"],
        channel=app.config["SOCKETIO_CHANNEL"],
        cors_allowed_origins=origin_check(app.config["ALLOWED_ORIGINS"]),  # own origin + the listed ones
    )

    from helpdesk import api, cli, errors, views

    errors.init_app(app)
    app.register_blueprint(api.bp)
    csrf.exempt(api.bp)
    app.register_blueprint(views.bp)
    from helpdesk.requests import api as requests_api, views as requests_views  # requests (issue 4)

    app.register_blueprint(requests_api.bp)
    csrf.exempt(requests_api.bp)
    app.register_blueprint(requests_views.hc)
    app.register_blueprint(requests_views.console)
    from kb import api as kb_api, console as kb_console, views as kb_views  # knowledge base (issue 3)

    app.register_blueprint(kb_views.bp)
    app.register_blueprint(kb_api.bp)
    csrf.exempt(kb_api.bp)
    app.register_blueprint(kb_console.bp)
    import chat  # live chat (issue 5): its pages and the /chat Socket.IO namespace

    chat.init_app(app)
    from helpdesk import widget  # the embeddable help widget (issue 6): widget.js, the panel, /demo/portal

    widget.init_app(app)
    cli.init_app(app)
    return app
