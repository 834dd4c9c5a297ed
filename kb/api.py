"""JSON API of the knowledge base (``/api/v1/kb``), for the help widget and integrators.

Reading is public and returns published articles only. Voting and following act for a person:
a practice user with ``Authorization: Bearer <widget token>``, or, without that header, the
browser's Help Center session (the signed-in practice user, or an anonymous visitor id). A write
that relies on the session cookie must send a JSON body (``Content-Type: application/json``),
which a cross-site form cannot.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, g, jsonify, request, url_for

from helpdesk.core import db
from helpdesk.core.auth import bearer_token, practice_user_for_token, practice_user_required
from helpdesk.core.errors import InvalidInput, not_found
from helpdesk.core.extensions import limiter
from helpdesk.core.web import int_arg, json_object
from kb import queries, service
from kb.models import Article
from kb.views import MAX_QUERY, acting_person, clean, is_help_center_path, write_limit

bp = Blueprint("kb_api", __name__, url_prefix="/api/v1/kb")

MAX_PER_PAGE = 50
MAX_SUGGESTIONS = 10
MAX_CONTEXT = 20


def _list_arg(name: str, limit: int = 20) -> list[str]:
    raw = clean(request.args.get(name), 2_000)
    return [item.strip().lower()[:100] for item in raw.split(",") if item.strip()][:limit]


def _person() -> service.Person:
    if "Authorization" in request.headers:
        return service.Person(user=practice_user_for_token(bearer_token()))
    return acting_person()


def _article(article_id: int) -> Article:
    found = queries.public_article(db.session(), article_id)
    if found is None:
        raise not_found("article")
    return found


# --- reading ----------------------------------------------------------------------------------


@bp.get("/search")
def search() -> Response:
    q = clean(request.args.get("q"), MAX_QUERY)
    per_page = int_arg("per_page", queries.SEARCH_PAGE_SIZE, 1, MAX_PER_PAGE)
    page = queries.search_articles(db.session(), q, int_arg("page", 1, 1, queries.MAX_SEARCH_PAGE), per_page)
    return jsonify({
        "query": q, "total": page.total, "total_is_exact": page.total_is_exact, "page": page.page,
        "per_page": page.per_page, "pages": page.pages,
        "results": [
            {**queries.article_summary(r.article), "snippet": r.snippet_html} for r in page.results
        ],
    })


@bp.get("/suggest")
def suggest() -> Response:
    q = clean(request.args.get("q"), MAX_QUERY)
    found = queries.suggest_articles(db.session(), q, int_arg("limit", 6, 1, MAX_SUGGESTIONS))
    return jsonify({"query": q, "suggestions": [
        {"id": a.id, "title": a.title, "url": a.path, "section": queries.section_ref(a.section)} for a in found
    ]})


@bp.get("/categories")
def categories() -> Response:
    s = db.session()
    sections = queries.sections_by_category(s)
    counts = queries.published_counts(s)
    return jsonify({"categories": [
        {"id": c.id, "name": c.name, "description": c.description, "url": f"/hc/categories/{c.id}-{c.slug}",
         "sections": [{"id": x.id, "name": x.name, "description": x.description,
                       "url": f"/hc/sections/{x.id}-{x.slug}", "article_count": counts.get(x.id, 0)}
                      for x in sections.get(c.id, [])]}
        for c in queries.categories(s)
    ]})


@bp.get("/articles/<int:article_id>")
def article(article_id: int) -> Response:
    return jsonify(queries.article_detail(db.session(), _article(article_id)))


@bp.get("/articles/for-context")
def for_context() -> Response:
    """Articles for where the user is: ``causes`` (diagnosis cause codes), ``labels``, ``page``
    (the portal page's path, matched by ``page:<path>`` labels). Promoted articles when nothing
    matches (``fallback: true``)."""
    limit = int_arg("limit", 5, 1, MAX_CONTEXT)
    s = db.session()
    matches = queries.articles_for_context(s, _list_arg("labels"), _list_arg("causes"),
                                           clean(request.args.get("page"), 500), limit)
    if matches:
        articles = [{**queries.article_summary(m.article), "matched": m.matched} for m in matches]
    else:
        articles = [{**queries.article_summary(a), "matched": []} for a in queries.promoted_articles(s, limit)]
    return jsonify({"articles": articles, "fallback": not matches})


# --- votes and follows --------------------------------------------------------------------------


@bp.post("/articles/<int:article_id>/vote")
@limiter.limit(write_limit)
def vote(article_id: int) -> Response:
    body = json_object()
    helpful = body.get("helpful")
    if not isinstance(helpful, bool):
        raise InvalidInput("invalid_vote", "helpful must be true or false")
    found = _article(article_id)
    service.vote(db.session(), _person(), found, helpful)
    return jsonify({"article_id": found.id, "your_vote": helpful,
                    "votes": {"up": found.votes_up, "down": found.votes_down}})


def _follow_target(kind: str, target_id: int) -> dict[str, Any]:
    if kind == "articles":
        return {"article": _article(target_id)}
    section = queries.get_section(db.session(), target_id)
    if section is None:
        raise not_found("section")
    return {"section": section}


@bp.route("/<any(articles, sections):kind>/<int:target_id>/follow", methods=["POST", "DELETE"])
@limiter.limit(write_limit)
def follow(kind: str, target_id: int) -> tuple[Response, int]:
    body = json_object()
    email = body.get("email")
    if email is not None and not isinstance(email, str):
        raise InvalidInput("invalid_email", "email must be text")
    target = _follow_target(kind, target_id)
    person = _person()
    email = clean(email, 320) if email else None
    if request.method == "DELETE":
        removed = service.unfollow(db.session(), person, email=email, **target)
        return jsonify({"following": False, "removed": removed}), 200
    row = service.follow(db.session(), person, email=email, **target)
    # A typed address follows once it has confirmed by email (double opt-in).
    return jsonify({"following": row.confirmed, "awaiting_confirmation": not row.confirmed, "email": row.email,
                    "id": row.id}), 201


# --- signing the practice user in to the Help Center -------------------------------------------


@bp.post("/session-handoff")
@practice_user_required
def session_handoff() -> tuple[Response, int]:
    """A one-time link into the Help Center (``next``, a path under /hc) that signs the widget's
    practice user in there: signed, valid for ``HANDOFF_SECONDS``, used once."""
    next_path = json_object().get("next")
    if not isinstance(next_path, str) or len(next_path) > 2000 or not is_help_center_path(next_path):
        raise InvalidInput("invalid_next", "next must be a path in the Help Center, such as /hc/articles/12")
    token = service.handoff_token(db.session(), g.practice_user, next_path)
    return jsonify({"url": url_for("hc.handoff", token=token), "expires_in": service.HANDOFF_SECONDS}), 201
