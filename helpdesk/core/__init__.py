"""The kernel every domain builds on; it imports no domain package.

``config``, ``db`` (Base, session, the UTC type, SQLite tuning), ``clock`` (the one source of
"now"), ``extensions``, ``errors`` (domain exceptions and their mapping to HTTP), ``auth`` (who
is calling), ``tenancy`` (load-and-authorize), ``audit``, ``agents``, ``passwords``, ``signing``,
``text`` and ``web`` (small shared helpers), ``views`` (console sign-in), ``openapi`` and ``cli``.
"""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from helpdesk.core import cli, db, errors, openapi, views
    from helpdesk.core.extensions import init_extensions

    db.init_app(app)
    init_extensions(app)
    errors.init_app(app)
    app.register_blueprint(views.bp)
    openapi.init_app(app)
    cli.init_app(app)
