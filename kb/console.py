"""Knowledge base authoring in the agent console (``/console/kb``).

Every agent may look at the articles and their revisions and moderate comments; creating and
changing articles, categories and sections needs the editor or admin role (``kb.service``
refuses the others with 403, and these pages do not offer them the buttons).
Parse the form, call ``kb.service``, commit, redirect (or re-render with the problem).
"""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from sqlalchemy import select

from helpdesk.core import db
from helpdesk.core.auth import login_required
from helpdesk.core.errors import BadInput, DomainError, Forbidden, InvalidInput
from helpdesk.core.knowledge import cause_codes
from kb import queries, service
from kb.models import (
    ARTICLE_STATUSES,
    COMMENT_STATUSES,
    Article,
    Category,
    Comment,
    Section,
)
from kb.render import render_article
from kb.views import clean

bp = Blueprint("kb_console", __name__, url_prefix="/console/kb", template_folder="templates")

STATUS_TONES = {"draft": "warn", "published": "ok", "archived": "muted", "pending": "warn", "rejected": "bad"}
MAX_PREVIEW = service.MAX_BODY


@bp.before_request
@login_required
def _signed_in() -> None:
    """Every page here needs an agent signed in to the console (``g.agent``)."""


@bp.context_processor
def _vocabulary() -> dict[str, Any]:
    return {"status_tones": STATUS_TONES, "can_author": service.can_author(g.get("agent")),
            "article_statuses": ARTICLE_STATUSES}


def _require_author() -> None:
    if not service.can_author(g.agent):
        raise Forbidden("forbidden", "Only editors and admins can change the knowledge base.")


def _get(model: type[Any], item_id: int) -> Any:
    return db.session.get(model, item_id) or abort(404)


def _sections() -> list[Section]:
    return list(db.session.scalars(
        select(Section).join(Category).order_by(Category.position, Category.id, Section.position, Section.id)
    ))


def _back(default: str) -> Response:
    return redirect(default)  # type: ignore[return-value]


def _int_field(name: str, source: Any = None) -> int | None:
    raw = (request.form if source is None else source).get(name, "")
    return int(raw) if raw.isdigit() and len(raw) < 10 else None


def _naming() -> dict[str, str]:
    """The name and description fields of the category and section forms."""
    return {"name": clean(request.form.get("name"), 300), "description": clean(request.form.get("description"), 2_000)}


# --- articles ---------------------------------------------------------------------------------


@bp.get("")
@bp.get("/")
def articles() -> str:
    status = request.args.get("status", "")
    section_id = request.args.get("section", "")
    q = clean(request.args.get("q"), 200)
    rows = queries.console_articles(db.session(), status if status in ARTICLE_STATUSES else None,
                                    _int_field("section", request.args), q)
    pending = len(queries.comments_for_moderation(db.session(), "pending"))
    return render_template("kb/console/articles.html", articles=rows, sections=_sections(), status=status,
                           section_id=section_id, q=q, pending_comments=pending)


def _fields_from_form() -> service.ArticleFields:
    form = request.form
    return service.ArticleFields(
        title=clean(form.get("title"), 1_000), body=clean(form.get("body"), service.MAX_BODY + 1),
        labels=[part for part in clean(form.get("labels"), 2_000).split(",")],
        keys=[part for part in clean(form.get("keys"), 2_000).split(",")],
        promoted=form.get("promoted") == "on", comments_enabled=form.get("comments_enabled") == "on",
        slug=clean(form.get("slug"), 300) or None,
    )


def _section_from_form() -> Section:
    section_id = _int_field("section_id")
    section = db.session.get(Section, section_id) if section_id is not None else None
    if section is None:
        raise InvalidInput("invalid_section", "Choose a section for the article.")
    return section


def _editor(article: Article | None, values: dict[str, Any], error: str | None = None, status: int = 200
            ) -> tuple[str, int]:
    return render_template(
        "kb/console/edit.html", article=article, values=values, error=error, sections=_sections(),
        cause_codes=cause_codes(),
        counts=queries.article_comment_counts(db.session(), article.id) if article else {},
    ), status


def _values_of(article: Article) -> dict[str, Any]:
    return {"title": article.title, "slug": article.slug, "body": article.body, "labels": ", ".join(article.labels),
            "keys": ", ".join(article.keys), "promoted": article.promoted,
            "comments_enabled": article.comments_enabled, "section_id": article.section_id}


def _values_from_form() -> dict[str, Any]:
    form = request.form
    values: dict[str, Any] = {key: clean(form.get(key), service.MAX_BODY + 1) for key in
                              ("title", "slug", "body", "labels", "keys", "section_id", "note")}
    values["promoted"] = form.get("promoted") == "on"
    values["comments_enabled"] = form.get("comments_enabled") == "on"
    return values


@bp.route("/articles/new", methods=["GET", "POST"])
def new_article() -> Any:
    _require_author()
    if request.method == "GET":
        return _editor(None, {"comments_enabled": True, "section_id": _int_field("section", request.args)})
    status = "published" if request.form.get("publish") else "draft"
    try:
        article = service.create_article(db.session(), g.agent, _section_from_form(), _fields_from_form(),
                                         status=status, note=clean(request.form.get("note"), 300))
    except DomainError as exc:
        db.session.rollback()
        if isinstance(exc, Forbidden):
            raise
        return _editor(None, _values_from_form(), exc.message, 422)
    flash("Article published." if status == "published" else "Draft saved.")
    return redirect(url_for("kb_console.edit_article", article_id=article.id))


@bp.route("/articles/<int:article_id>", methods=["GET", "POST"])
def edit_article(article_id: int) -> Any:
    article = _get(Article, article_id)
    if request.method == "GET":
        return _editor(article, _values_of(article))
    _require_author()
    try:
        changed = service.update_article(
            db.session(), g.agent, article, _fields_from_form(), section=_section_from_form(),
            status="published" if request.form.get("publish") else None,
            note=clean(request.form.get("note"), 300), notify=request.form.get("notify") == "on",
        )
    except DomainError as exc:
        db.session.rollback()
        if isinstance(exc, Forbidden):
            raise
        return _editor(db.session.get(Article, article_id), _values_from_form(), exc.message, 422)
    flash(f"Saved: {', '.join(changed)} changed." if changed else "Nothing had changed.")
    return redirect(url_for("kb_console.edit_article", article_id=article.id))


@bp.post("/articles/<int:article_id>/status")
def article_status(article_id: int) -> Response:
    article = _get(Article, article_id)
    status = request.form.get("status", "")
    service.set_status(db.session(), g.agent, article, status)
    flash({"published": "Published.", "draft": "Unpublished: it is a draft again.",
           "archived": "Archived."}.get(status, "Saved."))
    return _back(url_for("kb_console.edit_article", article_id=article.id))


@bp.post("/articles/<int:article_id>/comments-enabled")
def article_comments_enabled(article_id: int) -> Response:
    article = _get(Article, article_id)
    enabled = request.form.get("enabled") == "1"
    service.set_comments_enabled(db.session(), g.agent, article, enabled)
    flash("Comments are open." if enabled else "The article is closed for comments.")
    return _back(url_for("kb_console.edit_article", article_id=article.id))


@bp.post("/articles/<int:article_id>/move")
def move_article(article_id: int) -> Response:
    article = _get(Article, article_id)
    service.move_article(db.session(), g.agent, article, _section_from_form())
    flash(f"Moved to {article.section.name}.")
    return _back(url_for("kb_console.edit_article", article_id=article.id))


def _step() -> int:
    return -1 if request.form.get("direction") == "up" else 1


@bp.post("/articles/<int:article_id>/position")
def article_position(article_id: int) -> Response:
    article = _get(Article, article_id)
    siblings = db.session.scalars(
        select(Article).where(Article.section_id == article.section_id).order_by(Article.position, Article.id)
    ).all()
    service.move(db.session(), g.agent, article, siblings, _step())
    return _back(url_for("kb_console.structure") + f"#section-{article.section_id}")


@bp.post("/preview")
def preview() -> Response:
    """The editor's live preview: the Markdown as the Help Center will show it (sanitized)."""
    body = request.get_json(silent=True) if request.is_json else None
    text = body.get("body") if isinstance(body, dict) else request.form.get("body")
    if not isinstance(text, str):
        raise BadInput("invalid_body", "send the Markdown as body")
    return jsonify({"html": render_article(clean(text, MAX_PREVIEW))})


# --- revisions --------------------------------------------------------------------------------


@bp.get("/articles/<int:article_id>/revisions")
def revisions(article_id: int) -> str:
    article = _get(Article, article_id)
    return render_template("kb/console/revisions.html", article=article,
                           revisions=queries.revisions(db.session(), article.id))


def _revision_or_404(article_id: int, number: int) -> Any:
    return queries.get_revision(db.session(), article_id, number) or abort(404)


@bp.get("/articles/<int:article_id>/revisions/<int:number>")
def revision(article_id: int, number: int) -> str:
    article = _get(Article, article_id)
    found = _revision_or_404(article_id, number)
    return render_template("kb/console/revision.html", article=article, revision=found,
                           body_html=render_article(found.body))


@bp.post("/articles/<int:article_id>/revisions/<int:number>/restore")
def restore(article_id: int, number: int) -> Response:
    article = _get(Article, article_id)
    changed = service.restore_revision(db.session(), g.agent, article, _revision_or_404(article_id, number))
    flash(f"Revision {number} restored." if changed else f"The article already matches revision {number}.")
    return _back(url_for("kb_console.edit_article", article_id=article.id))


# --- categories and sections ------------------------------------------------------------------


@bp.get("/structure")
def structure() -> str:
    s = db.session()
    articles: dict[int, list[Article]] = {}
    for article in queries.console_articles(s, limit=5_000):
        articles.setdefault(article.section_id, []).append(article)
    return render_template("kb/console/structure.html", categories=queries.categories(s),
                           sections=queries.sections_by_category(s), articles=articles)


def _done(message: str, anchor: str = "") -> Response:
    flash(message)
    return _back(url_for("kb_console.structure") + anchor)


@bp.post("/categories")
def create_category() -> Response:
    category = service.create_category(db.session(), g.agent, **_naming())
    return _done(f"Category “{category.name}” created.", f"#category-{category.id}")


@bp.post("/categories/<int:category_id>")
def update_category(category_id: int) -> Response:
    category = _get(Category, category_id)
    service.update_category(db.session(), g.agent, category, **_naming())
    return _done("Category saved.", f"#category-{category.id}")


@bp.post("/categories/<int:category_id>/delete")
def delete_category(category_id: int) -> Response:
    service.delete_category(db.session(), g.agent, _get(Category, category_id))
    return _done("Category deleted.")


@bp.post("/categories/<int:category_id>/position")
def category_position(category_id: int) -> Response:
    category = _get(Category, category_id)
    service.move(db.session(), g.agent, category, list(queries.categories(db.session())), _step())
    return _done("Categories reordered.", f"#category-{category.id}")


@bp.post("/sections")
def create_section() -> Response:
    category_id = _int_field("category_id")
    category = _get(Category, category_id) if category_id is not None else abort(400)
    section = service.create_section(db.session(), g.agent, category, **_naming())
    return _done(f"Section “{section.name}” created.", f"#section-{section.id}")


@bp.post("/sections/<int:section_id>")
def update_section(section_id: int) -> Response:
    section = _get(Section, section_id)
    category_id = _int_field("category_id")
    category = db.session.get(Category, category_id) if category_id is not None else None
    service.update_section(db.session(), g.agent, section, category=category, **_naming())
    return _done("Section saved.", f"#section-{section.id}")


@bp.post("/sections/<int:section_id>/delete")
def delete_section(section_id: int) -> Response:
    service.delete_section(db.session(), g.agent, _get(Section, section_id))
    return _done("Section deleted.")


@bp.post("/sections/<int:section_id>/position")
def section_position(section_id: int) -> Response:
    section = _get(Section, section_id)
    siblings = queries.sections_by_category(db.session()).get(section.category_id, [])
    service.move(db.session(), g.agent, section, siblings, _step())
    return _done("Sections reordered.", f"#section-{section.id}")


# --- comments ---------------------------------------------------------------------------------


@bp.get("/comments")
def comments() -> str:
    status = request.args.get("status", "pending")
    status = status if status in COMMENT_STATUSES else "pending"
    rows = queries.comments_for_moderation(db.session(), status)
    titles = {a.id: a for a in queries.articles_by_ids(db.session(), list({c.article_id for c in rows}), False)}
    return render_template("kb/console/comments.html", comments=rows, status=status, articles=titles,
                           statuses=COMMENT_STATUSES)


@bp.post("/comments/<int:comment_id>")
def moderate(comment_id: int) -> Response:
    comment = _get(Comment, comment_id)
    action = request.form.get("action")
    if action == "delete":
        service.delete_comment(db.session(), g.agent, comment)
        message = "Comment deleted."
    elif action in ("publish", "reject"):
        service.moderate_comment(db.session(), g.agent, comment, "published" if action == "publish" else "rejected")
        message = "Comment published." if action == "publish" else "Comment rejected: it stays hidden."
    else:
        raise BadInput("invalid_action", "Choose publish, reject or delete.")
    flash(message)
    return _back(url_for("kb_console.comments", status=request.form.get("back_status", "pending")))
