"""Sockets: hostile packets get an error acknowledgement (never silence), reserved event names are
refused and change nothing, and an identity that ends (token revoked, agent deactivated, widget
token expired) stops working on sockets already open. Real server process, real clients."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from chat.models import AgentConnection
from helpdesk.core.agents import Agent, ApiToken, NewAgent
from helpdesk.core.clock import utcnow
from tests.chat.conftest import NAMESPACE, ChatServer, Peer, widget_token


def raw_call(peer: Peer, payload: str, timeout: float = 10) -> Any:
    """Send ``payload`` (the JSON text of an EVENT packet) as is, and wait for its acknowledgement."""
    answered = threading.Event()
    answer: list[Any] = []

    def callback(*args: Any) -> None:
        answer.extend(args)
        answered.set()

    ack_id = peer.sio._generate_ack_id(NAMESPACE, callback)
    peer.sio.eio.send(f"2{NAMESPACE},{ack_id}{payload}")
    assert answered.wait(timeout), f"no acknowledgement for {payload[:80]!r}"
    return answer[0] if answer else None


def test_deeply_nested_payloads_get_an_error_ack(chat_server: ChatServer, practice_id: str,
                                                 online_agent: tuple[NewAgent, Peer],
                                                 peers: Callable[..., Peer]) -> None:
    peer = peers(chat_server.url, widget_token(practice_id))
    for payload in ('["typing",' + "[" * 50_000 + "]" * 50_000 + "]",
                    '["typing",' + '{"a":' * 3_000 + "1" + "}" * 3_000 + "]",
                    '["typing", {"conversation_id": 1, "text": "a\\udc00b"}]',
                    '["typing", {"text": "\\ud800"}]',
                    '["typing", {"conversation_id": 123456789012345678901234567890}]'):
        answer = raw_call(peer, payload)
        assert answer["error"]["code"] in {"too_deep", "invalid_text", "invalid_json"}, answer
    assert peer.sio.connected  # refused, not dropped: the connection carries on
    assert "error" not in peer.call("start_conversation", {"body": "Hello after all that", "client_id": "h1"})


def test_events_without_a_string_name_get_an_error_ack(chat_server: ChatServer, practice_id: str,
                                                       peers: Callable[..., Peer]) -> None:
    peer = peers(chat_server.url, widget_token(practice_id))
    for payload in ("[]", "[1, 2]", '[["typing"], {}]', '[{"a": 1}]', '"typing"'):
        answer = raw_call(peer, payload) if payload.startswith("[") and payload != '"typing"' else None
        if answer is not None:
            assert answer["error"]["code"] == "invalid_event", (payload, answer)
    assert peer.sio.connected


def test_reserved_event_names_are_refused_and_change_nothing(chat_server: ChatServer, chat_engine: Engine,
                                                             make_agent: Callable[..., NewAgent],
                                                             practice_id: str, peers: Callable[..., Peer]) -> None:
    agent = make_agent()
    other = make_agent("Eve Other")
    peer = peers(chat_server.url, agent.token)
    with Session(chat_engine) as session:
        before = session.scalar(select(AgentConnection).where(AgentConnection.agent_id == agent.agent.id))
        assert before is not None
    for name in ("connect", "disconnect", "connect_error", "invalid_payload"):
        answer = raw_call(peer, f'["{name}", {{"token": "{other.token}"}}]')
        assert answer["error"]["code"] == "reserved_event", answer
    assert peer.sio.connected
    with Session(chat_engine) as session:  # still the same agent on the same connection, no second identity
        rows = session.scalars(select(AgentConnection.agent_id).where(AgentConnection.sid == before.sid)).all()
        assert rows == [agent.agent.id]
        assert session.scalar(select(AgentConnection).where(AgentConnection.agent_id == other.agent.id)) is None
    assert "error" not in peer.call("queue")


def _disconnected(peer: Peer, timeout: float = 5) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not peer.sio.connected:
            return True
        time.sleep(0.05)
    return False


def test_a_revoked_token_stops_working_on_an_open_socket(chat_server: ChatServer, chat_engine: Engine,
                                                         make_agent: Callable[..., NewAgent],
                                                         peers: Callable[..., Peer]) -> None:
    agent = make_agent()
    peer = peers(chat_server.url, agent.token)
    assert "error" not in peer.call("queue")
    with Session(chat_engine) as session:
        session.execute(update(ApiToken).where(ApiToken.agent_id == agent.agent.id).values(revoked_at=utcnow()))
        session.commit()
    answer = peer.call("queue")
    assert answer["error"]["code"] == "invalid_token", answer
    assert _disconnected(peer)


def test_a_deactivated_agent_stops_working_on_an_open_socket(chat_server: ChatServer, chat_engine: Engine,
                                                             make_agent: Callable[..., NewAgent],
                                                             peers: Callable[..., Peer]) -> None:
    agent = make_agent()
    peer = peers(chat_server.url, agent.token)
    assert "error" not in peer.call("queue")
    with Session(chat_engine) as session:
        session.execute(update(Agent).where(Agent.id == agent.agent.id).values(is_active=False))
        session.commit()
    answer = peer.call("presence", {"presence": "online"})
    assert answer["error"]["code"] == "invalid_token", answer
    assert _disconnected(peer)


def test_an_expired_widget_token_stops_working_on_an_open_socket(chat_server: ChatServer, practice_id: str,
                                                                 online_agent: tuple[NewAgent, Peer],
                                                                 peers: Callable[..., Peer]) -> None:
    peer = peers(chat_server.url, widget_token(practice_id, ttl=timedelta(seconds=3)))
    started = peer.call("start_conversation", {"body": "Hello", "client_id": "h2"})
    assert "error" not in started, started
    time.sleep(3.5)
    answer = peer.call("typing", {"conversation_id": started["conversation"]["id"]})
    assert answer["error"]["code"] == "token_expired", answer
    assert _disconnected(peer)
