"""Console pages of the workspace: the header search's results, reports, the agent's profile,
and ``/favicon.ico``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Blueprint, Response, g, render_template, request

from helpdesk.core.auth import login_required
from helpdesk.core.errors import BadInput, DomainError
from helpdesk.workspace import search as search_module
from helpdesk.workspace.search_api import run_search

bp = Blueprint("workspace", __name__, url_prefix="/console", template_folder="templates",
               static_folder="static", static_url_path="/workspace/static")

STATIC = Path(__file__).resolve().parent / "static"


@bp.get("/search")
@login_required
def search_page() -> tuple[str, int]:
    raw = request.args.get("q", "")
    error, groups, q = None, [], raw.strip()[:search_module.MAX_QUERY]
    status = 200
    if raw.strip():
        try:
            results = run_search(raw)
        except DomainError as exc:
            error, status = exc.message, 400
        else:
            groups = search_module.grouped(results)
            if len(results) == 1 and request.args.get("go") == "1":
                from flask import redirect

                return redirect(results[0].url), 303  # type: ignore[return-value]
    return render_template("workspace/search.html", q=q, groups=groups, error=error), status


FAVICON = (STATIC / "favicon.ico").read_bytes()


def favicon() -> Response:
    response = Response(FAVICON, mimetype="image/x-icon")
    response.cache_control.max_age = 86400
    response.cache_control.public = True
    return response


def register(app: Any) -> None:
    app.add_url_rule("/favicon.ico", "favicon", favicon)
    register_frame(app)
    # The kernel's "/" always leads to the console (it knows no Help Center): people who are not
    # agents get a page that leads them to the Help Center as well.
    app.view_functions["index"] = landing


# --- the console frame: counts in the navigation, its active state, the agent's preferences ------

def _current_counts() -> dict[str, int]:
    if "workspace_counts" not in g:
        from helpdesk.core import db
        from helpdesk.workspace.counts import counts

        agent = g.get("agent")
        g.workspace_counts = counts(db.session(), agent) if agent is not None else {}
    return dict(g.workspace_counts)


def nav_current(prefix: str) -> Any:
    from markupsafe import Markup

    return Markup(' aria-current="page" class="current"') if request.path.startswith(prefix) else Markup("")


def nav_count(name: str, label: str) -> Any:
    from markupsafe import Markup, escape

    value = _current_counts().get(name, 0)
    hidden = "" if value else " hidden"
    return Markup(f' <span class="nav-count nav-count-{escape(name)}" data-count="{escape(name)}"'
                  f' title="{escape(label)}"{hidden}><span class="visually-hidden">, </span>'
                  f'<span data-count-value>{value}</span><span class="visually-hidden"> {escape(label)}</span></span>')


def workspace_prefs() -> Any:
    from helpdesk.workspace.profile import preferences_for

    agent = g.get("agent")
    if agent is None:
        return None
    if "workspace_prefs" not in g:
        from helpdesk.core import db

        g.workspace_prefs = preferences_for(db.session(), agent)
    return g.workspace_prefs


def register_frame(app: Any) -> None:
    app.add_template_global(nav_current, "nav_current")
    app.add_template_global(nav_count, "nav_count")
    app.add_template_global(workspace_prefs, "workspace_prefs")


# --- the agent's profile ---------------------------------------------------------------------

@bp.route("/profile", methods=["GET", "POST"])
@login_required
def profile() -> Any:
    from flask import flash, redirect, url_for

    from helpdesk.core import db
    from helpdesk.core.auth import start_console_session
    from helpdesk.workspace import profile as verbs

    session = db.session()
    agent = g.agent
    new_token, error, status = None, None, 200
    if request.method == "POST":
        action = request.form.get("action", "")
        try:
            if action == "name":
                verbs.rename(session, agent, request.form.get("name", ""))
                message = "Your name is saved."
            elif action == "password":
                verbs.change_password(session, agent, request.form.get("current_password", ""),
                                      request.form.get("new_password", ""), request.form.get("repeat_password", ""))
                message = "Your password is changed; your other sessions are signed out."
            elif action == "preferences":
                verbs.save_preferences(session, agent, timezone=request.form.get("timezone", ""),
                                       sound=request.form.get("sound") == "on",
                                       desktop=request.form.get("desktop") == "on")
                message = "Your preferences are saved."
            elif action == "create_token":
                new_token = verbs.create_token(session, agent, request.form.get("label", ""))
                message = "Token created. Copy it now: it is shown only once."
            elif action == "revoke_token":
                raw_id = request.form.get("token_id", "")
                revoked = verbs.revoke_token(session, agent, int(raw_id) if raw_id.isdigit() else -1)
                message = f"Token “{revoked.label}” is revoked."
            else:
                raise BadInput("invalid_action", "unknown profile action")
        except DomainError as exc:
            session.rollback()
            error, status = exc.message, 400
        else:
            session.commit()
            if action == "password":
                start_console_session(agent)  # a new server-side console session (core.sessions)
                session.commit()
            if new_token is None:
                flash(message)
                return redirect(url_for("workspace.profile"), 303)
            flash(message)
    g.pop("workspace_prefs", None)
    from zoneinfo import available_timezones

    return render_template(
        "workspace/profile.html", agent=agent, tokens=verbs.tokens(session, agent), new_token=new_token,
        prefs=verbs.preferences_for(session, agent), timezones=sorted(available_timezones()), error=error,
    ), status


# --- reports ---------------------------------------------------------------------------------

@bp.get("/reports")
@bp.get("/reports/<name>")
@login_required
def reports_page(name: str = "volume") -> tuple[str, int]:
    from helpdesk.core import db
    from helpdesk.workspace import charts, reports
    from helpdesk.workspace.reports_api import period_from_request

    error, built, period, drawn = None, None, None, []
    status = 200
    try:
        period = period_from_request()
        built = reports.build_report(db.session(), name, period)
        drawn = [charts.draw(spec, built.tables) for spec in built.charts]
    except DomainError as exc:
        error, status = exc.message, 404 if exc.code == "no_such_report" else 400
    return render_template("workspace/reports.html", name=name, names=list(reports.REPORTS), report=built,
                           period=period, charts=drawn, error=error,
                           args={k: request.args.get(k, "") for k in ("from", "to", "tz")},
                           kept={k: request.args[k] for k in ("from", "to", "tz") if request.args.get(k)}), status


# --- the site root ---------------------------------------------------------------------------

def landing() -> Any:
    """``/``: a signed-in agent goes on to the console; anyone else gets a way to the Help Center."""
    from helpdesk.core.auth import console_agent
    from helpdesk.core.views import home

    if console_agent() is not None:
        return home()
    return render_template("workspace/landing.html")
