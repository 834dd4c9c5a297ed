"""Booking diagnostics beside the chat: the snapshot an agent gets when opening a chat, the
diagnosis opened by a booking reference in the practice's message, live `diagnostics` pushes
when the ingest API receives events, and sharing a suggested article in one click."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from helpdesk.core.agents import NewAgent
from helpdesk.core.audit import AuditEntry
from kb.models import Article, ArticleTag, Category, Section
from tests.chat.conftest import ChatServer, Peer
from tests.chat.test_events import chat_between
from tests.conftest import TEST_SECRETS
from tests.helpdesk import factories as f

Connect = Callable[..., Peer]


def ingest(server: ChatServer, *events: dict[str, Any]) -> None:
    response = f.signed_post(server.url, list(events), TEST_SECRETS["INGEST_SECRET"])
    assert response.status_code == 200, response.text


def publish_article(engine: Engine, title: str, key: str) -> int:
    with Session(engine) as session:
        slug = f"chat-test-{uuid.uuid4().hex[:8]}"
        category = Category(name="Bookings", slug=slug)
        session.add(category)
        session.flush()
        section = Section(category_id=category.id, name="Diary", slug=slug)
        session.add(section)
        session.flush()
        article = Article(section_id=section.id, title=title, slug=slug, status="published", keys=[key],
                          body="When the slot is already taken in the diary, the platform cannot insert the booking.")
        session.add(article)
        session.flush()
        session.add(ArticleTag(article_id=article.id, kind="key", value=key))
        session.commit()
        return article.id


def test_the_agent_sees_diagnostics_opens_a_spotted_booking_and_shares_an_article(
    chat_server: ChatServer, online_agent: tuple[NewAgent, Peer], peers: Connect, practice_id: str, chat_engine: Engine,
) -> None:
    reference = f"RVD-{uuid.uuid4().hex[:6].upper()}"
    ingest(chat_server,
           f.practice_upserted(practice_id, name="Riverside Dental"),
           f.booking_created(reference, practice_id, first_name="Jane", last_name="Smith", occurred_at=f.at(0)),
           f.email_event("delivered", reference, practice_id, recipient="front@riverside.test", occurred_at=f.at(1)),
           f.diary_failed("collision", reference, practice_id, detail="slot taken", occurred_at=f.at(2)),
           f.alert_sent("collision", practice_id, reference=reference, recipient="manager@riverside.test", occurred_at=f.at(3)))
    publish_article(chat_engine, "What a booking collision is", "diary_collision")
    practice, agent, conversation_id = chat_between(chat_server, online_agent, peers, practice_id)

    opened = agent.ok("watch", {"conversation_id": conversation_id})
    diagnostics = opened["diagnostics"]
    assert diagnostics["known"] and diagnostics["health"]["practice"]["name"] == "Riverside Dental"
    assert [b["reference"] for b in diagnostics["failed_bookings"]] == [reference]
    assert diagnostics["failed_bookings"][0]["patient"] == {"name": "J. Sm…", "masked": True}
    assert any(e["kind"] == "diary_failed" for e in diagnostics["timeline"])

    # the practice names the booking (in lower case, mid-sentence): the message carries it
    said = practice.ok("send_message", {"conversation_id": conversation_id, "client_id": "ref",
                                         "body": f"Patient has booking {reference.lower()} but it's not in the diary"})
    assert said["message"]["data"]["booking_references"] == [reference]
    assert agent.wait_for("message", lambda m: m["client_id"] == "ref")["data"]["booking_references"] == [reference]
    verdict = agent.ok("diagnose", {"conversation_id": conversation_id, "reference": reference})["diagnosis"]
    assert verdict["received_ways"] == 2 and "diary_collision" in verdict["causes"]
    # the knowledge base's article for the cause (the server's database is shared by the module's tests)
    suggested = next(a for a in verdict["suggested_articles"] if a["key"] == "diary_collision")
    article_id = suggested["id"]
    assert agent.call("diagnose", {"conversation_id": conversation_id, "reference": "NOPE-1"})["error"]["code"] == "not_found"
    with Session(chat_engine) as session:
        audited = {action: ip for action, ip in session.execute(
            select(AuditEntry.action, AuditEntry.ip).where(AuditEntry.practice_id == practice_id))}
    # from the address the agent's socket connected from (the handshake's: events carry none)
    assert {action: audited.get(action) for action in ("chat_view_diagnostics", "view_diagnosis")} == {
        "chat_view_diagnostics": "127.0.0.1", "view_diagnosis": "127.0.0.1"}

    shared = agent.ok("share_article", {"conversation_id": conversation_id, "client_id": "art", "article_id": article_id})
    card = practice.wait_for("message", lambda m: m["client_id"] == "art")
    assert card["kind"] == "article" and card == shared["message"]
    assert card["data"]["article"]["title"] == suggested["title"]
    assert card["data"]["article"]["url"].startswith(f"/hc/articles/{article_id}-")
    assert agent.call("share_article", {"conversation_id": conversation_id, "client_id": "art", "article_id": article_id})["duplicate"]

    # a reference of another practice is not spotted
    other = practice.ok("send_message", {"conversation_id": conversation_id, "client_id": "no-ref", "body": "What about BK-424242?"})
    assert "booking_references" not in other["message"]["data"]


def watched_chat(server: ChatServer, online_agent: tuple[NewAgent, Peer], peers: Connect, practice_id: str,
                 name: str) -> tuple[Peer, Peer, int]:
    """A known practice's chat, whose diagnostics the agent watches: (practice, agent, conversation id)."""
    ingest(server, f.practice_upserted(practice_id, name=name))
    practice, agent, conversation_id = chat_between(server, online_agent, peers, practice_id)
    agent.ok("watch", {"conversation_id": conversation_id})
    return practice, agent, conversation_id


def test_ingested_events_push_diagnostics_to_agents_in_chats_with_that_practice_only(
    chat_server: ChatServer, online_agent: tuple[NewAgent, Peer], peers: Connect, practice_id: str,
) -> None:
    practice, agent, conversation_id = watched_chat(chat_server, online_agent, peers, practice_id, "Harbour Physio")
    reference = f"HBP-{uuid.uuid4().hex[:6].upper()}"
    ingest(chat_server, f.booking_created(reference, practice_id, occurred_at=f.at(10)),
           f.connector_event("connection_lost", practice_id, occurred_at=f.at(11)),
           f.diary_failed("connection_lost", reference, practice_id, occurred_at=f.at(12)))
    pushed = agent.wait_for("diagnostics", lambda d: any(b["reference"] == reference for b in d["failed_bookings"]))
    assert pushed["practice_id"] == practice_id
    assert pushed["health"]["connector"]["status"] == "offline"
    # events for a practice with no open chat push nothing; the practice user never gets diagnostics
    ingest(chat_server, f.practice_upserted("P-no-chat", name="Quiet Clinic"))
    agent.ok("send_message", {"conversation_id": conversation_id, "client_id": "sync-point", "body": "ok"})
    practice.wait_for("message", lambda m: m["client_id"] == "sync-point")
    assert all(d["practice_id"] == practice_id for d in agent.received("diagnostics"))
    assert practice.received("diagnostics") == []


def test_a_bulk_batch_is_queued_then_projected_by_the_servers_loop_and_pushed_to_the_agent(
    chat_server: ChatServer, online_agent: tuple[NewAgent, Peer], peers: Connect, practice_id: str,
) -> None:
    _practice, agent, conversation_id = watched_chat(chat_server, online_agent, peers, practice_id, "Bayside Dental")
    references = [f"BAY-{uuid.uuid4().hex[:6].upper()}" for _ in range(150)]  # over INGEST_INLINE_MAX_EVENTS
    response = f.signed_post(chat_server.url, [
        *(f.booking_created(reference, practice_id, occurred_at=f.at(10)) for reference in references),
        f.diary_failed("connection_lost", references[-1], practice_id, occurred_at=f.at(11)),
    ], TEST_SECRETS["INGEST_SECRET"])
    assert response.json() == {"accepted": 151, "duplicates": 0, "queued": 151}
    # the ten latest bookings that missed a channel: all of them are (no email, no diary yet)
    pushed = agent.wait_for("diagnostics", lambda d: len({b["reference"] for b in d["failed_bookings"]} & set(references)) == 10)
    assert pushed["practice_id"] == practice_id
