"""Practice Helpdesk: the application factory.

The kernel (``helpdesk.core``) comes first, then each domain's ``init_app`` registers its own
blueprints, CLI groups, signals and outbox feeders.
"""

from __future__ import annotations

from typing import Any

from flask import Flask

from helpdesk.core.config import INSTANCE_DIR, Config
from helpdesk.core.routing import BuilderCachingRule


class HelpdeskApp(Flask):
    url_rule_class = BuilderCachingRule  # url_for builders compiled once per process


def create_app(overrides: dict[str, Any] | None = None) -> Flask:
    app = HelpdeskApp(__name__, instance_path=str(INSTANCE_DIR), instance_relative_config=False)
    app.config.from_mapping(Config().as_mapping())
    if overrides:
        app.config.update(overrides)

    import chat
    import kb
    from helpdesk import bookings, core, outbox, requests, widget, workspace

    for package in (core, bookings, kb, requests, outbox, chat, widget, workspace):
        package.init_app(app)
    return app
