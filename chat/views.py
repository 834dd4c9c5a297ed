"""Chat pages: the agent console's chat (``/console/chat``) and the widget's chat page
(``/widget/chat``, served into the portal's iframe). Both pages talk to ``/chat`` over Socket.IO
with the official JavaScript client shipped in ``chat/static/vendor``.
"""

from __future__ import annotations

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

from helpdesk.core import db
from helpdesk.core.auth import console_socket_token, login_required
from helpdesk.core.canned import (
    canned_replies,
    delete_canned_reply,
    find_canned_reply,
    save_canned_reply,
)
from helpdesk.core.errors import DomainError

bp = Blueprint("chat", __name__, url_prefix="/console/chat", template_folder="templates",
               static_folder="static", static_url_path="/static")
widget_bp = Blueprint("chat_widget", __name__, url_prefix="/widget", template_folder="templates")


@bp.get("/")
@bp.get("")
@login_required
def console() -> str:
    replies = canned_replies(db.session(), order_by="shortcode")
    return render_template("chat/console.html", socket_token=console_socket_token(g.agent), agent=g.agent,
                           canned_replies=replies)


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
    response = make_response(render_template("chat/widget.html"))
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
    allowed = current_app.config.get("ALLOWED_ORIGINS") or []
    ancestors = " ".join(["'self'", *allowed])
    response.headers["Content-Security-Policy"] = (
        f"default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; style-src 'self'; "
        f"script-src 'self'; frame-ancestors {ancestors}"
    )
    return response
