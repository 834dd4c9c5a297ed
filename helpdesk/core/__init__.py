"""The kernel every domain builds on; it imports no domain package.

``config``, ``db`` (Base, session, the UTC type, SQLite tuning), ``clock`` (the one source of
"now"), ``extensions``, ``errors`` (domain exceptions and their mapping to HTTP), ``auth`` (who
is calling), ``tenancy`` (load-and-authorize), ``audit``, ``agents``, ``passwords``, ``signing``,
``text`` and ``web`` (small shared helpers), ``views`` (console sign-in), ``openapi`` and ``cli``.
"""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from helpdesk.core import cli, db, errors, guard, openapi, security, views, worker
    from helpdesk.core.extensions import init_extensions

    guard.init_app(app)  # first: the int converter applies to routes registered after it
    db.init_app(app)
    init_extensions(app)
    security.init_app(app)  # after Socket.IO: ProxyFix wraps it too
    errors.init_app(app)
    app.register_blueprint(views.bp)
    openapi.init_app(app)
    cli.init_app(app)
    app.cli.add_command(worker.worker_group())  # `flask worker run`: the loops' own process
