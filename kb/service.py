"""Verbs of the knowledge base. Each takes the session and its actor explicitly, never commits
(the HTTP edge or the CLI does) and knows nothing of HTTP.

Actors: an ``Agent`` in the console (authoring needs the editor or admin role; moderating
comments needs any agent), ``None`` for the system itself (the CLI import and the demo loader),
and on the public side a ``Person``: a signed-in practice user or an anonymous visitor.

Every change to an article's content goes through ``_apply``, which records a revision, keeps the
tag table and the search index in step, and queues notifications to the followers.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, TypeVar

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from helpdesk.core.agents import Agent
from helpdesk.core.auth import PracticeUser
from helpdesk.core.clock import unix_now, utcnow
from helpdesk.core.errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthenticated
from helpdesk.core.text import EMAIL_RE
from helpdesk.core.web import absolute_link
from helpdesk.outbox.service import enqueue_email
from kb import search, transfer
from kb.models import (
    ARTICLE_STATUSES,
    Article,
    ArticleSlug,
    ArticleTag,
    Category,
    Comment,
    Follow,
    Notification,
    Revision,
    Section,
    SessionHandoff,
    Vote,
    snapshot,
)
from kb.render import render_article, render_comment, slugify

AUTHOR_ROLES = ("editor", "admin")
SYSTEM_NAME = "System"
MAX_TITLE = 300
MAX_BODY = 200_000
MAX_COMMENT = 5_000
MAX_LABELS = 20
MAX_LABEL = 60
_KEY = re.compile(r"^[a-z][a-z0-9_]{1,63}$")
# Changes that followers hear about (status changes are announced separately, on publish).
NOTIFYING_FIELDS = ("title", "body")
SEARCHED_FIELDS = ("title", "body", "labels", "status", "promoted")
FOLLOW_CONFIRM_DAYS = 7  # an unconfirmed follow expires after this
HANDOFF_SECONDS = 120  # a sign-in link from the widget works this long, once

Actor = Agent | None
Ordered = TypeVar("Ordered", Category, Section, Article)


# --- who may do what ------------------------------------------------------------------------


def can_author(agent: Agent | None) -> bool:
    return agent is not None and agent.is_active and agent.role in AUTHOR_ROLES


def _require_author(actor: Actor) -> None:
    if actor is not None and not can_author(actor):
        raise Forbidden("forbidden", "only editors and admins can change the knowledge base")


def _require_agent(actor: Actor) -> None:
    if actor is not None and not actor.is_active:
        raise Forbidden("forbidden", "this agent account is not active")


def _actor_name(actor: Actor) -> str:
    return actor.name if actor is not None else SYSTEM_NAME


@dataclass(frozen=True)
class Person:
    """Someone on the public side: a practice user signed in with a widget token, or else an
    anonymous visitor known by the random id in their signed session cookie."""

    user: PracticeUser | None = None
    visitor_id: str | None = None

    def __post_init__(self) -> None:
        if self.user is None and not self.visitor_id:
            raise ValueError("a person is a practice user or a visitor id")

    @property
    def key(self) -> str:
        if self.user is not None:
            return f"user:{self.user.practice_id}:{self.user.user_id}"
        return f"visitor:{self.visitor_id}"

    @property
    def email(self) -> str | None:
        return self.user.email if self.user is not None and self.user.email else None


# --- categories and sections ----------------------------------------------------------------


def _clean_name(name: str, what: str) -> str:
    name = " ".join((name or "").split())
    if not name:
        raise InvalidInput("invalid_name", f"the {what} needs a name")
    if len(name) > 200:
        raise InvalidInput("invalid_name", f"the {what}'s name must be at most 200 characters")
    return name


def _rename(item: Category | Section, what: str, name: str | None, description: str | None) -> None:
    if name is not None:
        item.name = _clean_name(name, what)
    if description is not None:
        item.description = description.strip()
    item.updated_at = utcnow()


def _free_slug(session: Session, model: type[Category] | type[Section], wanted: str, scope: Any = None,
               own_id: int | None = None) -> str:
    """``wanted``, or ``wanted-2``, ``wanted-3``... whichever no other row of ``model`` uses."""
    candidate, n = wanted, 1
    while True:
        query = select(model.id).where(model.slug == candidate)
        if model is Section:
            query = query.where(Section.category_id == scope)
        taken = session.scalar(query)
        if taken is None or taken == own_id:
            return candidate
        n += 1
        candidate = f"{wanted[:190]}-{n}"


def _next_position(session: Session, column: Any, *where: Any) -> int:
    return int(session.scalar(select(func.coalesce(func.max(column), -1) + 1).where(*where)) or 0)


def create_category(session: Session, actor: Actor, name: str, description: str = "",
                    slug: str | None = None) -> Category:
    _require_author(actor)
    name = _clean_name(name, "category")
    category = Category(
        name=name, description=(description or "").strip(),
        slug=_free_slug(session, Category, slugify(slug or name, "category")),
        position=_next_position(session, Category.position),
    )
    session.add(category)
    session.flush()
    return category


def update_category(session: Session, actor: Actor, category: Category, *, name: str | None = None,
                    description: str | None = None) -> None:
    _require_author(actor)
    _rename(category, "category", name, description)


def delete_category(session: Session, actor: Actor, category: Category) -> None:
    _delete_if_empty(session, actor, category, select(Section.id).where(Section.category_id == category.id),
                     "move or delete the category's sections first")


def _delete_if_empty(session: Session, actor: Actor, item: Category | Section, children: Any, message: str) -> None:
    _require_author(actor)
    if session.scalar(children.limit(1)) is not None:
        raise Conflict("not_empty", message)
    session.delete(item)


def create_section(session: Session, actor: Actor, category: Category, name: str, description: str = "",
                   slug: str | None = None) -> Section:
    _require_author(actor)
    name = _clean_name(name, "section")
    section = Section(
        category_id=category.id, name=name, description=(description or "").strip(),
        slug=_free_slug(session, Section, slugify(slug or name, "section"), scope=category.id),
        position=_next_position(session, Section.position, Section.category_id == category.id),
    )
    session.add(section)
    session.flush()
    return section


def update_section(session: Session, actor: Actor, section: Section, *, name: str | None = None,
                   description: str | None = None, category: Category | None = None) -> None:
    _require_author(actor)
    if category is not None and category.id != section.category_id:
        section.slug = _free_slug(session, Section, section.slug, scope=category.id)
        section.position = _next_position(session, Section.position, Section.category_id == category.id)
        section.category_id = category.id
        section.category = category
    _rename(section, "section", name, description)


def delete_section(session: Session, actor: Actor, section: Section) -> None:
    _delete_if_empty(session, actor, section, select(Article.id).where(Article.section_id == section.id),
                     "move or archive the section's articles first")


def reorder(session: Session, actor: Actor, items: Sequence[Ordered]) -> None:
    """Give ``items`` (siblings) the positions 0, 1, 2... in the order given."""
    _require_author(actor)
    for position, item in enumerate(items):
        item.position = position


def move(session: Session, actor: Actor, item: Ordered, siblings: Sequence[Ordered], step: int) -> None:
    """Move ``item`` one place up (``step=-1``) or down (``+1``) among its ordered ``siblings``."""
    ordered = list(siblings)
    index = ordered.index(item)
    target = index + step
    if 0 <= target < len(ordered):
        ordered[index], ordered[target] = ordered[target], ordered[index]
    reorder(session, actor, ordered)


# --- articles ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ArticleFields:
    """What an author writes. ``slug`` None keeps the current one (or derives one from the title)."""

    title: str
    body: str = ""
    labels: Sequence[str] = ()
    keys: Sequence[str] = ()
    promoted: bool = False
    comments_enabled: bool = True
    slug: str | None = None

    def cleaned(self) -> ArticleFields:
        title = " ".join((self.title or "").split())
        if not title:
            raise InvalidInput("invalid_title", "the article needs a title")
        if len(title) > MAX_TITLE:
            raise InvalidInput("invalid_title", f"the title must be at most {MAX_TITLE} characters")
        if len(self.body or "") > MAX_BODY:
            raise InvalidInput("invalid_body", f"the body must be at most {MAX_BODY:,} characters")
        return replace(self, title=title, body=(self.body or "").replace("\r\n", "\n").strip("\n").rstrip(),
                       labels=clean_labels(self.labels), keys=clean_keys(self.keys),
                       slug=slugify(self.slug) if self.slug and self.slug.strip() else None)


def clean_labels(labels: Iterable[str]) -> list[str]:
    cleaned: list[str] = []
    for label in labels:
        label = " ".join(str(label).split()).lower()
        if not label:
            continue
        if len(label) > MAX_LABEL:
            raise InvalidInput("invalid_labels", f"a label must be at most {MAX_LABEL} characters: {label[:80]!r}")
        if label not in cleaned:
            cleaned.append(label)
    if len(cleaned) > MAX_LABELS:
        raise InvalidInput("invalid_labels", f"an article can have at most {MAX_LABELS} labels")
    return cleaned


def clean_keys(keys: Iterable[str]) -> list[str]:
    cleaned: list[str] = []
    for key in keys:
        key = str(key).strip().lower()
        if not key:
            continue
        if not _KEY.match(key):
            raise InvalidInput("invalid_keys", f"a key is a cause code such as diary_collision, not {key[:80]!r}")
        if key not in cleaned:
            cleaned.append(key)
    return cleaned


def create_article(session: Session, actor: Actor, section: Section, fields: ArticleFields,
                   status: str = "draft", note: str = "") -> Article:
    _require_author(actor)
    fields = fields.cleaned()
    _check_status(status)
    now = utcnow()
    article = Article(
        section_id=section.id, section=section, title=fields.title, body=fields.body,
        body_html=render_article(fields.body), labels=list(fields.labels), keys=list(fields.keys),
        promoted=fields.promoted, comments_enabled=fields.comments_enabled, status=status,
        slug=_claimable_slug(session, fields.slug or slugify(fields.title), None, explicit=fields.slug is not None),
        position=_next_position(session, Article.position, Article.section_id == section.id),
        author_id=actor.id if actor is not None else None, created_at=now, updated_at=now,
        published_at=now if status == "published" else None,
    )
    session.add(article)
    session.flush()
    session.add(ArticleSlug(slug=article.slug, article_id=article.id))
    _sync_tags(session, article)
    _record_revision(session, actor, article, ["created"], note)
    search.sync_article(session, article)
    if status == "published":
        _notify(session, article, "article_published")
    return article


def update_article(session: Session, actor: Actor, article: Article, fields: ArticleFields,
                   section: Section | None = None, status: str | None = None, note: str = "",
                   notify: bool = True) -> list[str]:
    """Change what the author wrote (and, if given, the section and status) in one revision;
    returns the names of the fields that changed."""
    _require_author(actor)
    fields = fields.cleaned()
    changes: dict[str, Any] = {
        "title": fields.title, "body": fields.body, "labels": list(fields.labels), "keys": list(fields.keys),
        "promoted": fields.promoted, "comments_enabled": fields.comments_enabled,
    }
    if fields.slug is not None:
        changes["slug"] = fields.slug
    if section is not None and section.id != article.section_id:
        article.position = _next_position(session, Article.position, Article.section_id == section.id)
        changes["section_id"] = section.id
    if status is not None:
        _check_status(status)
        changes["status"] = status
    return _apply(session, actor, article, changes, note, notify)


def _check_status(status: str) -> None:
    if status not in ARTICLE_STATUSES:
        raise InvalidInput("invalid_status", f"status must be one of {', '.join(ARTICLE_STATUSES)}")


def set_status(session: Session, actor: Actor, article: Article, status: str, note: str = "") -> list[str]:
    _require_author(actor)
    _check_status(status)
    return _apply(session, actor, article, {"status": status}, note, notify=True)


def publish_article(session: Session, actor: Actor, article: Article) -> list[str]:
    return set_status(session, actor, article, "published")


def unpublish_article(session: Session, actor: Actor, article: Article) -> list[str]:
    return set_status(session, actor, article, "draft")


def archive_article(session: Session, actor: Actor, article: Article) -> list[str]:
    return set_status(session, actor, article, "archived")


def set_comments_enabled(session: Session, actor: Actor, article: Article, enabled: bool) -> list[str]:
    _require_author(actor)
    return _apply(session, actor, article, {"comments_enabled": enabled}, "", notify=False)


def move_article(session: Session, actor: Actor, article: Article, section: Section) -> list[str]:
    """Move an article to the end of another section."""
    _require_author(actor)
    if section.id == article.section_id:
        return []
    article.position = _next_position(session, Article.position, Article.section_id == section.id)
    return _apply(session, actor, article, {"section_id": section.id}, "", notify=False)


def restore_revision(session: Session, actor: Actor, article: Article, revision: Revision) -> list[str]:
    """Put back the content of an earlier revision (as a new revision; the status stays)."""
    _require_author(actor)
    if revision.article_id != article.id:
        raise NotFound("not_found", "revision not found")
    changes: dict[str, Any] = {
        "title": revision.title, "body": revision.body, "labels": list(revision.labels),
        "keys": list(revision.keys), "promoted": revision.promoted, "comments_enabled": revision.comments_enabled,
        "slug": revision.slug,
    }
    if revision.section_id is not None and session.get(Section, revision.section_id) is not None:
        changes["section_id"] = revision.section_id
    return _apply(session, actor, article, changes, f"restored revision {revision.number}", notify=True)


def _apply(session: Session, actor: Actor, article: Article, changes: dict[str, Any], note: str,
           notify: bool) -> list[str]:
    before = snapshot(article)
    if "slug" in changes:
        changes["slug"] = _claimable_slug(session, changes["slug"], article.id, explicit=True)
    for name, value in changes.items():
        setattr(article, name, value)
    after = snapshot(article)
    changed = [name for name in before if before[name] != after[name]]
    if not changed:
        return []
    now = utcnow()
    if "body" in changed:
        article.body_html = render_article(article.body)
    if "slug" in changed and session.get(ArticleSlug, article.slug) is None:
        session.add(ArticleSlug(slug=article.slug, article_id=article.id))
    if "section_id" in changed:
        article.section = session.get_one(Section, article.section_id)
    if "labels" in changed or "keys" in changed:
        _sync_tags(session, article)
    newly_published = "status" in changed and article.status == "published"
    if newly_published and article.published_at is None:
        article.published_at = now
    if set(changed) - {"status", "promoted", "comments_enabled"} or newly_published:
        article.updated_at = now
    session.flush()
    _record_revision(session, actor, article, changed, note)
    if set(changed) & set(SEARCHED_FIELDS):
        search.sync_article(session, article)
    if notify and newly_published:
        _notify(session, article, "article_published")
    elif notify and article.status == "published" and set(changed) & set(NOTIFYING_FIELDS):
        _notify(session, article, "article_updated")
    return changed


def _claimable_slug(session: Session, wanted: str, article_id: int | None, explicit: bool) -> str:
    """A slug no other article has ever had. An explicit slug that is taken is an error; a derived
    one gets a number (``-2``, ``-3``...)."""
    wanted = slugify(wanted)
    candidate, n = wanted, 1
    while True:
        owner = session.scalar(select(ArticleSlug.article_id).where(ArticleSlug.slug == candidate))
        if owner is None or owner == article_id:
            return candidate
        if explicit:
            raise Conflict("slug_taken", f"the slug {candidate!r} belongs to another article")
        n += 1
        candidate = f"{wanted[:190]}-{n}"


def _sync_tags(session: Session, article: Article) -> None:
    session.execute(delete(ArticleTag).where(ArticleTag.article_id == article.id))
    session.add_all(
        [ArticleTag(article_id=article.id, kind="label", value=label[:100]) for label in article.labels]
        + [ArticleTag(article_id=article.id, kind="key", value=key) for key in article.keys]
    )


def _record_revision(session: Session, actor: Actor, article: Article, changed: list[str], note: str) -> Revision:
    number = int(session.scalar(
        select(func.coalesce(func.max(Revision.number), 0)).where(Revision.article_id == article.id)
    ) or 0) + 1
    revision = Revision(article_id=article.id, number=number, author_id=actor.id if actor is not None else None,
                        author_name=_actor_name(actor), changed=changed, note=(note or "")[:300],
                        created_at=utcnow(), **snapshot(article))
    session.add(revision)
    return revision


# --- followers and their notifications -----------------------------------------------------


def _notify(session: Session, article: Article, kind: str, exclude_email: str | None = None) -> list[Notification]:
    """Queue one notification per follower of the article or of its section (once per address)."""
    follows = session.scalars(
        select(Follow).where((Follow.article_id == article.id) | (Follow.section_id == article.section_id),
                             Follow.confirmed_at.is_not(None))
        .order_by(Follow.article_id.is_(None), Follow.id)  # an article follow wins over a section follow
    ).all()
    section_name = article.section.name
    subjects = {
        "article_published": f"New article in {section_name}: {article.title}",
        "article_updated": f"Article updated: {article.title}",
        "comment_published": f"New comment on: {article.title}",
    }
    bodies = {
        "article_published": f'A new article, "{article.title}", was published in {section_name}.',
        "article_updated": f'The article "{article.title}" in {section_name} was updated.',
        "comment_published": f'Someone commented on the article "{article.title}".',
    }
    queued: list[Notification] = []
    seen = {exclude_email} if exclude_email else set()
    for follow in follows:
        if follow.email in seen:
            continue
        seen.add(follow.email)
        why = "this article" if follow.article_id is not None else f"the section {section_name}"
        notification = Notification(
            kind=kind, email=follow.email, article_id=article.id, follow_id=follow.id,
            subject=subjects[kind][:300],
            body=f"{bodies[kind]}\n\nYou receive this because you follow {why} in the Help Center.",
            url=absolute_link(article.path), unfollow_url=absolute_link(f"/hc/unfollow/{follow.token}"), created_at=utcnow(),
        )
        session.add(notification)
        queued.append(notification)
    return queued


def _follow_email(person: Person, email: str | None) -> str:
    address = (email or "").strip().lower() or (person.email or "").strip().lower()
    if not address:
        raise InvalidInput("email_required", "give an email address to be told about updates")
    if len(address) > 320 or not EMAIL_RE.match(address):
        raise InvalidInput("invalid_email", "that is not an email address")
    return address


def _follow_target(article: Article | None, section: Section | None) -> Any:
    if article is not None and section is None:
        return Follow.article_id == article.id
    if section is not None and article is None:
        return Follow.section_id == section.id
    raise ValueError("follow exactly one article or section")


def follow(session: Session, person: Person, *, article: Article | None = None, section: Section | None = None,
           email: str | None = None) -> Follow:
    """Follow an article or a section at ``email`` (default: the signed-in user's). Idempotent.

    The signed-in user's own address is confirmed at once; any other is emailed a link to confirm
    (again only once the earlier one has expired), and hears nothing until it does.
    """
    if article is not None and not article.is_public:
        raise NotFound("not_found", "article not found")
    address = _follow_email(person, email)
    target = _follow_target(article, section)
    vouched = address == (person.email or "").lower()
    now = utcnow()
    row = session.scalar(select(Follow).where(target, Follow.email == address))
    if row is None:
        row = Follow(
            article_id=article.id if article is not None else None,
            section_id=section.id if section is not None else None, email=address,
            user_id=person.user.user_id if person.user else None,
            practice_id=person.user.practice_id if person.user else None, token=secrets.token_urlsafe(24),
            created_at=now,
        )
        try:
            with session.begin_nested():
                session.add(row)
        except IntegrityError:  # the same follow, made a moment ago by a concurrent request
            return session.scalars(select(Follow).where(target, Follow.email == address)).one()
    elif row.confirmed or not (vouched or _confirmation_expired(row, now)):
        return row
    if vouched:
        row.confirmed_at = now
    else:
        row.created_at = now
        _ask_to_confirm(session, row, f'the article "{article.title}"' if article is not None
                        else f'the section "{section.name if section is not None else ""}"')
    return row


def _confirmation_expired(row: Follow, now: datetime) -> bool:
    return not row.confirmed and row.created_at <= now - timedelta(days=FOLLOW_CONFIRM_DAYS)


def _signer(salt: str) -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=salt)


def _ask_to_confirm(session: Session, row: Follow, what: str) -> None:
    """The double opt-in email, with a signed link to confirm."""
    session.flush()
    link = absolute_link(f"/hc/follows/confirm/{_signer('kb.follow-confirm').dumps({'f': row.id, 'k': row.token})}")
    enqueue_email(session, row.email, "Please confirm: follow updates in the Help Center",
                  "kb/email/follow_confirmation",
                  {"what": what, "confirm_url": link, "days": FOLLOW_CONFIRM_DAYS},
                  dedupe_key=f"kb_follow_confirm:{row.id}:{row.created_at.isoformat()}")


def follow_for_confirmation(session: Session, token: str) -> Follow | None:
    """The follow a confirmation link names, if the link is genuine and the follow still exists."""
    try:
        claims = _signer("kb.follow-confirm").loads(token)
    except BadSignature:
        return None
    row = session.get(Follow, claims.get("f")) if isinstance(claims, dict) else None
    return row if row is not None and row.token == claims.get("k") else None


def confirmation_state(row: Follow | None) -> str:
    """Where a follow's double opt-in stands: ``waiting``, ``already`` confirmed, or ``expired``
    (its link unused for too long, or the follow gone)."""
    if row is None or _confirmation_expired(row, utcnow()):
        return "expired"
    return "already" if row.confirmed else "waiting"


def confirm_follow(session: Session, row: Follow | None) -> str:
    """The emailed link's second step: from now on the address hears about changes. Returns
    ``confirmed``, or the state that stopped it (``already``: twice is harmless; ``expired``)."""
    state = confirmation_state(row)
    if state != "waiting" or row is None:
        return state
    row.confirmed_at = utcnow()
    return "confirmed"


def purge_unconfirmed_follows(session: Session) -> int:
    """Drop the follows nobody confirmed in time (the outbox's send pass calls this)."""
    cutoff = utcnow() - timedelta(days=FOLLOW_CONFIRM_DAYS)
    return int(session.execute(
        delete(Follow).where(Follow.confirmed_at.is_(None), Follow.created_at <= cutoff)
    ).rowcount or 0)


def unfollow(session: Session, person: Person, *, article: Article | None = None, section: Section | None = None,
             email: str | None = None) -> bool:
    address = _follow_email(person, email)
    target = _follow_target(article, section)
    return bool(session.execute(delete(Follow).where(target, Follow.email == address)).rowcount)


def unfollow_by_token(session: Session, token: str) -> Follow | None:
    """The unfollow link in a notification: no sign-in needed, the token is the proof."""
    row = session.scalar(select(Follow).where(Follow.token == token[:64]))
    if row is not None:
        session.delete(row)
    return row


# --- signing in from the help widget ---------------------------------------------------------

HANDOFF_INVALID = "This sign-in link is not valid."
HANDOFF_AGAIN = " Open the Help Center again from the help widget in your practice portal."
HANDOFF_USED = "This sign-in link has already been used: each one works once."


@dataclass(frozen=True)
class Handoff:
    user: PracticeUser
    next_path: str


def _handoff_key(token: str) -> str:
    """What is stored of a hand-off link's secret: its hash, so the table alone signs nobody in."""
    return hashlib.sha256(token.encode()).hexdigest()


def handoff_token(session: Session, user: PracticeUser, next_path: str) -> str:
    """A sign-in for one link from the widget to the Help Center: a random secret, valid for
    ``HANDOFF_SECONDS`` (never past the widget token) and used up once redeemed, so a copied or
    logged URL is worth nothing. Who it signs in stays here: neither the widget token nor the
    user's name or email goes in the URL."""
    now = utcnow()
    session.execute(delete(SessionHandoff).where(SessionHandoff.expires_at < now - timedelta(days=1)))
    token = secrets.token_urlsafe(32)
    expires = min(unix_now() + HANDOFF_SECONDS, user.expires_at or float("inf"))
    session.add(SessionHandoff(id=_handoff_key(token), user=asdict(user), next_path=next_path, created_at=now,
                               expires_at=datetime.fromtimestamp(expires, timezone.utc)))
    return token


def redeem_handoff(session: Session, token: str) -> Handoff:
    """The practice user a sign-in link carries, once: an unknown, expired or used link is refused."""
    row = session.get(SessionHandoff, _handoff_key(token)) if token else None
    if row is None:
        raise Unauthenticated("invalid_handoff", HANDOFF_INVALID + HANDOFF_AGAIN)
    now = utcnow()
    if row.used_at is not None:
        raise Unauthenticated("handoff_used", HANDOFF_USED + HANDOFF_AGAIN)
    if now >= row.expires_at:
        raise Unauthenticated("handoff_expired", f"This sign-in link has expired: it works for "
                              f"{HANDOFF_SECONDS // 60} minutes." + HANDOFF_AGAIN)
    claimed = session.execute(update(SessionHandoff).where(SessionHandoff.id == row.id, SessionHandoff.used_at.is_(None))
                              .values(used_at=now).execution_options(synchronize_session=False))
    if claimed.rowcount != 1:  # another request redeemed it a moment ago
        raise Unauthenticated("handoff_used", HANDOFF_USED + HANDOFF_AGAIN)
    return Handoff(PracticeUser(**row.user), row.next_path)


# --- votes, views, comments ------------------------------------------------------------------


def vote(session: Session, person: Person, article: Article, helpful: bool) -> Vote:
    """One vote per person per article; voting again replaces the earlier answer."""
    if not article.is_public:
        raise NotFound("not_found", "article not found")
    where = (Vote.article_id == article.id, Vote.voter == person.key)
    row = session.scalar(select(Vote).where(*where))
    if row is None:
        row = Vote(article_id=article.id, voter=person.key, helpful=helpful, created_at=utcnow(), updated_at=utcnow())
        try:
            with session.begin_nested():
                session.add(row)
        except IntegrityError:  # a concurrent first vote by the same person
            row = session.scalars(select(Vote).where(*where)).one()
    if row.helpful != helpful:
        row.helpful = helpful
        row.updated_at = utcnow()
    session.flush()
    _recount_votes(session, article)
    return row


def _recount_votes(session: Session, article: Article) -> None:
    up, down = session.execute(
        select(func.count().filter(Vote.helpful.is_(True)), func.count().filter(Vote.helpful.is_(False)))
        .where(Vote.article_id == article.id)
    ).one()
    article.votes_up, article.votes_down = int(up), int(down)


def record_view(session: Session, article_id: int) -> None:
    """Count a view without touching ``updated_at`` (a plain UPDATE, not an ORM change)."""
    session.execute(update(Article).where(Article.id == article_id).values(view_count=Article.view_count + 1))


def add_comment(session: Session, user: PracticeUser, article: Article, body: str) -> Comment:
    """A signed-in practice user's comment; it waits for an agent before anyone else sees it."""
    if not article.is_public:
        raise NotFound("not_found", "article not found")
    if not article.comments_enabled:
        raise Conflict("comments_closed", "this article is closed for comments")
    body = (body or "").replace("\r\n", "\n").strip()
    if not body:
        raise InvalidInput("invalid_body", "write a comment first")
    if len(body) > MAX_COMMENT:
        raise InvalidInput("invalid_body", f"a comment must be at most {MAX_COMMENT:,} characters")
    comment = Comment(
        article_id=article.id, practice_id=user.practice_id, user_id=user.user_id,
        author_name=(user.name or "Practice user")[:200], author_email=user.email[:320], body=body,
        body_html=render_comment(body), status="pending", created_at=utcnow(),
    )
    session.add(comment)
    session.flush()
    return comment


def moderate_comment(session: Session, actor: Agent, comment: Comment, status: str) -> None:
    """An agent publishes or rejects a comment; publishing tells the article's followers."""
    _require_agent(actor)
    if status not in ("published", "rejected"):
        raise InvalidInput("invalid_status", "a comment is published or rejected")
    if comment.status == status:
        return
    comment.status = status
    comment.moderated_at = utcnow()
    comment.moderated_by_id = actor.id
    if status == "published":
        article = session.get_one(Article, comment.article_id)
        if article.is_public:
            _notify(session, article, "comment_published", exclude_email=comment.author_email.lower() or None)


def delete_comment(session: Session, actor: Agent, comment: Comment) -> None:
    _require_agent(actor)
    session.delete(comment)


# --- import and export (a folder of Markdown files with YAML front matter) -----------------


@dataclass
class ImportReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return f"{len(self.created)} created, {len(self.updated)} updated, {len(self.unchanged)} unchanged"


def import_folder(session: Session, path: str | Path, actor: Actor = None) -> ImportReport:
    """Create or update articles from ``path`` (see ``kb.transfer``). Articles are matched by
    their ``slug`` (current or former), categories and sections by name, so importing the same
    folder twice changes nothing the second time. Every file is checked before anything is
    written: one bad file fails the import, naming the file and the field."""
    _require_author(actor)
    folder = transfer.read_folder(Path(path))
    report = ImportReport()
    categories: dict[str, Category] = {}
    sections: dict[tuple[str, str], Section] = {}
    for entry in folder.structure:
        category = _import_category(session, actor, entry.name, entry.description, categories)
        for section_entry in entry.sections:
            _import_section(session, actor, category, section_entry.name, section_entry.description, sections)
    for item in folder.articles:
        category = _import_category(session, actor, item.category, None, categories)
        section = _import_section(session, actor, category, item.section, None, sections)
        fields = ArticleFields(title=item.title, body=item.body, labels=item.labels, keys=item.keys,
                               promoted=item.promoted, comments_enabled=item.comments_enabled, slug=item.slug)
        owner = session.scalar(select(ArticleSlug.article_id).where(ArticleSlug.slug == slugify(item.slug)))
        if owner is None:
            article = create_article(session, actor, section, fields, status=item.status,
                                     note=f"imported from {item.filename}")
            if item.position is not None:
                article.position = item.position
            report.created.append(item.slug)
            continue
        article = session.get_one(Article, owner)
        changed = update_article(session, actor, article, fields, section=section, status=item.status,
                                 note=f"imported from {item.filename}")
        (report.updated if changed else report.unchanged).append(item.slug)
    return report


def _import_category(session: Session, actor: Actor, name: str, description: str | None,
                     seen: dict[str, Category]) -> Category:
    slug = slugify(name, "category")
    if slug not in seen:
        found = session.scalar(select(Category).where(Category.slug == slug))
        seen[slug] = found or create_category(session, actor, name, description or "", slug=slug)
    category = seen[slug]
    if description is not None and category.description != description.strip():
        update_category(session, actor, category, description=description)
    return category


def _import_section(session: Session, actor: Actor, category: Category, name: str, description: str | None,
                    seen: dict[tuple[str, str], Section]) -> Section:
    key = (category.slug, slugify(name, "section"))
    if key not in seen:
        found = session.scalar(select(Section).where(Section.category_id == category.id, Section.slug == key[1]))
        seen[key] = found or create_section(session, actor, category, name, description or "", slug=key[1])
    section = seen[key]
    if description is not None and section.description != description.strip():
        update_section(session, actor, section, description=description)
    return section


def export_folder(session: Session, path: str | Path) -> int:
    """Write every article (drafts and archived ones too) and the structure to ``path``."""
    categories = session.scalars(select(Category).order_by(Category.position, Category.id)).all()
    sections = session.scalars(select(Section).order_by(Section.position, Section.id)).all()
    articles = session.scalars(select(Article).order_by(Article.section_id, Article.position, Article.id)).all()
    structure = [
        transfer.StructureEntry(
            name=category.name, description=category.description,
            sections=[transfer.SectionEntry(s.name, s.description) for s in sections if s.category_id == category.id],
        )
        for category in categories
    ]
    items = [
        transfer.ArticleFile(
            filename=f"{article.slug}.md", title=article.title, slug=article.slug,
            category=article.section.category.name, section=article.section.name, labels=list(article.labels),
            keys=list(article.keys), promoted=article.promoted, comments_enabled=article.comments_enabled,
            status=article.status, position=article.position, body=article.body,
        )
        for article in articles
    ]
    transfer.write_folder(Path(path), structure, items)
    return len(items)
