"""The console's door: sign in and out, and the site root.

Each domain adds its own console pages (practices, requests, chat, knowledge base); this module
knows none of them by name and sends a signed-in agent to the first page the app registered.
"""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from flask import (
    Blueprint,
    Flask,
    Response,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.sansio.blueprints import BlueprintSetupState
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import HiddenField, PasswordField, StringField
from wtforms.validators import DataRequired, Length

from helpdesk.core import db
from helpdesk.core.agents import Agent
from helpdesk.core.auth import console_agent, end_console_session, start_console_session
from helpdesk.core.clock import utcnow
from helpdesk.core.extensions import limiter
from helpdesk.core.passwords import hash_password, verify_password
from helpdesk.core.text import breakable_email
from helpdesk.core.web import safe_next

bp = Blueprint("console", __name__, url_prefix="/console")

BAD_CREDENTIALS = "That email and password do not match an agent account."
TIME_FORMATS = {"full": "%a %d %b %Y, %H:%M %Z", "compact": "%d %b %Y %H:%M %Z", "clock": "%H:%M %Z"}


class LoginForm(FlaskForm):
    email = StringField("Email", validators=[DataRequired(), Length(max=320)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=1024)])
    next = HiddenField()


@bp.app_template_filter("local_time")
def local_time(value: datetime | str | None, tz_name: str, style: str = "full") -> str:
    """A UTC moment as the practice's staff would read it, with the zone's abbreviation."""
    if value is None or value == "":
        return "—"
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.astimezone(ZoneInfo(tz_name)).strftime(TIME_FORMATS[style])


bp.add_app_template_filter(breakable_email, "breakable_email")


def set_console_home(app: Flask, endpoint: str) -> None:
    """Where a signed-in agent lands; the domain that owns that page says so in its ``init_app``."""
    app.extensions["console_home"] = endpoint


def console_home_url() -> str:
    return url_for(current_app.extensions["console_home"])


@bp.get("")
@bp.get("/")
def home() -> Response:
    return redirect(console_home_url())  # type: ignore[return-value]


def _serve_home_at_root(state: BlueprintSetupState) -> None:
    """The site root is outside the blueprint's prefix, so it is added to the app itself."""
    state.app.add_url_rule("/", "index", home)


bp.record_once(_serve_home_at_root)


# --- login and logout ------------------------------------------------------------------------

def _next_or_home(target: str | None) -> str:
    return safe_next(target, console_home_url())


@cache
def _decoy_hash() -> str:
    """Verified against when the email is unknown, so timing does not reveal which emails exist."""
    return hash_password("no agent has this password")


def _authenticate(email: str, password: str) -> Agent | None:
    agent = db.session.scalar(select(Agent).where(Agent.email == email.strip().lower()))
    if agent is None:
        verify_password(_decoy_hash(), password)
        return None
    if not verify_password(agent.password_hash, password) or not agent.is_active:
        return None
    return agent


def _login_rate_limit() -> str:
    return str(current_app.config["LOGIN_RATE_LIMIT"])


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_login_rate_limit, methods=["POST"])
def login() -> Any:
    form = LoginForm()
    if request.method == "GET":
        if console_agent() is not None:
            return redirect(_next_or_home(request.args.get("next")))
        form.next.data = request.args.get("next", "")
    error = None
    if form.validate_on_submit():
        agent = _authenticate(form.email.data or "", form.password.data or "")
        if agent is not None:
            agent.last_login_at = utcnow()
            start_console_session(agent)
            return redirect(_next_or_home(form.next.data), 303)
        error = BAD_CREDENTIALS
    status = 401 if error else (400 if request.method == "POST" else 200)
    return render_template("helpdesk/login.html", form=form, error=error), status


@bp.post("/logout")
def logout() -> Response:
    end_console_session()  # server-side too: a copy of the cookie no longer signs in
    flash("You have logged out.")
    return redirect(url_for("console.login"), 303)  # type: ignore[return-value]
