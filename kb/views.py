"""The public Help Center (``/hc``): home, categories, sections, articles, search, votes,
follows, comments, and the practice user's sign-in.

Parse the request, call ``kb.service`` or ``kb.queries``, commit, render. Anyone may read, vote
and follow (a typed address confirms by email first); a vote belongs to the signed-in practice
user, or else to an anonymous visitor id kept in the signed session cookie. Commenting needs a
practice user, who signs in from the help widget: its links carry a one-time hand-off
(``GET /hc/session/handoff?token=``, see ``kb.service.handoff_token``), or a page posts the
widget token itself (``POST /hc/session`` with ``token`` and ``next``, never a widget token in a
URL). Either keeps the identity in the session cookie; ``POST /hc/session/end`` signs out.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    has_request_context,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from sqlalchemy.orm import Session

from helpdesk.core import db
from helpdesk.core.auth import (
    end_practice_user_session,
    practice_user_for_token,
    session_practice_user,
    start_practice_user_session,
)
from helpdesk.core.errors import BadInput, DomainError, InvalidInput, Unauthenticated
from helpdesk.core.extensions import csrf, limiter
from kb import queries, service
from kb.models import Article, Category, Follow, Section

bp = Blueprint("hc", __name__, url_prefix="/hc", template_folder="templates", static_folder="static",
               static_url_path="/static")

VISITOR_KEY = "kb_visitor"
EMAIL_KEY = "kb_email"
RECENT_KEY = "kb_recent"
RECENT_MAX = 5
MAX_QUERY = 5_000
_REF = re.compile(r"^(\d{1,18})(?:-(.*))?$")


def write_limit() -> str:
    return str(current_app.config["KB_WRITE_RATE_LIMIT"])


def clean(value: str | None, limit: int) -> str:
    """Form and query text: without NUL characters (PostgreSQL refuses them), at most ``limit``."""
    return (value or "").replace("\x00", "")[:limit]


# --- who is here ------------------------------------------------------------------------------


def current_person() -> service.Person | None:
    """The signed-in practice user, or the anonymous visitor of this browser if it has voted or followed."""
    user = session_practice_user()
    if user is not None:
        return service.Person(user=user)
    visitor = session.get(VISITOR_KEY)
    return service.Person(visitor_id=visitor) if isinstance(visitor, str) else None


def acting_person() -> service.Person:
    """As ``current_person``, giving this browser an anonymous visitor id (in the signed session
    cookie) the first time it acts."""
    person = current_person()
    if person is None:
        session[VISITOR_KEY] = secrets.token_urlsafe(16)
        person = service.Person(visitor_id=session[VISITOR_KEY])
    return person


def follower_email(person: service.Person | None) -> str | None:
    """The address this browser follows with: the signed-in user's, or the last one typed here."""
    if person is not None and person.email:
        return person.email.lower()
    stored = session.get(EMAIL_KEY)
    return stored if isinstance(stored, str) else None


@bp.app_context_processor  # app-wide: the /hc error page also renders for URLs no route matched
def _help_center_globals() -> dict[str, Any]:
    # Emails are rendered outside any request too (the mail receiver, CLI jobs): no session there.
    return {"submit_request_url": submit_request_url, "my_requests_url": my_requests_url,
            "session_user": session_practice_user() if has_request_context() else None}


def submit_request_url() -> str:
    """The requests issue's form, when it is installed."""
    if "hc_requests.new" in current_app.view_functions:
        return url_for("hc_requests.new")
    return url_for("hc.home")


def my_requests_url() -> str | None:
    """The practice user's requests (helpdesk.requests), when they are installed."""
    return url_for("hc_requests.mine") if "hc_requests.mine" in current_app.view_functions else None


# --- reading ------------------------------------------------------------------------------------


@bp.get("/")
@bp.get("")  # registered first, so url_for gives /hc
def home() -> str:
    s = db.session()
    return render_template(
        "kb/home.html", categories=queries.categories(s), sections=queries.sections_by_category(s),
        counts=queries.published_counts(s), promoted=queries.promoted_articles(s),
    )


def _parse_ref(ref: str) -> tuple[int, str | None]:
    match = _REF.match(ref)
    if match is None:
        abort(404)
    return int(match.group(1)), match.group(2)


def _by_ref(ref: str, find: Callable[[Session, int], Category | Section | None],
            endpoint: str) -> tuple[Any, Response | None]:
    """The category or section that ``<id>-<slug>`` names, and a redirect when the slug is not its own."""
    item_id, slug = _parse_ref(ref)
    found = find(db.session(), item_id) or abort(404)
    if slug != found.slug:
        return found, redirect(url_for(endpoint, ref=f"{found.id}-{found.slug}"), code=301)  # type: ignore[return-value]
    return found, None


@bp.get("/categories/<ref>")
def category(ref: str) -> Any:
    found, moved = _by_ref(ref, queries.get_category, "hc.category")
    if moved is not None:
        return moved
    s = db.session()
    sections = queries.sections_by_category(s).get(found.id, [])
    articles = {section.id: queries.section_articles(s, section.id, limit=6) for section in sections}
    return render_template("kb/category.html", category=found, sections=sections, articles=articles,
                           counts=queries.published_counts(s))


@bp.get("/sections/<ref>")
def section(ref: str) -> Any:
    found, moved = _by_ref(ref, queries.get_section, "hc.section")
    if moved is not None:
        return moved
    s = db.session()
    person = current_person()
    email = follower_email(person)
    return render_template(
        "kb/section.html", section=found, articles=queries.section_articles(s, found.id),
        follow=queries.follow_of(s, email, section_id=found.id), follower_email=email, person=person,
    )


@bp.get("/articles/<ref>")
def article(ref: str) -> Any:
    s = db.session()
    match = _REF.match(ref)
    article_id = int(match.group(1)) if match else queries.article_id_for_slug(s, ref)
    found = queries.public_article(s, article_id) if article_id is not None else None
    if found is None:
        # "12-old-title" may be an article whose id is right: that is handled above. A bare old
        # slug ("old-title") is looked up in the slug history.
        abort(404)
    if match is None or match.group(2) != found.slug:
        return redirect(found.path, code=301)
    service.record_view(s, found.id)
    db.session.commit()
    recent_ids = _remember_recent(found.id)
    person = current_person()
    user = person.user if person else None
    email = follower_email(person)
    return render_template(
        "kb/article.html", article=found, body_html=queries.linked_body_html(s, found),
        related=queries.related_articles(s, found),
        recent=queries.articles_by_ids(s, recent_ids), comments=queries.published_comments(s, found.id),
        own_pending=queries.own_pending_comments(s, found.id, user.practice_id, user.user_id) if user else [],
        your_vote=_your_vote(found, person), follow=queries.follow_of(s, email, article_id=found.id),
        follower_email=email, person=person, user=user,
    )


def _remember_recent(article_id: int) -> list[int]:
    """The articles this browser read before this one (newest first), remembered in the session."""
    stored = session.get(RECENT_KEY)
    earlier = [i for i in stored if isinstance(i, int) and i != article_id] if isinstance(stored, list) else []
    session[RECENT_KEY] = [article_id, *earlier][:RECENT_MAX + 1]
    return earlier[:RECENT_MAX]


def _your_vote(article: Article, person: service.Person | None) -> bool | None:
    if person is None:
        return None
    return queries.vote_of(db.session(), article.id, person.key)


@bp.get("/search")
def search() -> str:
    q = clean(request.args.get("q"), MAX_QUERY)
    page = request.args.get("page", "1")
    number = int(page) if page.isdigit() and len(page) < 6 else 1
    results = queries.search_articles(db.session(), q, number) if q.strip() else None
    return render_template("kb/search.html", q=q, results=results)


@bp.get("/labels/<label>")
def label(label: str) -> str:
    label = clean(label, 100)
    return render_template("kb/label.html", label=label, articles=queries.labelled_articles(db.session(), label))


# --- votes, follows, comments -------------------------------------------------------------------


def _public_article_or_404(article_id: int) -> Article:
    return queries.public_article(db.session(), article_id) or abort(404)


@bp.post("/articles/<int:article_id>/vote")
@limiter.limit(write_limit)
def vote(article_id: int) -> Response:
    found = _public_article_or_404(article_id)
    choice = request.form.get("helpful")
    if choice not in ("yes", "no"):
        raise BadInput("invalid_vote", "Choose yes or no.")
    service.vote(db.session(), acting_person(), found, choice == "yes")
    flash("Thank you for your feedback.")
    return redirect(f"{found.path}#vote")  # type: ignore[return-value]


def _follow_form(person: service.Person) -> tuple[str | None, bool]:
    email = clean(request.form.get("email"), 320).strip() or follower_email(person)
    return email, request.form.get("action", "follow") == "unfollow"


@bp.post("/articles/<int:article_id>/follow")
@limiter.limit(write_limit)
def follow_article(article_id: int) -> Response:
    found = _public_article_or_404(article_id)
    return _follow(found.path + "#follow", article=found)


@bp.post("/sections/<int:section_id>/follow")
@limiter.limit(write_limit)
def follow_section(section_id: int) -> Response:
    found = queries.get_section(db.session(), section_id) or abort(404)
    return _follow(url_for("hc.section", ref=f"{found.id}-{found.slug}") + "#follow", section=found)


def _follow(back: str, **target: Any) -> Response:
    person = acting_person()
    email, stop = _follow_form(person)
    try:
        if stop:
            service.unfollow(db.session(), person, email=email, **target)
            message = "You no longer follow this."
        else:
            message = _followed_message(service.follow(db.session(), person, email=email, **target))
    except DomainError as exc:
        flash(exc.message, "error")
        return redirect(back)  # type: ignore[return-value]
    db.session.commit()
    if email and not person.email:
        session[EMAIL_KEY] = email.strip().lower()
    flash(message)
    return redirect(back)  # type: ignore[return-value]


def _followed_message(row: Follow) -> str:
    if row.confirmed:
        return f"Following. We will email {row.email} about updates."
    return (f"Almost done: we have emailed {row.email} a link to confirm. Nothing else is sent to that address "
            "until you do.")


@bp.post("/articles/<int:article_id>/comments")
@limiter.limit(write_limit)
def comment(article_id: int) -> Response:
    found = _public_article_or_404(article_id)
    user = session_practice_user()
    if user is None:
        raise Unauthenticated("sign_in_required", "Sign in from the help widget to comment.")
    try:
        service.add_comment(db.session(), user, found, clean(request.form.get("body"), 20_000))
    except DomainError as exc:
        if not isinstance(exc, InvalidInput):
            raise
        flash(exc.message, "error")
        return redirect(f"{found.path}#comment-form")  # type: ignore[return-value]
    flash("Thank you. Your comment will appear once our team has checked it.")
    return redirect(f"{found.path}#comments")  # type: ignore[return-value]


@bp.get("/unfollow/<token>")
def unfollow_confirm(token: str) -> str:
    follow = queries.follow_by_token(db.session(), clean(token, 64)) or abort(404)
    return render_template("kb/unfollow.html", follow=follow, token=token, done=False)


@bp.post("/unfollow/<token>")
def unfollow_token(token: str) -> str:
    follow = service.unfollow_by_token(db.session(), clean(token, 64)) or abort(404)
    return render_template("kb/unfollow.html", follow=follow, token=token, done=True)


@bp.get("/follows/confirm/<token>")
def follow_confirm_page(token: str) -> tuple[str, int]:
    """The emailed link asks first (a POST confirms), so a mail scanner opening it confirms nothing."""
    row = service.follow_for_confirmation(db.session(), clean(token, 500))
    return _confirmation_page(token, row, service.confirmation_state(row))


@bp.post("/follows/confirm/<token>")
@limiter.limit(write_limit)
def follow_confirm(token: str) -> tuple[str, int]:
    row = service.follow_for_confirmation(db.session(), clean(token, 500))
    return _confirmation_page(token, row, service.confirm_follow(db.session(), row))


def _confirmation_page(token: str, row: Follow | None, state: str) -> tuple[str, int]:
    s = db.session()
    if row is None:
        target: Article | Section | None = None
    elif row.article_id is not None:
        target = queries.public_article(s, row.article_id)
    else:
        target = queries.get_section(s, row.section_id or 0)
    return render_template("kb/follow_confirm.html", token=token, state=state, follow=row, target=target,
                           days=service.FOLLOW_CONFIRM_DAYS), 410 if state == "expired" else 200


# --- signing in a practice user ----------------------------------------------------------------


@bp.get("/sign-in")
def sign_in_help() -> str:
    """How a practice user signs in: through the help widget in their practice admin portal."""
    portal = current_app.config.get("PORTAL_URL") or (
        url_for("widget.demo_portal") if current_app.config.get("DEMO_PORTAL") and "widget.demo_portal"
        in current_app.view_functions else None)
    return render_template("kb/sign_in.html", portal_url=portal, next=_safe_next(request.args.get("next")))


@bp.get("/session/handoff")
def handoff() -> Response:
    """A link from the help widget: its one-time hand-off signs the practice user in here."""
    signed_in = service.redeem_handoff(db.session(), clean(request.args.get("token"), 4000))
    start_practice_user_session(signed_in.user)
    session.pop(EMAIL_KEY, None)
    response = redirect(_safe_next(signed_in.next_path), 303)
    response.headers["Referrer-Policy"] = "no-referrer"  # the used link goes nowhere else
    response.headers["Cache-Control"] = "no-store"
    return response  # type: ignore[return-value]


def is_help_center_path(target: str) -> bool:
    """A path inside the Help Center, never another site."""
    parts = urlsplit(target)
    return target.startswith("/hc") and not parts.scheme and not parts.netloc and "\\" not in target


def _safe_next(target: str | None) -> str:
    """Only a path inside the Help Center is a place to go back to."""
    target = clean(target, 2000)
    return target if is_help_center_path(target) else url_for("hc.home")


@bp.post("/session")
@csrf.exempt  # the widget token is the proof, and the widget cannot know this site's CSRF token
def sign_in() -> Response:
    # POST only: a token in a URL ends up in logs, history and Referer headers.
    token = clean(request.form.get("token"), 4000)
    user = practice_user_for_token(token)  # DomainError 401 when the token is missing, bad or expired
    start_practice_user_session(user)  # ends when the token expires (helpdesk.core.auth)
    session.pop(EMAIL_KEY, None)
    return redirect(_safe_next(request.form.get("next")), 303)  # type: ignore[return-value]


@bp.post("/session/end")
def sign_out() -> Response:
    end_practice_user_session()
    session.pop(EMAIL_KEY, None)
    flash("You are signed out of the Help Center.")
    return redirect(_safe_next(request.form.get("next")))  # type: ignore[return-value]
