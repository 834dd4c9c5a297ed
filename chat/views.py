"""Chat pages: the agent console's chat (``/console/chat``) and the widget's chat page
(``/widget/chat``, served into the portal's iframe). Both pages talk to ``/chat`` over Socket.IO
with the official JavaScript client shipped in ``chat/static/vendor``.
"""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    Response,
    current_app,
    flash,
    g,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)

from chat import queries
from chat.models import PRESENCES, Message
from helpdesk.core import db
from helpdesk.core.auth import console_socket_token, login_required
from helpdesk.core.canned import (
    canned_replies,
    delete_canned_reply,
    find_canned_reply,
    save_canned_reply,
)
from helpdesk.core.errors import DomainError
from helpdesk.core.text import BOOKING_REFERENCE_RE, link_booking_references
from helpdesk.workspace.search import booking_url

# The end-of-chat rating, in words (1 to 5; chat.service.rate stores the number).
RATINGS = ((1, "Very poor"), (2, "Poor"), (3, "Fair"), (4, "Good"), (5, "Excellent"))

# Who wrote a line of a chat, in words, beside their name.
AUTHOR_ROLES = {"practice": "Practice", "agent": "Support", "assistant": "Assistant", "system": "System"}

# Where the console's script puts a message's practice and booking reference into a booking's link.
PRACTICE_SLOT, REFERENCE_SLOT = "PRACTICE_ID", "REFERENCE"

bp = Blueprint("chat", __name__, url_prefix="/console/chat", template_folder="templates",
               static_folder="static", static_url_path="/static")
widget_bp = Blueprint("chat_widget", __name__, url_prefix="/widget", template_folder="templates")


@bp.get("/")
@bp.get("")
@login_required
def console() -> str:
    """The agent's chats. The page opens in the presence the agent last chose (a reload keeps it)."""
    replies = canned_replies(db.session(), order_by="shortcode")
    return render_template("chat/console.html", socket_token=console_socket_token(g.agent), agent=g.agent,
                           canned_replies=replies, me=queries.agent_presence(db.session(), g.agent.id),
                           presences=PRESENCES, reference_pattern=BOOKING_REFERENCE_RE.pattern,
                           booking_url_template=booking_url(PRACTICE_SLOT, REFERENCE_SLOT))


@bp.post("/canned")
@login_required
def save_canned() -> Response:
    try:
        save_canned_reply(db.session(), g.agent, request.form.get("shortcode"), request.form.get("title"),
                                  request.form.get("body"))
        flash("Canned reply saved.")
    except DomainError as exc:
        db.session.rollback()
        flash(f"Not saved: {exc.message}")
    return redirect(url_for("chat.console") + "#canned")  # type: ignore[return-value]


@bp.post("/canned/<shortcode>/delete")
@login_required
def delete_canned(shortcode: str) -> Response:
    delete_canned_reply(db.session(), g.agent, find_canned_reply(db.session(), shortcode))
    flash(f"Canned reply /{shortcode} deleted.")
    return redirect(url_for("chat.console") + "#canned")  # type: ignore[return-value]


@widget_bp.get("/chat")
def widget_chat() -> Response:
    """The practice's chat page. The portal hands the widget token over in the URL fragment
    (``#token=...``, never sent to a server) or by ``postMessage``; the page sends it only in
    the Socket.IO handshake's ``auth``."""
    response = make_response(render_template("chat/widget.html", ratings=RATINGS))
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
    allowed = current_app.config.get("ALLOWED_ORIGINS") or []
    ancestors = " ".join(["'self'", *allowed])
    response.headers["Content-Security-Policy"] = (
        f"default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; style-src 'self'; "
        f"script-src 'self'; frame-ancestors {ancestors}"
    )
    return response


def request_transcript(request_id: int, link_bookings: bool = False) -> dict[str, Any] | None:
    """For a request's pages (``chat_transcript`` in their templates): the chat it was made from,
    line by line with each line's author and time. ``link_bookings`` (the console): the practice's
    booking references link to their diagnosis, as the header search's results do."""
    found = queries.request_transcript(db.session(), request_id)
    if found is None:
        return None
    conversation, messages = found
    return {"conversation_id": conversation.id,
            "lines": [_transcript_line(m, conversation.practice_id, link_bookings) for m in messages]}


def _transcript_line(message: Message, practice_id: str, link_bookings: bool) -> dict[str, Any]:
    data = message.data or {}
    known = [*data.get("booking_references", []), *data.get("references", [])] if link_bookings else []
    return {
        "author_type": message.author_type,
        "author": message.author_name,
        "role": AUTHOR_ROLES.get(message.author_type, ""),
        "at": message.created_at,
        "body": link_booking_references(message.body, known, lambda reference: booking_url(practice_id, reference)),
        "article": data.get("article") if message.kind == "article" else None,
    }
