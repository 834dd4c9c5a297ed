"""The chat verbs, called directly (no socket): who may do what, and what each leaves behind."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from chat import queries, service
from chat.models import AgentConnection, Message
from helpdesk.core import db
from helpdesk.core.clock import utcnow
from helpdesk.core.db import LazyTransaction
from helpdesk.core.errors import Conflict, Forbidden, NotFound
from helpdesk.requests.models import Request, RequestComment
from tests.factories import (
    make_agent,
    make_booking,
    make_conversation,
    make_practice,
    practice_user,
)


def test_a_started_chat_waits_and_spots_the_practices_own_booking_references(db_session: Session) -> None:
    practice = make_practice(db_session)
    booking = make_booking(db_session, practice, "RVD-AB12", trait="collision")
    other = make_booking(db_session, make_practice(db_session), "RVD-ZZ99", trait="collision")
    conversation = make_conversation(db_session, practice_user(practice),
                                     first_message=f"Where is {booking.reference.lower()} and {other.reference}?")
    assert conversation.status == "waiting"
    first = db_session.scalars(select(Message).where(Message.conversation_id == conversation.id,
                                                     Message.kind == "text")).one()
    assert first.data["booking_references"] == ["RVD-AB12"]  # never the other practice's


def test_accept_then_close_by_another_agent_is_forbidden(db_session: Session) -> None:
    practice = make_practice(db_session)
    ada = make_agent(db_session, online=True)
    conversation = make_conversation(db_session, practice_user(practice), accepted_by=ada)
    assert conversation.status == "active" and conversation.agent_id == ada.agent.id
    with pytest.raises(Forbidden):
        service.close(db_session, make_agent(db_session).agent, conversation, utcnow())
    service.close(db_session, make_agent(db_session, role="admin").agent, conversation, utcnow())
    assert conversation.status == "closed" and "ended the chat" in (conversation.transcript or "")


def test_a_chat_already_taken_cannot_be_accepted_again(db_session: Session) -> None:
    practice = make_practice(db_session)
    conversation = make_conversation(db_session, practice_user(practice), accepted_by=make_agent(db_session, online=True))
    with pytest.raises(Conflict):
        service.accept(db_session, make_agent(db_session).agent, conversation, utcnow())


def test_send_message_is_idempotent_by_client_id(db_session: Session) -> None:
    user = practice_user(make_practice(db_session))
    conversation = make_conversation(db_session, user)
    first = service.send_message(db_session, user, conversation.id, "c-same", "Hello again", utcnow()).message
    db_session.flush()
    count = len(db_session.scalars(select(Message).where(Message.conversation_id == conversation.id)).all())
    with pytest.raises(IntegrityError):  # the unique client id: the edge answers with the original
        with db_session.begin_nested():
            service.send_message(db_session, user, conversation.id, "c-same", "Hello again", utcnow())
    assert len(db_session.scalars(select(Message).where(Message.conversation_id == conversation.id)).all()) == count
    assert first.seq >= 1


def _session_let_go(session: Session) -> None:
    """What the edge starts an event with: committed, and no session in the context."""
    session.commit()
    db.session.remove()


def test_a_plain_message_is_written_on_the_edges_writer_and_makes_no_session(app_context: None,
                                                                            db_session: Session) -> None:
    user = practice_user(make_practice(db_session))
    conversation_id = make_conversation(db_session, user).id
    _session_let_go(db_session)
    with LazyTransaction() as writer:
        sent = service.send_message(db.session, user, conversation_id, "c-plain", "Hello", utcnow(), writer)
        assert writer.begun and not db.session.registry.has()
        writer.commit()
    stored = db.session.scalars(select(Message).where(Message.client_id == "c-plain")).one()
    assert (stored.id, stored.seq, stored.body, stored.author_type) == (sent.message.id, sent.message.seq, "Hello",
                                                                       "practice")
    assert sent.created and sent.conversation_status == "waiting"


def test_after_a_read_through_the_session_the_message_is_written_in_the_sessions_transaction(
        app_context: None, db_session: Session) -> None:
    practice = make_practice(db_session)
    booking = make_booking(db_session, practice, "RVD-WR12", trait="collision")
    user = practice_user(practice)
    conversation_id = make_conversation(db_session, user).id
    _session_let_go(db_session)
    with LazyTransaction() as writer:
        sent = service.send_message(db.session, user, conversation_id, "c-ref", f"Is {booking.reference} in?",
                                    utcnow(), writer)
        assert not writer.begun and db.session().in_transaction()  # the booking lookup began the session's
    assert sent.message.data["booking_references"] == ["RVD-WR12"]
    db.session.rollback()
    assert db.session.scalar(select(Message.id).where(Message.client_id == "c-ref")) is None  # it was the session's


def test_a_refused_message_lets_the_writer_go_before_the_session_reads_why(app_context: None,
                                                                           db_session: Session) -> None:
    user = practice_user(make_practice(db_session))
    conversation = make_conversation(db_session, user, closed=True)
    conversation_id = conversation.id
    _session_let_go(db_session)
    with LazyTransaction() as writer:
        with pytest.raises(Conflict):
            service.send_message(db.session, user, conversation_id, "c-late", "Anyone?", utcnow(), writer)
        assert not writer.begun


def test_a_practice_user_cannot_write_into_another_practices_chat(db_session: Session) -> None:
    conversation = make_conversation(db_session, practice_user(make_practice(db_session)))
    stranger = practice_user(make_practice(db_session))
    with pytest.raises(NotFound):
        service.send_message(db_session, stranger, conversation.id, "c-x", "let me in", utcnow())


def test_a_chat_turned_into_a_request_keeps_the_practices_words_and_attaches_the_whole_chat(
        db_session: Session, app_context: None) -> None:
    practice = make_practice(db_session)
    booking = make_booking(db_session, practice, "RVD-TR4NS1", trait="collision")
    pat = practice_user(practice, name="Pat Reception", email="pat@practice.test")
    ada = make_agent(db_session, online=True, name="Ada Agent")
    conversation = make_conversation(db_session, pat, first_message="Booking rvd-tr4ns1 is not in our diary",
                                     accepted_by=ada)
    now = utcnow()
    service.send_message(db_session, ada.agent, conversation.id, "a-1", "I will raise this with engineering.", now)
    service.send_message(db_session, pat, conversation.id, "p-2", "Thank you", now)

    outcome = service.to_request(db_session, ada.agent, conversation, now)

    req = db_session.get(Request, conversation.request_id)
    assert req is not None and req.assignee_id == ada.agent.id and req.booking_reference == booking.reference
    comments = db_session.scalars(select(RequestComment).where(RequestComment.request_id == req.id)).all()
    assert [(c.author_kind, c.body) for c in comments] == [
        ("requester", "Booking rvd-tr4ns1 is not in our diary\n\nThank you")]  # no agent line in the practice's name
    found = queries.request_transcript(db_session, req.id)
    assert found is not None and found[0].id == conversation.id
    assert [(m.author_type, m.author_name, m.body) for m in found[1]] == [
        ("system", "Practice Helpdesk", "Pat Reception started the chat."),
        ("practice", "Pat Reception", "Booking rvd-tr4ns1 is not in our diary"),
        ("system", "Practice Helpdesk", "Ada Agent joined the chat."),
        ("agent", "Ada Agent", "I will raise this with engineering."),
        ("practice", "Pat Reception", "Thank you"),
        ("system", "Practice Helpdesk", f"Ada Agent turned this chat into request #{req.id}."),
    ]
    assert outcome.messages[0].data == {"event": "request", "request_id": req.id}
    assert not service.to_request(db_session, ada.agent, conversation, now).created  # once


def test_the_booking_references_an_agent_names_are_the_chats_practices_own(db_session: Session) -> None:
    practice = make_practice(db_session)
    booking = make_booking(db_session, practice, "RVD-AG3NT1")
    elsewhere = make_booking(db_session, make_practice(db_session), "RVD-0THER1")
    ada = make_agent(db_session, online=True)
    conversation = make_conversation(db_session, practice_user(practice), accepted_by=ada)
    said = service.send_message(db_session, ada.agent, conversation.id, "a-1",
                                f"Is it {booking.reference.lower()} or {elsewhere.reference}? A well-known issue.",
                                utcnow()).message
    assert said.data["booking_references"] == [booking.reference]
    plain = service.send_message(db_session, ada.agent, conversation.id, "a-2", "No reference here", utcnow()).message
    assert "booking_references" not in plain.data


def test_a_closed_agent_connection_counts_online_only_through_the_reconnect_grace(db_session: Session) -> None:
    ada = make_agent(db_session, online=True)  # connection "sid-N" on node "factory"
    sid = db_session.scalars(select(AgentConnection.sid).where(AgentConnection.agent_id == ada.agent.id)).one()
    now = utcnow()

    def online(at: datetime) -> bool:
        return ada.agent.id in {agent.id for agent, _ in queries.online_agents(db_session, at)}

    service.connection_closed(db_session, sid, now)  # a console reload drops the socket
    assert online(now) and online(now + queries.RECONNECT_GRACE)
    later = now + timedelta(seconds=5)
    service.connections_seen(db_session, "factory", later, queries.CONNECTION_STALE_AFTER, queries.RECONNECT_GRACE)
    assert not online(now + queries.RECONNECT_GRACE + timedelta(seconds=1))  # the refresher did not revive it
    service.connections_seen(db_session, "factory", now + queries.RECONNECT_GRACE + timedelta(seconds=1),
                             queries.CONNECTION_STALE_AFTER, queries.RECONNECT_GRACE)
    assert db_session.get(AgentConnection, sid) is None  # forgotten once past its grace


def test_the_transcript_gives_times_in_the_practices_zone(db_session: Session) -> None:
    practice = make_practice(db_session, timezone_name="America/New_York")
    user = practice_user(practice)
    conversation = make_conversation(db_session, user, first_message="Hello from New York")
    moment = datetime(2027, 1, 21, 13, 30, tzinfo=timezone.utc)  # 08:30 in New York (EST)
    conversation.created_at = moment
    db_session.execute(update(Message).where(Message.conversation_id == conversation.id).values(created_at=moment))
    service.close(db_session, user, conversation, moment + timedelta(minutes=5))
    assert conversation.transcript is not None
    assert "started Thu 21 Jan 2027, 08:30 EST" in conversation.transcript
    assert conversation.transcript.splitlines()[2].startswith("[08:30 EST] ")
    assert "UTC" not in conversation.transcript
