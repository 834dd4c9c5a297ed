"""The chat verbs, called directly (no socket): who may do what, and what each leaves behind."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from chat import service
from chat.models import Message
from helpdesk.core.clock import utcnow
from helpdesk.core.errors import Conflict, Forbidden, NotFound
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


def test_a_practice_user_cannot_write_into_another_practices_chat(db_session: Session) -> None:
    conversation = make_conversation(db_session, practice_user(make_practice(db_session)))
    stranger = practice_user(make_practice(db_session))
    with pytest.raises(NotFound):
        service.send_message(db_session, stranger, conversation.id, "c-x", "let me in", utcnow())
