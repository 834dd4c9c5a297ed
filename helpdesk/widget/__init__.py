"""The embeddable help widget: ``/widget.js`` for the practice portal, the panel it
opens in an iframe (``/widget/panel``), the panel's JSON helpers under ``/api/v1/me/widget/``,
and ``/demo/portal``, a stand-in practice portal with the widget embedded.

The panel puts the other packages together: the knowledge base (``kb``), requests
(``helpdesk.requests``), the booking diagnosis (``helpdesk.bookings``) and live chat (``chat``,
whose widget chat page is framed inside the panel).
"""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from helpdesk.widget import cli, views

    app.register_blueprint(views.bp)
    app.cli.add_command(cli.widget_token_command)
