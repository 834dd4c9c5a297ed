"""Live chat: conversations between practice users and agents, their messages, the Socket.IO
namespace ``/chat`` and its delivery guarantees, with booking diagnostics beside every chat.

``init_app`` registers the pages (``chat.views``) and the Socket.IO handlers (``chat.events``).
"""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from chat import events, views

    app.register_blueprint(views.bp)
    app.register_blueprint(views.widget_bp)
    app.add_template_global(views.request_transcript, "chat_transcript")  # the request's pages (chat/_request_transcript.html)
    from chat import assistant

    assistant.init_app(app)  # the answer desk: its handlers join /chat before events binds them
    events.init_app(app)
    from chat import (
        incidents,  # Socket.IO ``incident`` events (helpdesk.bookings.incidents)
    )

    incidents.init_app(app)
