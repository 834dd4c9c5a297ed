"""Read paths of the knowledge base: the public pages, the API payloads, the console lists,
and the articles the booking diagnosis suggests for its cause codes.

Everything public reads published articles only; the console reads everything.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from kb import search
from kb.models import (
    Article,
    ArticleSlug,
    ArticleTag,
    Category,
    Comment,
    Follow,
    Revision,
    Section,
    Vote,
    article_path,
)
from kb.render import link_references, referenced_titles, slugify

PUBLISHED = Article.status == "published"
SEARCH_PAGE_SIZE = 10
MAX_SEARCH_PAGE = 100
PAGE_LABEL_PREFIX = "page:"


# --- structure ---------------------------------------------------------------------------------


def categories(session: Session) -> Sequence[Category]:
    return session.scalars(select(Category).order_by(Category.position, Category.id)).all()


def sections_by_category(session: Session) -> dict[int, list[Section]]:
    grouped: dict[int, list[Section]] = {}
    for section in session.scalars(select(Section).order_by(Section.position, Section.id)):
        grouped.setdefault(section.category_id, []).append(section)
    return grouped


def published_counts(session: Session) -> dict[int, int]:
    """Published articles per section id."""
    rows = session.execute(select(Article.section_id, func.count()).where(PUBLISHED).group_by(Article.section_id))
    return {section_id: int(count) for section_id, count in rows}


def section_articles(session: Session, section_id: int, limit: int | None = None) -> Sequence[Article]:
    query = (select(Article).where(Article.section_id == section_id, PUBLISHED)
             .order_by(Article.position, Article.id))
    return session.scalars(query.limit(limit) if limit else query).all()


def promoted_articles(session: Session, limit: int = 6) -> Sequence[Article]:
    return session.scalars(
        select(Article).where(PUBLISHED, Article.promoted.is_(True)).order_by(Article.position, Article.id).limit(limit)
    ).all()


def get_category(session: Session, category_id: int) -> Category | None:
    return session.get(Category, category_id)


def get_section(session: Session, section_id: int) -> Section | None:
    return session.get(Section, section_id)


# --- articles ----------------------------------------------------------------------------------


def public_article(session: Session, article_id: int) -> Article | None:
    article = session.get(Article, article_id)
    return article if article is not None and article.is_public else None


def article_id_for_slug(session: Session, slug: str) -> int | None:
    """The article that has (or once had) ``slug``."""
    return session.scalar(select(ArticleSlug.article_id).where(ArticleSlug.slug == slug[:200]))


def linked_body_html(session: Session, article: Article) -> str:
    """The article's HTML with its 'Read "..."' cross-references linked to the published articles
    they name: by exact title, or by the slug the text makes (current or former, so "What is a
    booking collision?" finds the article whose slug is what-is-a-booking-collision). Resolved
    when read, so a reference written before its article was published, or renamed, still links."""
    wanted = referenced_titles(article.body_html)
    if not wanted:
        return article.body_html
    paths: dict[str, tuple[int, str]] = {}
    for article_id, slug, title in session.execute(
        select(Article.id, Article.slug, Article.title).where(PUBLISHED, Article.title.in_(wanted))
    ):
        paths[title] = (article_id, article_path(article_id, slug))
    by_slug: dict[str, list[str]] = {}
    for text in wanted - paths.keys():
        by_slug.setdefault(slugify(text, fallback=""), []).append(text)
    for known, article_id, slug in session.execute(
        select(ArticleSlug.slug, Article.id, Article.slug).join(Article, Article.id == ArticleSlug.article_id)
        .where(PUBLISHED, ArticleSlug.slug.in_([key for key in by_slug if key]))
    ):
        for text in by_slug[known]:
            paths[text] = (article_id, article_path(article_id, slug))
    return link_references(article.body_html, paths)


def articles_by_ids(session: Session, ids: Sequence[int], public_only: bool = True) -> list[Article]:
    """The articles, in the order of ``ids``; unpublished ones left out unless ``public_only`` is off."""
    if not ids:
        return []
    query = select(Article).where(Article.id.in_(ids))
    found = {a.id: a for a in session.scalars(query.where(PUBLISHED) if public_only else query)}
    return [found[i] for i in ids if i in found]


def related_articles(session: Session, article: Article, limit: int = 5) -> list[Article]:
    """Published articles sharing the most labels with ``article``; then its section's others."""
    shared = (
        select(ArticleTag.article_id, func.count().label("shared"))
        .where(ArticleTag.kind == "label", ArticleTag.value.in_(article.labels or [""]),
               ArticleTag.article_id != article.id)
        .group_by(ArticleTag.article_id).subquery()
    )
    ranked = session.scalars(
        select(Article).join(shared, shared.c.article_id == Article.id).where(PUBLISHED)
        .order_by(shared.c.shared.desc(), (Article.section_id == article.section_id).desc(), Article.id)
        .limit(limit)
    ).all()
    related = list(ranked)
    if len(related) < limit:
        taken = {a.id for a in related} | {article.id}
        for other in section_articles(session, article.section_id, limit + len(taken)):
            if other.id not in taken and len(related) < limit:
                related.append(other)
    return related


def labelled_articles(session: Session, label: str, limit: int = 50) -> Sequence[Article]:
    return session.scalars(
        select(Article).join(ArticleTag, ArticleTag.article_id == Article.id)
        .where(ArticleTag.kind == "label", ArticleTag.value == label.strip().lower()[:100], PUBLISHED)
        .order_by(Article.promoted.desc(), Article.title).limit(limit)
    ).all()


def articles_for_keys(session: Session, keys: Sequence[str]) -> list[dict[str, Any]]:
    """For each diagnosis cause code, the published article that answers it (promoted first),
    as ``{"key", "id", "title", "url"}``; a code no article has yet stays ``{"key": code}``."""
    if not keys:
        return []
    rows = session.execute(
        select(ArticleTag.value, Article.id, Article.title, Article.slug)
        .join(Article, Article.id == ArticleTag.article_id)
        .where(ArticleTag.kind == "key", ArticleTag.value.in_(list(keys)), PUBLISHED)
        .order_by(Article.promoted.desc(), Article.position, Article.id)
    ).all()
    best: dict[str, dict[str, Any]] = {}
    for key, article_id, title, slug in rows:
        best.setdefault(key, {"key": key, "id": article_id, "title": title, "url": article_path(article_id, slug)})
    return [best.get(key, {"key": key}) for key in keys]


@dataclass(frozen=True)
class ContextMatch:
    article: Article
    matched: list[str]  # e.g. ["key:diary_collision", "label:alerts", "page:/settings"]


def articles_for_context(session: Session, labels: Sequence[str], causes: Sequence[str], page: str | None,
                         limit: int = 5) -> list[ContextMatch]:
    """Articles for where a practice user is: cause codes weigh most, then a ``page:<path>``
    label whose path starts the page's path, then shared labels."""
    page = (page or "").strip()
    conditions = [(ArticleTag.kind == "key") & ArticleTag.value.in_(list(causes) or [""]),
                  (ArticleTag.kind == "label") & ArticleTag.value.in_(list(labels) or [""])]
    if page:
        conditions.append((ArticleTag.kind == "label") & ArticleTag.value.startswith(PAGE_LABEL_PREFIX))
    rows = session.execute(
        select(ArticleTag.article_id, ArticleTag.kind, ArticleTag.value)
        .join(Article, Article.id == ArticleTag.article_id)
        .where(PUBLISHED, or_(*conditions))
    ).all()
    scores: dict[int, int] = {}
    matched: dict[int, list[str]] = {}
    for article_id, kind, value in rows:
        if kind == "key":
            weight, why = 10, f"key:{value}"
        elif value.startswith(PAGE_LABEL_PREFIX):
            path = value[len(PAGE_LABEL_PREFIX):]
            if not (path and page.startswith(path)):
                continue
            weight, why = 5, value
        else:
            weight, why = 3, f"label:{value}"
        scores[article_id] = scores.get(article_id, 0) + weight
        matched.setdefault(article_id, []).append(why)
    articles = {a.id: a for a in articles_by_ids(session, list(scores))}
    order = sorted(articles, key=lambda i: (-scores[i], not articles[i].promoted, -articles[i].votes_up, i))
    return [ContextMatch(articles[i], matched[i]) for i in order[:limit]]


# --- search ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SearchResult:
    article: Article
    snippet_html: str


@dataclass(frozen=True)
class SearchPage:
    query: str
    results: list[SearchResult]
    total: int  # counted up to search.MAX_TOTAL
    page: int
    per_page: int

    @property
    def total_is_exact(self) -> bool:
        return self.total < search.MAX_TOTAL

    @property
    def pages(self) -> int:
        return min(MAX_SEARCH_PAGE, (self.total + self.per_page - 1) // self.per_page)


def search_articles(session: Session, q: str, page: int = 1, per_page: int = SEARCH_PAGE_SIZE) -> SearchPage:
    page = max(1, min(page, MAX_SEARCH_PAGE))
    found = search.search(session, q, limit=per_page, offset=(page - 1) * per_page)
    articles = {a.id: a for a in articles_by_ids(session, [hit.article_id for hit in found.hits])}
    results = [SearchResult(articles[h.article_id], h.snippet_html) for h in found.hits if h.article_id in articles]
    return SearchPage(q, results, found.total, page, per_page)


def suggest_articles(session: Session, q: str, limit: int = 6) -> list[Article]:
    return articles_by_ids(session, search.suggest(session, q, limit))


# --- follows and comments ----------------------------------------------------------------------


def follow_of(session: Session, email: str | None, *, article_id: int | None = None,
              section_id: int | None = None) -> Follow | None:
    if not email:
        return None
    target = Follow.article_id == article_id if article_id is not None else Follow.section_id == section_id
    return session.scalar(select(Follow).where(target, Follow.email == email.strip().lower()))


def follow_by_token(session: Session, token: str) -> Follow | None:
    return session.scalar(select(Follow).where(Follow.token == token))


def vote_of(session: Session, article_id: int, voter: str) -> bool | None:
    """The person's answer to "Was this article helpful?", if they gave one."""
    return session.scalar(select(Vote.helpful).where(Vote.article_id == article_id, Vote.voter == voter))


def published_comments(session: Session, article_id: int) -> Sequence[Comment]:
    return session.scalars(
        select(Comment).where(Comment.article_id == article_id, Comment.status == "published")
        .order_by(Comment.created_at, Comment.id)
    ).all()


def own_pending_comments(session: Session, article_id: int, practice_id: str, user_id: str) -> Sequence[Comment]:
    return session.scalars(
        select(Comment).where(Comment.article_id == article_id, Comment.status == "pending",
                              Comment.practice_id == practice_id, Comment.user_id == user_id)
        .order_by(Comment.created_at, Comment.id)
    ).all()


# --- console -----------------------------------------------------------------------------------


def console_articles(session: Session, status: str | None = None, section_id: int | None = None,
                     q: str = "", limit: int = 200) -> Sequence[Article]:
    query = select(Article)
    if status:
        query = query.where(Article.status == status)
    if section_id:
        query = query.where(Article.section_id == section_id)
    if q.strip():
        query = query.where(func.lower(Article.title).contains(q.strip().lower()[:200], autoescape=True))
    return session.scalars(query.order_by(Article.section_id, Article.position, Article.id).limit(limit)).all()


def revisions(session: Session, article_id: int) -> Sequence[Revision]:
    return session.scalars(
        select(Revision).where(Revision.article_id == article_id).order_by(Revision.number.desc())
    ).all()


def get_revision(session: Session, article_id: int, number: int) -> Revision | None:
    return session.scalar(select(Revision).where(Revision.article_id == article_id, Revision.number == number))


def comments_for_moderation(session: Session, status: str = "pending", limit: int = 100) -> Sequence[Comment]:
    return session.scalars(
        select(Comment).where(Comment.status == status).order_by(Comment.created_at.desc(), Comment.id.desc())
        .limit(limit)
    ).all()


def article_comment_counts(session: Session, article_id: int) -> dict[str, int]:
    rows = session.execute(
        select(Comment.status, func.count()).where(Comment.article_id == article_id).group_by(Comment.status)
    )
    return {status: int(count) for status, count in rows}


# --- JSON shapes (the API and the diagnosis share them) ---------------------------------------


def section_ref(section: Section) -> dict[str, Any]:
    return {"id": section.id, "name": section.name, "url": f"/hc/sections/{section.id}-{section.slug}",
            "category": {"id": section.category.id, "name": section.category.name,
                         "url": f"/hc/categories/{section.category.id}-{section.category.slug}"}}


def article_summary(article: Article) -> dict[str, Any]:
    return {
        "id": article.id, "title": article.title, "url": article.path, "section": section_ref(article.section),
        "labels": list(article.labels), "keys": list(article.keys), "promoted": article.promoted,
        "updated_at": article.updated_at.isoformat(),
    }


def article_detail(session: Session, article: Article) -> dict[str, Any]:
    return {
        **article_summary(article),
        "body_html": linked_body_html(session, article),
        "comments_enabled": article.comments_enabled,
        "created_at": article.created_at.isoformat(),
        "votes": {"up": article.votes_up, "down": article.votes_down},
        "view_count": article.view_count,
    }
