"""The answer desk in live chat, against a real server process (``wsgi.py``, eventlet) and real
Socket.IO clients: the assistant answers a practice's first message as an ordinary ``message``
event from ``author.type = "assistant"``; ``handoff`` puts the chat in the agents' queue with its
reason; the accepting agent gets the assistant's part; with no agent online a hand-off becomes
a request."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from helpdesk.core.agents import NewAgent
from tests.chat.assistant.conftest import collision_booking
from tests.chat.conftest import ChatServer, Peer, widget_token


def assistant_message(peer: Peer, conversation_id: int) -> dict:
    return peer.wait_for("message", lambda m: m["conversation_id"] == conversation_id
                         and m["author"]["type"] == "assistant")


def test_the_assistant_answers_then_hands_off_and_the_agent_sees_its_part(
        chat_server: ChatServer, assistant: Callable[..., None], online_agent: tuple[NewAgent, Peer],
        peers: Callable[..., Peer], practice_id: str) -> None:
    assistant()
    reference = collision_booking(chat_server, practice_id)
    _agent, agent_peer = online_agent
    practice = peers(chat_server.url, widget_token(practice_id))
    started = practice.ok("start_conversation", {"body": f"Why is {reference.lower()} not in my diary?",
                                                 "client_id": "c1"})
    conversation_id = started["conversation"]["id"]
    answer = assistant_message(practice, conversation_id)
    asked = next(m for m in practice.messages(conversation_id) if m["author"]["type"] == "practice")
    took = datetime.fromisoformat(answer["created_at"]) - datetime.fromisoformat(asked["created_at"])
    assert took.total_seconds() < 1.0
    assert answer["kind"] == "text" and answer["author"]["name"] == "Helpdesk assistant"
    data = answer["data"]
    assert (data["reference"], data["received_ways"], data["causes"], data["handoff"]) == \
        (reference, 2, ["diary_collision"], None)
    assert {"articles", "choices"} <= set(data)
    assert "G. Co…" in answer["body"] and "Grace" not in answer["body"]

    # a second message is answered too while no agent has taken the chat
    # (a follow-up without a reference is about the chat's booking)
    practice.ok("send_message", {"conversation_id": conversation_id, "client_id": "c2", "body": "and who got the alert?"})
    follow_up = practice.wait_for("message", lambda m: m["author"]["type"] == "assistant" and m["seq"] > answer["seq"])
    assert follow_up["data"]["reference"] == reference and follow_up["data"]["kind"] == "alert_emails"
    assert "manager@riverside.test" in follow_up["body"]

    # the practice asks for a person: the chat waits in the queue, with the reason
    handed = practice.ok("handoff", {"conversation_id": conversation_id})
    assert handed["request_id"] is None and handed["conversation"]["status"] == "waiting"
    [note] = handed["messages"]
    assert (note["data"]["event"], note["data"]["reason"]) == ("handoff", "asked_for_person")
    agent_peer.wait_for("queue", lambda q: any(c["id"] == conversation_id for c in q["waiting"]))
    assert practice.call("handoff", {"conversation_id": conversation_id})["messages"] == []  # once

    accepted = agent_peer.ok("accept", {"conversation_id": conversation_id})
    history = accepted["messages"]
    kinds = [(m["author"]["type"], m["data"].get("event")) for m in history]
    assert ("assistant", None) in kinds and ("system", "handoff") in kinds
    assert any(m["author"]["type"] == "assistant" and m["data"]["reference"] == reference for m in history)

    # with an agent in the chat the assistant stays quiet
    practice.ok("send_message", {"conversation_id": conversation_id, "client_id": "c3", "body": reference})
    agent_peer.wait_for("message", lambda m: m["client_id"] == "c3")
    last = max(m["seq"] for m in practice.messages(conversation_id))
    assert next(m for m in practice.messages(conversation_id) if m["seq"] == last)["author"]["type"] == "practice"


def test_with_no_agent_online_the_hand_off_becomes_a_request(
        chat_server: ChatServer, assistant: Callable[..., None], peers: Callable[..., Peer], practice_id: str) -> None:
    assistant(offline_chats=True)
    reference = collision_booking(chat_server, practice_id)
    practice = peers(chat_server.url, widget_token(practice_id))
    started = practice.ok("start_conversation", {"body": f"{reference} missing", "client_id": "c1"})
    conversation_id = started["conversation"]["id"]
    assert assistant_message(practice, conversation_id)["data"]["reference"] == reference
    handed = practice.ok("handoff", {"conversation_id": conversation_id})
    assert handed["request_id"] is not None
    assert handed["conversation"]["status"] == "closed"
    assert handed["messages"][-1]["data"] == {"event": "request", "request_id": handed["request_id"]}


def test_the_assistant_off_changes_nothing(chat_server: ChatServer, online_agent: tuple[NewAgent, Peer],
                                           peers: Callable[..., Peer], practice_id: str) -> None:
    practice = peers(chat_server.url, widget_token(practice_id))
    started = practice.ok("start_conversation", {"body": "RVD-ANYTHING missing", "client_id": "c1"})
    assert [m["author"]["type"] for m in started["messages"]] == ["system", "practice"]
    got = practice.call("handoff", {"conversation_id": started["conversation"]["id"]})
    assert "error" not in got  # asking for a person is always allowed; the chat is already queued
