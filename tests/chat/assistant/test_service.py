"""The verbs (``chat.assistant.service``): answering in a chat, each hand-off reason, the request a
hand-off becomes with no agent online, the outcomes, and the settings."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from chat import queries as chat_queries
from chat import service as chat_service
from chat.assistant import service
from chat.assistant.models import AssistantSettings, ChatOutcome
from chat.models import Message
from helpdesk.bookings.models import Incident, IncidentPractice
from helpdesk.core.agents import create_agent
from helpdesk.core.auth import PracticeUser
from helpdesk.core.errors import InvalidInput
from helpdesk.requests.models import Request, RequestComment
from tests.chat.assistant import world
from tests.chat.assistant.conftest import agent_online, open_chat

NOW = world.NOW


def messages(session: Session, conversation_id: int) -> list[Message]:
    return list(session.scalars(select(Message).where(Message.conversation_id == conversation_id)
                                .order_by(Message.seq)))


def test_off_by_default_it_says_nothing(small_world: Session) -> None:
    chat = open_chat(small_world)
    reply = service.answer_message(small_world, chat, "Why is RVD-CDSSKSX not in my diary?", NOW)
    assert reply.messages == [] and messages(small_world, chat.id) == []


def test_it_answers_as_the_assistant_with_the_structured_answer(assistant_on: AssistantSettings,
                                                                small_world: Session) -> None:
    agent_online(small_world)
    chat = open_chat(small_world)
    reply = service.answer_message(small_world, chat, "Why is RVD-CDSSKSX not in my diary?", NOW)
    [message] = reply.messages
    assert (message.author_type, message.kind, message.seq) == ("assistant", "text", 1)
    assert {"reference", "received_ways", "causes", "articles", "choices", "handoff"} <= set(message.data)
    assert message.data["reference"] == "RVD-CDSSKSX" and message.data["handoff"] is None
    assert "collision" in message.body
    outcome = small_world.get(ChatOutcome, chat.id)
    assert (outcome.outcome, outcome.reference, outcome.answers) == ("answered", "RVD-CDSSKSX", 1)


def test_it_stays_quiet_once_an_agent_has_the_chat(assistant_on: AssistantSettings, small_world: Session) -> None:
    chat = open_chat(small_world)
    chat.status = "active"
    assert service.answer_message(small_world, chat, "RVD-CDSSKSX", NOW).messages == []


@pytest.mark.parametrize(("text", "reason"), [
    ("can I talk to a person please", "asked_for_person"),
    ("this is useless", "unhappy"),
    ("Why is RVD-N0ALRT3 not in the diary?", "escalate_alert_not_sent"),
])
def test_hand_off_reasons_keep_the_chat_in_the_queue(assistant_on: AssistantSettings, small_world: Session,
                                                     text: str, reason: str) -> None:
    agent_online(small_world)
    chat = open_chat(small_world)
    reply = service.answer_message(small_world, chat, text, NOW)
    assert reply.handed_off and chat.status == "waiting" and chat.request_id is None
    answer, handoff = reply.messages
    assert answer.data["handoff"] == {"reason": reason}
    assert (handoff.author_type, handoff.data["event"], handoff.data["reason"]) == ("system", "handoff", reason)
    outcome = small_world.get(ChatOutcome, chat.id)
    assert (outcome.outcome, outcome.handoff_reason) == ("handed_off", reason)
    # after the hand-off the assistant leaves the chat to the person
    assert service.answer_message(small_world, chat, "RVD-CDSSKSX", NOW).messages == []


def test_it_hands_off_after_two_answers_it_was_unsure_of(assistant_on: AssistantSettings,
                                                         small_world: Session) -> None:
    agent_online(small_world)
    chat = open_chat(small_world)
    first = service.answer_message(small_world, chat, "hello", NOW)
    assert not first.handed_off and first.messages[0].data["handoff"] is None
    second = service.answer_message(small_world, chat, "the thing from earlier", NOW)
    assert second.handed_off and second.messages[0].data["handoff"] == {"reason": "cannot_answer"}


def test_an_open_incident_for_the_practice_hands_off(assistant_on: AssistantSettings, small_world: Session) -> None:
    agent_online(small_world)
    incident = Incident(kind="failed_inserts", state="open", title="Inserts failing", started_at=NOW - timedelta(hours=1))
    small_world.add(incident)
    small_world.flush()
    small_world.add(IncidentPractice(incident_id=incident.id, practice_id=world.RIVERSIDE, joined_at=NOW))
    small_world.flush()
    chat = open_chat(small_world)
    reply = service.answer_message(small_world, chat, "Why is RVD-CDSSKSX not in my diary?", NOW)
    assert reply.messages[0].data["handoff"] == {"reason": "open_incident"}
    assert "open incident" in reply.messages[0].body
    # another practice is not affected by it
    other = open_chat(small_world, world.HARBOUR)
    assert service.answer_message(small_world, other, "HSM-K1NGLCY", NOW).messages[0].data["handoff"] is None


def test_a_kind_it_is_set_not_to_answer_is_handed_off(assistant_on: AssistantSettings, small_world: Session) -> None:
    agent_online(small_world)
    assistant_on.kinds = ["diary_missing"]
    chat = open_chat(small_world)
    reply = service.answer_message(small_world, chat, "collision alerts not coming", NOW)
    assert reply.messages[0].data["handoff"] == {"reason": "kind_not_answered"}


def test_with_no_agent_online_a_hand_off_becomes_a_request_with_the_transcript(
        assistant_on: AssistantSettings, small_world: Session) -> None:
    chat = open_chat(small_world)
    pat = PracticeUser("u-1", chat.practice_id, "Pat Reception", "pat@riverside.test")
    for n, text in enumerate(["Why is RVD-CDSSKSX not in my diary?", "I want to talk to someone"]):
        chat_service.send_message(small_world, pat, chat.id, f"c-{n}", text, NOW + timedelta(minutes=n))
        reply = service.answer_message(small_world, chat, text, NOW + timedelta(minutes=n))
    assert reply.request_id is not None and chat.request_id == reply.request_id and chat.status == "closed"
    request = small_world.get(Request, reply.request_id)
    assert request.booking_reference == "RVD-CDSSKSX"
    comments = small_world.scalars(select(RequestComment).where(RequestComment.request_id == request.id)).all()
    assert [c.body for c in comments] == ["Why is RVD-CDSSKSX not in my diary?\n\nI want to talk to someone"]
    _, lines = chat_queries.request_transcript(small_world, request.id)
    assert any(m.author_type == "assistant" and "collision" in m.body for m in lines)
    assert any(m.body == "Handed to a person: the practice asked for a person." for m in lines)
    assert reply.messages[-1].data == {"event": "request", "request_id": reply.request_id}


def test_outcomes_confirmed_left_and_came_back(assistant_on: AssistantSettings, small_world: Session) -> None:
    confirmed = open_chat(small_world)
    service.answer_message(small_world, confirmed, "RVD-CDSSKSX not in diary", NOW)
    service.answer_message(small_world, confirmed, "thanks, that sorted it", NOW + timedelta(minutes=2))
    left = open_chat(small_world)
    service.answer_message(small_world, left, "RVD-P3ND1NG not in diary", NOW)
    assert service.settle(small_world, NOW + timedelta(hours=23)) == 0
    assert service.settle(small_world, NOW + timedelta(hours=25)) == 1
    again = open_chat(small_world)
    service.answer_message(small_world, again, "rvd-p3nd1ng still not there", NOW + timedelta(days=3))
    small_world.expire_all()
    assert small_world.get(ChatOutcome, confirmed.id).outcome == "resolved_confirmed"
    assert small_world.get(ChatOutcome, left.id).outcome == "resolved_left"
    assert small_world.get(ChatOutcome, left.id).came_back is True
    assert small_world.get(ChatOutcome, confirmed.id).came_back is False
    # more than 7 days later does not count as coming back
    later = open_chat(small_world)
    service.answer_message(small_world, later, "RVD-CDSSKSX", NOW + timedelta(days=8))
    small_world.expire_all()
    assert small_world.get(ChatOutcome, confirmed.id).came_back is False


def test_settings_are_validated_whole(small_world: Session) -> None:
    agent = create_agent(small_world, "eve@helpdesk.test", "Eve").agent
    with pytest.raises(InvalidInput):
        service.update_settings(small_world, agent, {"enabled": True, "kinds": ["diary_missing", "gossip"]}, NOW)
    assert small_world.get(AssistantSettings, 1) is None  # nothing stored half
    with pytest.raises(InvalidInput):
        service.update_settings(small_world, agent, {"enabled": "yes"}, NOW)
    row = service.update_settings(small_world, agent, {"enabled": True, "greeting": "Hi!", "kinds": ["how_to"]}, NOW)
    assert (row.enabled, row.greeting, row.kinds, row.updated_by) == (True, "Hi!", ["how_to"], agent.id)
