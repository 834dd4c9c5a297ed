"""Knowledge base / Help Center: categories, sections, articles, search, votes, follows,
comments, authoring and the Markdown folder import/export. See kb/README.md."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from helpdesk.core.errors import register_error_surface
    from helpdesk.core.extensions import csrf
    from helpdesk.core.knowledge import register_article_finder
    from helpdesk.outbox.sender import register_feeder
    from kb import api, cli, console, outbox, queries, views

    app.register_blueprint(views.bp)
    app.register_blueprint(api.bp)
    csrf.exempt(api.bp)
    app.register_blueprint(console.bp)
    app.cli.add_command(cli.kb_group())
    register_feeder(app, outbox.feed)
    register_article_finder(app, queries.articles_for_keys)
    register_error_surface(app, "/hc", "kb/error.html", {
        404: "We could not find that page. It may have moved, or it is not published.",
        429: "That was a lot at once. Please wait a minute and try again.",
    })
