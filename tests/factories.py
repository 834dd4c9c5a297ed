"""Factories with traits for the domain objects, built through the services themselves.

Each returns the stored object; traits name the situation a test needs (``make_booking(...,
trait="collision")``) instead of spelling out the events. Bookings go through the real ingest
(parse, apply), so what a test builds is what the platform could have sent. Nothing commits: the
tests' ``db_session`` rolls back.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session

from chat import service as chat_service
from chat.models import Conversation
from helpdesk.bookings import ingest
from helpdesk.bookings.models import Booking, Practice
from helpdesk.bookings.queries import find_booking
from helpdesk.core.agents import NewAgent, create_agent
from helpdesk.core.auth import PracticeUser
from helpdesk.core.clock import utcnow
from helpdesk.requests import service as requests_service
from helpdesk.requests.models import Request
from kb import service as kb_service
from kb.models import Article
from tests.helpdesk import factories as events

_serial = itertools.count(1)

# What reached the practice, per trait: the events after ``booking.created``.
BOOKING_TRAITS: dict[str, Sequence[tuple[str, dict[str, Any]]]] = {
    "healthy": (("email", {"outcome": "delivered"}), ("diary_inserted", {})),
    "collision": (("email", {"outcome": "delivered"}), ("diary_failed", {"reason": "collision"}),
                  ("alert", {"kind": "collision"})),
    "collision_unalerted": (("email", {"outcome": "delivered"}), ("diary_failed", {"reason": "collision"})),
    "connection_lost": (("email", {"outcome": "delivered"}), ("diary_failed", {"reason": "connection_lost"})),
    "patient_match": (("email", {"outcome": "delivered"}), ("diary_failed", {"reason": "patient_match"})),
    "rejected": (("email", {"outcome": "delivered"}), ("diary_failed", {"reason": "rejected"})),
    "email_bounced": (("email", {"outcome": "bounced"}), ("diary_inserted", {})),
    "diary_pending": (("email", {"outcome": "delivered"}),),
    "sidebar_pending": (("email", {"outcome": "delivered"}), ("sidebar", {"outcome": "alerted"})),
    "cancelled": (("email", {"outcome": "delivered"}), ("diary_inserted", {}), ("cancelled", {})),
    "not_emailed": (("diary_inserted", {}),),
}


def _apply(session: Session, raw_events: Sequence[dict[str, Any]]) -> None:
    ingest.apply_events(session, ingest.parse_batch(list(raw_events), 10_000))
    session.flush()


def make_agent(session: Session, *, role: str = "agent", inactive: bool = False, online: bool = False,
               name: str | None = None, email: str | None = None) -> NewAgent:
    """An agent; ``online`` also sets the presence and a live chat connection, as the console does."""
    n = next(_serial)
    created = create_agent(session, email or f"agent{n}@helpdesk.test", name or f"Agent {n}", role)
    created.agent.is_active = not inactive
    session.flush()
    if online:
        now = utcnow()
        chat_service.set_presence(session, created.agent, "online", 3, now)
        chat_service.connection_opened(session, created.agent.id, f"sid-{n}", "factory", now)
        session.flush()
    return created


def make_practice(session: Session, practice_id: str | None = None, *, name: str | None = None,
                  sidebar: bool = False, software: str = "DentaDesk", timezone_name: str = "Europe/London",
                  no_booking_email: bool = False, alerts_off: bool = False, connector_offline: bool = False) -> Practice:
    """A practice with its settings; ``connector_offline`` adds a connection loss an hour ago."""
    practice_id = practice_id or f"P-{next(_serial):04d}"
    upserted = events.practice_upserted(
        practice_id, name=name or f"Practice {practice_id}", mode="sidebar" if sidebar else "integrated",
        software=None if sidebar else software, timezone_name=timezone_name,
        booking_emails=[] if no_booking_email else None, collision_alerts=not alerts_off,
        connection_alerts=not alerts_off, occurred_at=events.iso(utcnow() - timedelta(days=30)),
    )
    raw = [upserted]
    if connector_offline and not sidebar:
        raw.append(events.connector_event("connection_lost", practice_id,
                                          occurred_at=events.iso(utcnow() - timedelta(hours=1))))
    _apply(session, raw)
    practice = session.get(Practice, practice_id)
    assert practice is not None
    return practice


def make_booking(session: Session, practice: Practice, reference: str | None = None, *, trait: str = "healthy",
                 first_name: str = "Jane", last_name: str = "Smith",
                 appointment_in: timedelta = timedelta(days=3)) -> Booking:
    """A booking made an hour ago, whose delivery went as ``trait`` says (see ``BOOKING_TRAITS``)."""
    reference = reference or f"BK-{next(_serial):05d}"
    made = utcnow() - timedelta(hours=1)

    def at(minutes: int) -> str:
        return events.iso(made + timedelta(minutes=minutes))

    raw = [events.booking_created(reference, practice.id, first_name=first_name, last_name=last_name,
                                  appointment_at=events.iso(made + appointment_in), occurred_at=at(0))]
    recipient = "front@riverside.test"  # the booking address make_practice sets
    for minute, (kind, data) in enumerate(BOOKING_TRAITS[trait], start=1):
        if kind == "email":
            raw.append(events.email_event(data["outcome"], reference, practice.id, recipient=recipient,
                                          occurred_at=at(minute)))
        elif kind == "diary_inserted":
            raw.append(events.diary_inserted(reference, practice.id, occurred_at=at(minute)))
        elif kind == "diary_failed":
            raw.append(events.diary_failed(data["reason"], reference, practice.id, detail="from a factory",
                                           occurred_at=at(minute)))
        elif kind == "alert":
            raw.append(events.alert_sent(data["kind"], practice.id, reference=reference, occurred_at=at(minute)))
        elif kind == "sidebar":
            raw.append(events.sidebar_event(data["outcome"], reference, practice.id, occurred_at=at(minute)))
        elif kind == "cancelled":
            raw.append(events.booking_event("booking.cancelled", reference, practice.id, occurred_at=at(minute)))
    _apply(session, raw)
    booking = find_booking(session, practice.id, reference)
    assert booking is not None
    return booking


def practice_user(practice: Practice | str, user_id: str | None = None, *, name: str = "Sam Front",
                  email: str = "sam@practice.test") -> PracticeUser:
    practice_id = practice if isinstance(practice, str) else practice.id
    return PracticeUser(user_id=user_id or f"u-{next(_serial)}", practice_id=practice_id, name=name, email=email)


def make_conversation(session: Session, user: PracticeUser, *, first_message: str = "Hello, a booking is missing",
                      accepted_by: NewAgent | None = None, closed: bool = False) -> Conversation:
    """A chat started by ``user``; an online agent is made when none is given, so the chat opens."""
    agent = accepted_by or make_agent(session, online=True)
    now = utcnow()
    outcome = chat_service.start_conversation(session, user, now, first_message, f"c-{next(_serial)}")
    conversation = outcome.conversation
    assert conversation is not None, "no conversation was opened"
    if accepted_by is not None or closed:
        chat_service.accept(session, agent.agent, conversation, now)
    if closed:
        chat_service.close(session, agent.agent, conversation, now)
    session.flush()
    return conversation


def make_request(session: Session, user: PracticeUser | None = None, *, subject: str = "A booking is not in our diary",
                 description: str = "The patient arrived and we had nothing.", booking_reference: str = "",
                 email: str = "someone@elsewhere.test") -> Request:
    """A request from ``user`` (or an anonymous requester when None), through the web channel."""
    requester = requests_service.Requester.for_practice_user(user) if user else requests_service.Requester(email=email)
    submission = requests_service.Submission(subject=subject, description=description, email=email,
                                             booking_reference=booking_reference)
    req = requests_service.submit_request(session, requester, submission, "web", utcnow())
    session.flush()
    return req


def make_article(session: Session, editor: NewAgent, *, title: str = "What is a booking collision?",
                 body: str = "The slot was already taken in the diary.", keys: Sequence[str] = (),
                 labels: Sequence[str] = (), published: bool = True) -> Article:
    """A published (or draft) article in a category and section of its own."""
    n = next(_serial)
    category = kb_service.create_category(session, editor.agent, f"Category {n}")
    section = kb_service.create_section(session, editor.agent, category, f"Section {n}")
    fields = kb_service.ArticleFields(title=title, body=body, keys=tuple(keys), labels=tuple(labels))
    article = kb_service.create_article(session, editor.agent, section, fields,
                                        status="published" if published else "draft")
    session.flush()
    return article
