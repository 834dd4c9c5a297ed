"""Several server processes: with a Redis message queue, two real ``wsgi.py`` processes on one
database share conversations, and queue updates reach agents on both."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from helpdesk.core.agents import NewAgent
from tests.chat.conftest import ChatServer, Peer, widget_token

Connect = Callable[..., Peer]


@pytest.fixture
def two_servers(chat_database_url: str, chat_instance: Path, redis_url: str) -> Iterator[tuple[ChatServer, ChatServer]]:
    # A channel of their own: another test run on this Redis must not hear these servers.
    channel = f"helpdesk-test-{uuid.uuid4().hex}"
    first = ChatServer(chat_database_url, chat_instance, message_queue=redis_url, HELPDESK_SOCKETIO_CHANNEL=channel).start()
    second = ChatServer(chat_database_url, chat_instance, message_queue=redis_url, HELPDESK_SOCKETIO_CHANNEL=channel).start()
    try:
        yield first, second
    finally:
        first.stop()
        second.stop()


def test_a_practice_on_one_process_and_an_agent_on_another_chat_both_ways(
    two_servers: tuple[ChatServer, ChatServer], make_agent: Callable[..., NewAgent], peers: Connect, practice_id: str,
) -> None:
    one, two = two_servers
    agent_on_two = peers(two.url, make_agent("Ada Agent").token)
    agent_on_two.ok("presence", {"presence": "online"})
    agent_on_one = peers(one.url, make_agent("Bob Agent").token)
    agent_on_one.ok("presence", {"presence": "online"})

    practice = peers(one.url, widget_token(practice_id))
    conversation_id = practice.ok("start_conversation", {"body": "Hello from process one", "client_id": "s"})["conversation"]["id"]
    for agent in (agent_on_one, agent_on_two):  # queue updates reach agents on both processes
        agent.wait_for("queue", lambda q: any(c["id"] == conversation_id for c in q["waiting"]))

    agent_on_two.ok("accept", {"conversation_id": conversation_id})
    assert practice.wait_for("conversation", lambda c: c["status"] == "active")["agent"]["name"] == "Ada Agent"
    agent_on_one.wait_for("queue", lambda q: all(c["id"] != conversation_id for c in q["waiting"]))

    agent_on_two.ok("send_message", {"conversation_id": conversation_id, "client_id": "a1", "body": "Hello from process two"})
    assert practice.wait_for("message", lambda m: m["client_id"] == "a1")["body"] == "Hello from process two"
    practice.ok("typing", {"conversation_id": conversation_id})
    agent_on_two.wait_for("typing")
    practice.ok("send_message", {"conversation_id": conversation_id, "client_id": "p1", "body": "Got it"})
    assert agent_on_two.wait_for("message", lambda m: m["client_id"] == "p1")["body"] == "Got it"
    seqs = practice.seqs(conversation_id)
    assert seqs == list(range(1, len(seqs) + 1))

    # the practice moves to the other process (a restart behind the proxy) and misses nothing
    last = seqs[-1]
    practice.close()
    agent_on_two.ok("send_message", {"conversation_id": conversation_id, "client_id": "a2", "body": "while you moved"})
    moved = peers(two.url, widget_token(practice_id), last_seq={conversation_id: last})
    assert moved.wait_for("message", lambda m: m["client_id"] == "a2")["seq"] == last + 1
    assert agent_on_one.received("message") == []  # not in the chat, not watching it
