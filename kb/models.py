"""The knowledge base: categories > sections > articles, with revisions, votes, follows,
comments and the queue of follower notifications.

The full-text search index is not a model: it is dialect-specific DDL written by the migration
(an FTS5 virtual table on SQLite, a tsvector table with a GIN index on PostgreSQL) and kept by
``kb.search``; ``UNMANAGED_TABLES`` tells the migration environment to leave it out of
``alembic check``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from helpdesk.core.agents import Agent
from helpdesk.core.clock import utcnow
from helpdesk.core.db import Base

ARTICLE_STATUSES = ("draft", "published", "archived")
COMMENT_STATUSES = ("pending", "published", "rejected")
TAG_KINDS = ("label", "key")

# The search index's tables (see kb.search): made by the migration, not by the models.
UNMANAGED_TABLES = frozenset(
    {"kb_search_words"}
    | {f"{table}{shadow}" for table in ("kb_search", "kb_search_titles")
       for shadow in ("", "_data", "_idx", "_content", "_docsize", "_config")}
)
Base.metadata.info.setdefault("unmanaged_tables", set()).update(UNMANAGED_TABLES)


class Category(Base):
    __tablename__ = "kb_categories"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    slug: Mapped[str] = mapped_column(String(200), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    position: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    sections: Mapped[list[Section]] = relationship(
        back_populates="category", order_by="(Section.position, Section.id)", lazy="raise"
    )


class Section(Base):
    __tablename__ = "kb_sections"
    __table_args__ = (
        UniqueConstraint("category_id", "slug", name="uq_kb_sections_category_slug"),
        Index("ix_kb_sections_category_position", "category_id", "position"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    category_id: Mapped[int] = mapped_column(ForeignKey("kb_categories.id", ondelete="RESTRICT"))
    name: Mapped[str] = mapped_column(String(200))
    slug: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    position: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    category: Mapped[Category] = relationship(back_populates="sections", lazy="joined")


class Article(Base):
    """An article. ``body`` is the Markdown source; ``body_html`` its sanitized rendering.

    ``updated_at`` moves only when the content changes (not when the view count does).
    ``labels`` and ``keys`` (diagnosis cause codes) are kept as authored, and mirrored into
    ``kb_article_tags`` for indexed lookups.
    """

    __tablename__ = "kb_articles"
    __table_args__ = (
        Index("ix_kb_articles_section_status_position", "section_id", "status", "position"),
        # Not (status, ...): the planner would use it for "status = ?" and walk every published article.
        Index("ix_kb_articles_promoted_status", "promoted", "status"),
        Index("ix_kb_articles_title", "title"),  # 'Read "<title>"' cross-references (kb.queries.linked_body_html)
        CheckConstraint("status IN ('draft', 'published', 'archived')", name="status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    section_id: Mapped[int] = mapped_column(ForeignKey("kb_sections.id", ondelete="RESTRICT"))
    title: Mapped[str] = mapped_column(String(300))
    slug: Mapped[str] = mapped_column(String(200), unique=True)
    body: Mapped[str] = mapped_column(Text, default="")
    body_html: Mapped[str] = mapped_column(Text, default="")
    labels: Mapped[list[str]] = mapped_column(JSON, default=list)
    keys: Mapped[list[str]] = mapped_column(JSON, default=list)
    promoted: Mapped[bool] = mapped_column(Boolean, default=False)
    position: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(16), default="draft")
    comments_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    published_at: Mapped[datetime | None]
    view_count: Mapped[int] = mapped_column(Integer, default=0)
    votes_up: Mapped[int] = mapped_column(Integer, default=0)
    votes_down: Mapped[int] = mapped_column(Integer, default=0)

    section: Mapped[Section] = relationship(lazy="joined")
    author: Mapped[Agent | None] = relationship(lazy="select")

    @property
    def path(self) -> str:
        return article_path(self.id, self.slug)

    @property
    def is_public(self) -> bool:
        return self.status == "published"


def article_path(article_id: int, slug: str) -> str:
    """The article's stable public URL path (no request context needed)."""
    return f"/hc/articles/{article_id}-{slug}"


class ArticleTag(Base):
    """One label or diagnosis key of an article, for indexed lookups (context, related, key)."""

    __tablename__ = "kb_article_tags"
    __table_args__ = (Index("ix_kb_article_tags_kind_value", "kind", "value", "article_id"),)

    article_id: Mapped[int] = mapped_column(ForeignKey("kb_articles.id", ondelete="CASCADE"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(8), primary_key=True)  # label | key
    value: Mapped[str] = mapped_column(String(100), primary_key=True)


class ArticleSlug(Base):
    """Every slug an article has had, so old links (and imports by an old slug) still find it."""

    __tablename__ = "kb_article_slugs"

    slug: Mapped[str] = mapped_column(String(200), primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("kb_articles.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Revision(Base):
    """A snapshot of an article's content after a change: who changed what, when."""

    __tablename__ = "kb_revisions"
    __table_args__ = (UniqueConstraint("article_id", "number", name="uq_kb_revisions_article_number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("kb_articles.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    author_name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    changed: Mapped[list[str]] = mapped_column(JSON, default=list)
    note: Mapped[str] = mapped_column(String(300), default="")
    title: Mapped[str] = mapped_column(String(300))
    slug: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    labels: Mapped[list[str]] = mapped_column(JSON, default=list)
    keys: Mapped[list[str]] = mapped_column(JSON, default=list)
    section_id: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))
    promoted: Mapped[bool] = mapped_column(Boolean)
    comments_enabled: Mapped[bool] = mapped_column(Boolean)


class Vote(Base):
    """One person's answer to "Was this article helpful?"; they may change their mind.

    ``voter`` is ``user:<practice>:<user id>`` for a signed-in practice user, or
    ``visitor:<id>`` for an anonymous visitor (the id lives in the signed session cookie).
    """

    __tablename__ = "kb_votes"
    __table_args__ = (UniqueConstraint("article_id", "voter", name="uq_kb_votes_article_voter"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("kb_articles.id", ondelete="CASCADE"))
    voter: Mapped[str] = mapped_column(String(200))
    helpful: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class Follow(Base):
    """A subscription of an email address to an article or to a section (exactly one of them).

    Double opt-in: a typed address is emailed a link to confirm, and only a confirmed follow
    (``confirmed_at`` set) is told about changes; one left unconfirmed expires. The signed-in
    practice user's own address (vouched for by the widget token) is confirmed at once.
    """

    __tablename__ = "kb_follows"
    __table_args__ = (
        UniqueConstraint("article_id", "email", name="uq_kb_follows_article_email"),
        UniqueConstraint("section_id", "email", name="uq_kb_follows_section_email"),
        CheckConstraint("(article_id IS NULL) <> (section_id IS NULL)", name="one_target"),
        Index("ix_kb_follows_confirmed_created", "confirmed_at", "created_at"),  # expiring unconfirmed ones
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    article_id: Mapped[int | None] = mapped_column(ForeignKey("kb_articles.id", ondelete="CASCADE"))
    section_id: Mapped[int | None] = mapped_column(ForeignKey("kb_sections.id", ondelete="CASCADE"), index=True)
    email: Mapped[str] = mapped_column(String(320))
    user_id: Mapped[str | None] = mapped_column(String(128))
    practice_id: Mapped[str | None] = mapped_column(String(64))
    # Lets an emailed "unfollow" link work without signing in.
    token: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    confirmed_at: Mapped[datetime | None]

    @property
    def confirmed(self) -> bool:
        return self.confirmed_at is not None


class SessionHandoff(Base):
    """A sign-in hand-off from the help widget to the Help Center (``kb.service``): the link holds
    only a random secret, stored here as its hash with the practice user it signs in; it is
    short-lived and single-use (``used_at``). Rows a day past ``expires_at`` are deleted as new
    ones come."""

    __tablename__ = "kb_session_handoffs"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # SHA-256 of the link's secret
    user: Mapped[dict[str, Any]] = mapped_column(JSON)  # the PracticeUser the widget token vouched for
    next_path: Mapped[str] = mapped_column(String(2000))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)
    used_at: Mapped[datetime | None]


class Notification(Base):
    """A queued email to a follower. The requests issue's outbox sends rows whose ``sent_at``
    is null and stamps ``sent_at`` (or ``failed_at`` and ``error``) when done."""

    __tablename__ = "kb_notifications"
    __table_args__ = (Index("ix_kb_notifications_pending", "sent_at", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))  # article_updated | article_published | comment_published
    email: Mapped[str] = mapped_column(String(320))
    article_id: Mapped[int | None] = mapped_column(ForeignKey("kb_articles.id", ondelete="SET NULL"), index=True)
    follow_id: Mapped[int | None] = mapped_column(ForeignKey("kb_follows.id", ondelete="SET NULL"))
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    url: Mapped[str] = mapped_column(String(500))
    unfollow_url: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]
    failed_at: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(Text)


class Comment(Base):
    """A practice user's comment; shown once an agent publishes it (``pending`` until then)."""

    __tablename__ = "kb_comments"
    __table_args__ = (
        Index("ix_kb_comments_article_status_time", "article_id", "status", "created_at"),
        Index("ix_kb_comments_status_time", "status", "created_at"),
        CheckConstraint("status IN ('pending', 'published', 'rejected')", name="status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("kb_articles.id", ondelete="CASCADE"))
    practice_id: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[str] = mapped_column(String(128))
    author_name: Mapped[str] = mapped_column(String(200))
    author_email: Mapped[str] = mapped_column(String(320), default="")
    body: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    moderated_at: Mapped[datetime | None]
    moderated_by_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))

    article: Mapped[Article] = relationship(lazy="raise")


def snapshot(article: Article) -> dict[str, Any]:
    """The fields a revision keeps (and a restore puts back)."""
    return {
        "title": article.title, "slug": article.slug, "body": article.body, "labels": list(article.labels),
        "keys": list(article.keys), "section_id": article.section_id, "status": article.status,
        "promoted": article.promoted, "comments_enabled": article.comments_enabled,
    }
