"""Canned replies: saved answers agents drop into a chat (``/shortcode``) or a request's reply box.

One model for both channels, so an answer written once serves everywhere.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Integer, String, Text, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from helpdesk.core.agents import Agent
from helpdesk.core.clock import utcnow
from helpdesk.core.db import Base
from helpdesk.core.errors import Conflict, InvalidInput, NotFound
from helpdesk.core.text import clean_text

SHORTCODE_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
TITLE_MAX = 200
BODY_MAX = 20_000


class CannedReply(Base):
    __tablename__ = "canned_replies"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    shortcode: Mapped[str] = mapped_column(String(40), unique=True)
    title: Mapped[str] = mapped_column(String(TITLE_MAX))
    body: Mapped[str] = mapped_column(Text)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


def shortcode_from_title(title: str) -> str:
    """A short code for a reply saved by title alone: its first words, as a slug."""
    slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:40].strip("-")
    return slug or "reply"


def _shortcode(value: Any) -> str:
    code = clean_text(value, "shortcode", 40).lower().lstrip("/")
    if not SHORTCODE_RE.match(code):
        raise InvalidInput("invalid_field", "a short code is letters, digits, - and _ (e.g. greet)", field="shortcode")
    return code


def save_canned_reply(session: Session, agent: Agent, shortcode: Any, title: Any, body: Any) -> CannedReply:
    """Create the reply with this short code, or replace its title and body."""
    code = _shortcode(shortcode)
    reply = find_canned_reply(session, code)
    if reply is None:
        reply = CannedReply(shortcode=code, created_by_id=agent.id)
        session.add(reply)
    reply.title = clean_text(title, "title", TITLE_MAX)
    reply.body = clean_text(body, "body", BODY_MAX)
    return reply


def add_canned_reply(session: Session, agent: Agent, title: Any, body: Any, shortcode: Any = None) -> CannedReply:
    """A new reply; a title whose short code is taken is a conflict, never an overwrite."""
    title = clean_text(title, "title", TITLE_MAX)
    code = _shortcode(shortcode) if shortcode else shortcode_from_title(title)
    if find_canned_reply(session, code) is not None:
        raise Conflict("duplicate_title", f"a canned reply {code!r} already exists", field="title")
    reply = CannedReply(shortcode=code, title=title, body=clean_text(body, "body", BODY_MAX), created_by_id=agent.id)
    session.add(reply)
    return reply


def find_canned_reply(session: Session, shortcode: str) -> CannedReply | None:
    return session.scalar(select(CannedReply).where(CannedReply.shortcode == shortcode.lower()))


def canned_replies(session: Session, order_by: str = "title") -> list[CannedReply]:
    column = CannedReply.shortcode if order_by == "shortcode" else CannedReply.title
    return list(session.scalars(select(CannedReply).order_by(column)))


def delete_canned_reply(session: Session, agent: Agent, reply: CannedReply | None) -> None:
    if reply is None:
        raise NotFound("not_found", "canned reply not found")
    session.delete(reply)
