"""gevent, the second async mode: the chat contract over ``wsgi.py`` with HELPDESK_ASYNC_MODE=gevent.

eventlet is in bug-fix-only maintenance; switching must stay one setting. This runs the core of
the contract (connect, queue, accept, messages both ways with seqs, idempotent resend, replay
after ``last_seq``) against a gevent server process, as ``test_events`` does against eventlet.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from chat.models import Message
from helpdesk.core.agents import NewAgent
from tests.chat.conftest import ChatServer, Peer, widget_token


def test_the_chat_contract_holds_under_gevent(
    gevent_server: ChatServer, make_agent: Callable[..., NewAgent], peers: Callable[..., Peer], practice_id: str,
    chat_engine: Engine,
) -> None:
    assert "(gevent)" in gevent_server.log_path.read_text()
    agent_row = make_agent()
    agent = peers(gevent_server.url, agent_row.token)
    agent.ok("presence", {"presence": "online"})
    practice = peers(gevent_server.url, widget_token(practice_id))
    assert practice.ok("availability")["agents_online"] is True
    conversation_id = practice.ok("start_conversation", {"body": "Booking missing", "client_id": "first"})["conversation"]["id"]
    agent.ok("accept", {"conversation_id": conversation_id})
    practice.wait_for("conversation", lambda c: c["status"] == "active")

    sent = [agent.ok("send_message", {"conversation_id": conversation_id, "client_id": f"a{i}", "body": f"m{i}"})
            for i in range(5)]
    seqs = [s["message"]["seq"] for s in sent]
    assert seqs == list(range(seqs[0], seqs[0] + 5))
    practice.wait_for("message", lambda m: m["seq"] == seqs[-1])
    assert [s for s in practice.seqs(conversation_id) if s in seqs] == seqs
    reply = practice.ok("send_message", {"conversation_id": conversation_id, "client_id": "p1", "body": "thanks"})
    assert agent.wait_for("message", lambda m: m["client_id"] == "p1")["seq"] == reply["message"]["seq"]
    again = practice.ok("send_message", {"conversation_id": conversation_id, "client_id": "p1", "body": "thanks"})
    assert again["duplicate"] is True and again["message"] == reply["message"]

    practice.close()
    back = peers(gevent_server.url, widget_token(practice_id), last_seq={conversation_id: seqs[1]})
    back.wait_for("message", lambda m: m["seq"] == reply["message"]["seq"])
    assert back.seqs(conversation_id) == seqs[2:] + [reply["message"]["seq"]]
    with Session(chat_engine) as session:
        stored = session.scalars(select(Message.client_id).where(
            Message.conversation_id == conversation_id, Message.client_id.is_not(None))).all()
    assert sorted(stored) == sorted(["first", "a0", "a1", "a2", "a3", "a4", "p1"])  # each once
