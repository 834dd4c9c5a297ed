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

    from helpdesk import db
    from helpdesk.extensions import csrf, limiter, socketio

    db.init_app(app)
    csrf.init_app(app)
    limiter.init_app(app)
    socketio.init_app(
        app,
        async_mode=app.config["ASYNC_MODE"],
        message_queue=app.config["SOCKETIO_MESSAGE_QUEUE"],
        cors_allowed_origins=app.config["ALLOWED_ORIGINS"] or None,
    )

    from helpdesk import api, cli, errors, views

    errors.init_app(app)
    app.register_blueprint(api.bp)
    csrf.exempt(api.bp)
    app.register_blueprint(views.bp)
    cli.init_app(app)
    return app
