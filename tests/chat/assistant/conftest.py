"""Fixtures for the answer desk: the deterministic world in the test's rolled-back transaction,
with the clock frozen at the world's NOW."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import delete
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from chat.assistant.models import AssistantSettings, ChatOutcome
from chat.models import AgentConnection, AgentStatus, Conversation
from helpdesk.core.agents import Agent, create_agent
from helpdesk.core.clock import frozen_at
from tests.chat.assistant import world
from tests.chat.conftest import ChatServer
from tests.chat.test_diagnostics import ingest
from tests.helpdesk import factories as f


@pytest.fixture
def small_world(app: Any, app_context: None, db_session: Session) -> Iterator[Session]:
    """The world with a few ordinary bookings per practice (the stories are all there)."""
    with frozen_at(world.NOW):
        world.build(db_session, filler=25)
        db_session.commit()  # a savepoint released: requests in the test see it, the test's end rolls it back
        yield db_session


@pytest.fixture
def assistant_on(small_world: Session) -> AssistantSettings:
    row = AssistantSettings(id=1, enabled=True, offline_chats=True, greeting="Hello from the assistant.",
                            kinds=["diary_missing", "no_booking_email", "alert_emails", "connector", "cancellation",
                                   "how_to"], updated_at=world.NOW)
    small_world.add(row)
    small_world.flush()
    return row


def open_chat(session: Session, practice_id: str = world.RIVERSIDE, email: str = "pat@riverside.test") -> Conversation:
    conversation = Conversation(practice_id=practice_id, requester_id="u-1", requester_name="Pat Reception",
                                requester_email=email, status="waiting", created_at=world.NOW, last_seq=0)
    session.add(conversation)
    session.flush()
    return conversation


def agent_online(session: Session) -> Agent:
    agent = create_agent(session, "ada@helpdesk.test", "Ada Agent").agent
    session.add(AgentStatus(agent_id=agent.id, presence="online", capacity=3, updated_at=world.NOW))
    session.add(AgentConnection(sid="sid-ada", node="n1", agent_id=agent.id, connected_at=world.NOW,
                                seen_at=world.NOW))
    session.flush()
    return agent


# --- against a real chat server (tests/chat/conftest.py) ---------------------------------------

@pytest.fixture
def assistant(chat_engine: Engine) -> Iterator[Callable[..., None]]:
    def turn_on(offline_chats: bool = False) -> None:
        with Session(chat_engine) as session:
            session.merge(AssistantSettings(id=1, enabled=True, offline_chats=offline_chats, greeting="Hello!",
                                            kinds=["diary_missing", "no_booking_email", "alert_emails", "connector",
                                                   "cancellation", "how_to"]))
            session.commit()

    yield turn_on
    with Session(chat_engine) as session:  # the chat database outlives the test: leave the assistant off
        session.execute(delete(ChatOutcome))
        session.execute(delete(AssistantSettings))
        session.commit()


def collision_booking(server: ChatServer, practice_id: str) -> str:
    reference = f"RVD-{uuid.uuid4().hex[:7].upper()}"
    ingest(server,
           f.practice_upserted(practice_id, name="Riverside Dental"),
           f.booking_created(reference, practice_id, first_name="Grace", last_name="Cooper", occurred_at=f.at(0)),
           f.email_event("delivered", reference, practice_id, recipient="front@riverside.test", occurred_at=f.at(1)),
           f.diary_failed("collision", reference, practice_id, occurred_at=f.at(2)),
           f.alert_sent("collision", practice_id, reference=reference, occurred_at=f.at(3)))
    return reference


