"""The /chat Socket.IO contract, against a real server process (eventlet, as in production)
with real python-socketio clients: the conversation's life, delivery guarantees, tenant
isolation and bad input."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
import requests
import socketio
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from chat.models import AgentConnection, Conversation, Message
from helpdesk.core.agents import NewAgent
from helpdesk.core.canned import CannedReply
from tests.chat.conftest import ChatServer, Peer, widget_token

Connect = Callable[..., Peer]


def start(peer: Peer, body: str = "Hello, a patient's booking is not in our diary", client_id: str = "first") -> dict[str, Any]:
    return peer.ok("start_conversation", {"body": body, "client_id": client_id})


def chat_between(chat_server: ChatServer, online_agent: tuple[NewAgent, Peer], peers: Connect,
                 practice_id: str) -> tuple[Peer, Peer, int]:
    """A practice user and an agent in one active conversation."""
    _, agent = online_agent
    practice = peers(chat_server.url, widget_token(practice_id))
    conversation_id = start(practice)["conversation"]["id"]
    agent.ok("accept", {"conversation_id": conversation_id})
    practice.wait_for("conversation", lambda c: c["status"] == "active")
    return practice, agent, conversation_id


# --- connecting -----------------------------------------------------------------------------


@pytest.mark.parametrize("auth", [None, {}, {"token": ""}, {"token": "hdt_not-a-real-token"}, {"token": "garbage"},
                                  {"token": "x" * 10_000}])
def test_connecting_needs_a_valid_token(chat_server: ChatServer, auth: Any) -> None:
    client = socketio.Client(reconnection=False)
    with pytest.raises(socketio.exceptions.ConnectionError):
        client.connect(chat_server.url, namespaces=["/chat"], auth=auth, transports=["websocket"], wait_timeout=5)


def test_an_expired_widget_token_is_refused(chat_server: ChatServer, practice_id: str) -> None:
    from datetime import timedelta

    client = socketio.Client(reconnection=False)
    refusals: list[Any] = []
    client.on("connect_error", refusals.append, namespace="/chat")
    with pytest.raises(socketio.exceptions.ConnectionError):
        client.connect(chat_server.url, namespaces=["/chat"], auth={"token": widget_token(practice_id, ttl=timedelta(seconds=-5))},
                       transports=["websocket"], wait_timeout=5)
    # the client learns why, so a widget can renew the token and reconnect
    assert [r["data"]["code"] for r in refusals] == ["token_expired"]


def test_a_foreign_origin_is_refused(chat_server: ChatServer, practice_id: str, peers: Connect) -> None:
    """Cross-site WebSocket hijacking: a page on another site cannot open the socket."""
    import websocket

    handshake = f"{chat_server.url}/socket.io/?EIO=4&transport=polling"
    assert requests.get(handshake, headers={"Origin": "https://evil.example"}, timeout=5).status_code == 400
    assert requests.get(handshake, headers={"Origin": chat_server.url}, timeout=5).status_code == 200
    ws_url = chat_server.url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"
    with pytest.raises(websocket.WebSocketBadStatusException) as refused:
        websocket.create_connection(ws_url, origin="https://evil.example", timeout=5)
    assert refused.value.status_code == 400
    same_site = websocket.create_connection(ws_url, origin=chat_server.url, timeout=5)
    assert same_site.recv().startswith("0{")  # engine.io's open packet
    same_site.close()
    # python-socketio's client sends the server's own origin, and gets in
    peers(chat_server.url, widget_token(practice_id)).ok("availability")


def test_configured_origins_are_let_in_beside_the_helpdesks_own(
    chat_database_url: str, chat_instance: Any, practice_id: str, peers: Connect,
) -> None:
    import websocket

    server = ChatServer(chat_database_url, chat_instance, HELPDESK_ALLOWED_ORIGINS="https://portal.example").start()
    try:
        ws_url = server.url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"
        for origin in ("https://portal.example", server.url):
            websocket.create_connection(ws_url, origin=origin, timeout=5).close()
        with pytest.raises(websocket.WebSocketBadStatusException):
            websocket.create_connection(ws_url, origin="https://evil.example", timeout=5)
        peers(server.url, widget_token(practice_id)).ok("availability")
    finally:
        server.stop()


# --- a whole conversation ----------------------------------------------------------------------


def test_a_practice_and_an_agent_chat_from_queue_to_rating(
    chat_server: ChatServer, online_agent: tuple[NewAgent, Peer], peers: Connect, practice_id: str, chat_engine: Engine,
) -> None:
    agent_row, agent = online_agent
    practice = peers(chat_server.url, widget_token(practice_id, name="Pat Staff"))
    assert practice.ok("availability")["agents_online"] is True

    started = start(practice)
    conversation = started["conversation"]
    assert conversation["status"] == "waiting" and conversation["position"] == 1
    assert conversation["estimated_wait_seconds"] is not None
    assert [m["kind"] for m in started["messages"]] == ["system", "text"]
    queued = agent.wait_for("queue", lambda q: any(c["id"] == conversation["id"] for c in q["waiting"]))
    assert queued["waiting"][0]["preview"].startswith("Hello")

    accepted = agent.ok("accept", {"conversation_id": conversation["id"]})
    assert accepted["conversation"]["agent"]["name"] == "Ada Agent"
    active = practice.wait_for("conversation", lambda c: c["status"] == "active")
    assert active["agent"] == {"id": agent_row.agent.id, "name": "Ada Agent"}
    joined = practice.wait_for("message", lambda m: m["data"].get("event") == "joined")
    assert joined["body"] == "Ada Agent joined the chat."

    # typing and read receipts, both ways
    agent.ok("typing", {"conversation_id": conversation["id"], "typing": True})
    assert practice.wait_for("typing")["author"] == {"type": "agent", "name": "Ada Agent"}
    sent = agent.ok("send_message", {"conversation_id": conversation["id"], "client_id": "a-1", "body": "Let me look."})
    assert practice.wait_for("message", lambda m: m["client_id"] == "a-1")["seq"] == sent["message"]["seq"]
    practice.ok("read", {"conversation_id": conversation["id"], "seq": sent["message"]["seq"]})
    assert agent.wait_for("read")["by"] == "practice"
    reply = practice.ok("send_message", {"conversation_id": conversation["id"], "client_id": "p-2", "body": "Thanks"})
    assert agent.wait_for("message", lambda m: m["client_id"] == "p-2")["body"] == "Thanks"
    assert agent.ok("queue")["mine"][0]["unread"] == 1
    agent.ok("read", {"conversation_id": conversation["id"], "seq": reply["message"]["seq"]})
    assert agent.ok("queue")["mine"][0]["unread"] == 0

    closed = agent.ok("close", {"conversation_id": conversation["id"]})["conversation"]
    assert closed["status"] == "closed" and closed["closed_by"] == "agent"
    practice.wait_for("conversation", lambda c: c["status"] == "closed")
    rated = practice.ok("rate", {"conversation_id": conversation["id"], "rating": 5, "comment": "Quick and clear"})
    assert rated["rating"] == 5

    seqs = practice.seqs(conversation["id"])
    assert seqs == sorted(set(seqs)) and seqs == list(range(1, seqs[-1] + 1))
    with Session(chat_engine) as session:
        stored = session.get(Conversation, conversation["id"])
        assert stored is not None and stored.rating == 5 and stored.rating_comment == "Quick and clear"
        assert "Pat Staff: Hello, a patient's booking" in (stored.transcript or "")
        assert "Ada Agent: Let me look." in (stored.transcript or "")
        assert "Ada Agent ended the chat." in (stored.transcript or "")


def test_queue_positions_move_up_and_agents_can_pick_any(
    chat_server: ChatServer, online_agent: tuple[NewAgent, Peer], peers: Connect,
) -> None:
    _, agent = online_agent
    practices = [peers(chat_server.url, widget_token(f"P-queue-{i}", user_id=f"u{i}")) for i in range(3)]
    ids = [start(p, client_id=f"s{i}")["conversation"]["id"] for i, p in enumerate(practices)]
    assert [c["id"] for c in agent.ok("queue")["waiting"]] == ids
    # an agent may pick any waiting chat, not only the first
    agent.ok("accept", {"conversation_id": ids[1]})
    practices[2].wait_for("conversation", lambda c: c.get("position") == 2)
    practices[0].wait_for("conversation", lambda c: c.get("position") == 1)
    # "take the next" takes the longest waiting
    assert agent.ok("accept", {})["conversation"]["id"] == ids[0]
    assert agent.call("accept", {"conversation_id": ids[1]})["conversation"]["id"] == ids[1]  # already mine: fine


def test_capacity_and_transfer(
    chat_server: ChatServer, online_agent: tuple[NewAgent, Peer], make_agent: Callable[..., NewAgent],
    peers: Connect, practice_id: str,
) -> None:
    _, ada = online_agent
    ada.ok("presence", {"presence": "online", "capacity": 1})
    bob_row = make_agent("Bob Agent")
    bob = peers(chat_server.url, bob_row.token)
    bob.ok("presence", {"presence": "online"})
    practice, _, conversation_id = chat_between(chat_server, online_agent, peers, practice_id)
    other = peers(chat_server.url, widget_token("P-other-practice"))
    second = start(other)["conversation"]["id"]
    assert ada.call("accept", {"conversation_id": second})["error"]["code"] == "at_capacity"

    transferred = ada.ok("transfer", {"conversation_id": conversation_id, "agent_id": bob_row.agent.id})
    assert transferred["conversation"]["agent"]["name"] == "Bob Agent"
    assert bob.wait_for("conversation", lambda c: c["id"] == conversation_id)["agent"]["id"] == bob_row.agent.id
    practice.wait_for("message", lambda m: m["data"].get("event") == "transferred")
    refused = ada.call("send_message", {"conversation_id": conversation_id, "client_id": "x", "body": "still here?"})
    assert refused["error"]["code"] == "not_your_conversation"
    bob.ok("watch", {"conversation_id": conversation_id})
    bob.ok("send_message", {"conversation_id": conversation_id, "client_id": "b-1", "body": "Bob here"})
    assert practice.wait_for("message", lambda m: m["client_id"] == "b-1")["author"]["name"] == "Bob Agent"
    assert bob.call("transfer", {"conversation_id": conversation_id, "agent_id": 999_999})["error"]["code"] == "not_found"


def test_an_agent_whose_console_reloads_is_not_reported_offline_for_that_moment(
    chat_server: ChatServer, online_agent: tuple[NewAgent, Peer], peers: Connect, practice_id: str, chat_engine: Engine,
) -> None:
    agent_row, agent = online_agent
    practice = peers(chat_server.url, widget_token(practice_id))
    agent.close()  # the reload drops the socket...
    deadline = time.monotonic() + 5
    while True:
        with Session(chat_engine) as session:
            closed = session.scalars(select(AgentConnection.closed_at)
                                     .where(AgentConnection.agent_id == agent_row.agent.id)).all()
        if closed and all(closed) or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert closed and all(closed), "the server never saw the agent's socket close"
    assert practice.ok("availability")["agents_online"] is True  # ...but practices are not told "no agent"
    again = peers(chat_server.url, agent_row.token)  # ...and the reloaded console comes back as it was
    assert again.ok("queue")["me"]["presence"] == "online"


def test_with_no_agent_online_the_practice_leaves_a_message_that_becomes_a_request(
    chat_server: ChatServer, peers: Connect, practice_id: str, chat_engine: Engine,
) -> None:
    practice = peers(chat_server.url, widget_token(practice_id, email="reception@practice.test"))
    assert practice.ok("availability")["agents_online"] is False
    assert practice.call("start_conversation", {"body": "Anyone?", "client_id": "c1"})["error"]["code"] == "no_agent_online"
    left = practice.ok("leave_message", {"subject": "Booking missing from diary", "body": "Booking BK-9 is not in our diary."})
    from helpdesk.requests.models import Request

    with Session(chat_engine) as session:
        stored = session.get(Request, left["request_id"])
        assert stored is not None and stored.practice_id == practice_id
        assert stored.requester_email == "reception@practice.test" and stored.subject == "Booking missing from diary"
        assert session.scalar(select(func.count()).select_from(Conversation).where(Conversation.practice_id == practice_id)) == 0
    assert practice.call("leave_message", {"subject": "", "body": ""})["error"]["code"] == "missing_field"
    for i in range(4):  # five in ten minutes, then the widget is asked to wait
        practice.ok("leave_message", {"subject": f"Another {i}", "body": "More details"})
    assert practice.call("leave_message", {"subject": "Flood", "body": "x"})["error"]["code"] == "rate_limited"


def test_an_agent_turns_a_chat_into_a_request_and_emails_the_transcript(
    chat_server: ChatServer, online_agent: tuple[NewAgent, Peer], peers: Connect, practice_id: str, chat_engine: Engine,
) -> None:
    practice, agent, conversation_id = chat_between(chat_server, online_agent, peers, practice_id)
    agent.ok("send_message", {"conversation_id": conversation_id, "client_id": "a1", "body": "I will raise this with engineering."})
    made = agent.ok("to_request", {"conversation_id": conversation_id})
    assert practice.wait_for("message", lambda m: m["data"].get("event") == "request")["data"]["request_id"] == made["request_id"]
    assert agent.ok("to_request", {"conversation_id": conversation_id})["request_id"] == made["request_id"]  # once
    assert practice.call("email_transcript", {"conversation_id": conversation_id})["error"]["code"] == "not_closed"
    practice.ok("close", {"conversation_id": conversation_id})
    assert practice.ok("email_transcript", {"conversation_id": conversation_id})["to"] == "pat@practice.test"
    agent.ok("email_transcript", {"conversation_id": conversation_id})  # asked twice: still one email

    from helpdesk.outbox.models import OutboxMessage
    from helpdesk.requests.models import Request, RequestComment

    with Session(chat_engine) as session:
        request = session.get(Request, made["request_id"])
        assert request is not None and request.assignee_id == online_agent[0].agent.id
        bodies = session.scalars(select(RequestComment.body).where(RequestComment.request_id == request.id)).all()
        assert bodies == ["Hello, a patient's booking is not in our diary"]  # the practice's words, no agent line
        mail = session.scalars(select(OutboxMessage).where(OutboxMessage.recipient == "pat@practice.test",
                                                           OutboxMessage.subject.like(f"%#{conversation_id})"))).all()
        assert len(mail) == 1 and "I will raise this with engineering." in mail[0].payload["text"]


def test_canned_replies_expand_by_short_code(
    chat_server: ChatServer, online_agent: tuple[NewAgent, Peer], peers: Connect, practice_id: str, chat_engine: Engine,
) -> None:
    with Session(chat_engine) as session:
        session.add(CannedReply(shortcode="collision", title="Collision", body="A booking collision means the slot was taken."))
        session.commit()
    practice, agent, conversation_id = chat_between(chat_server, online_agent, peers, practice_id)
    assert agent.ok("canned_replies")["canned_replies"][0]["shortcode"] == "collision"
    sent = agent.ok("send_message", {"conversation_id": conversation_id, "client_id": "c", "body": "/collision"})
    assert sent["message"]["body"] == "A booking collision means the slot was taken."
    assert practice.wait_for("message", lambda m: m["client_id"] == "c")["data"] == {"canned": "collision"}
    # a practice user's "/collision" is just text
    said = practice.ok("send_message", {"conversation_id": conversation_id, "client_id": "p", "body": "/collision"})
    assert said["message"]["body"] == "/collision"


# --- delivery guarantees ---------------------------------------------------------------------


def test_send_message_is_idempotent_by_client_id(
    chat_server: ChatServer, online_agent: tuple[NewAgent, Peer], peers: Connect, practice_id: str, chat_engine: Engine,
) -> None:
    practice, agent, conversation_id = chat_between(chat_server, online_agent, peers, practice_id)
    first = practice.ok("send_message", {"conversation_id": conversation_id, "client_id": "same", "body": "once"})
    again = practice.ok("send_message", {"conversation_id": conversation_id, "client_id": "same", "body": "once"})
    assert again["duplicate"] is True and again["message"] == first["message"]
    agent.wait_for("message", lambda m: m["client_id"] == "same")
    agent.ok("send_message", {"conversation_id": conversation_id, "client_id": "after", "body": "next"})
    agent.wait_for("message", lambda m: m["client_id"] == "after")
    assert [m["client_id"] for m in agent.messages(conversation_id)].count("same") == 1
    with Session(chat_engine) as session:
        assert session.scalar(select(func.count()).select_from(Message).where(
            Message.conversation_id == conversation_id, Message.client_id == "same")) == 1
    # a resent start (same client_id) hands back the open conversation and stores nothing new
    again_start = practice.ok("start_conversation", {"body": "Hello, a patient's booking is not in our diary",
                                                     "client_id": "first"})
    assert again_start["conversation"]["id"] == conversation_id and again_start["created"] is False
    assert [m["client_id"] for m in again_start["messages"]].count("first") == 1


def test_a_client_that_drops_gets_everything_after_its_last_seq_exactly_once(
    chat_server: ChatServer, online_agent: tuple[NewAgent, Peer], peers: Connect, practice_id: str,
) -> None:
    practice, agent, conversation_id = chat_between(chat_server, online_agent, peers, practice_id)
    practice.ok("send_message", {"conversation_id": conversation_id, "client_id": "p1", "body": "before the drop"})
    last_seen = max(practice.seqs(conversation_id))
    practice.close()  # the practice's connection drops mid-conversation
    sent = [agent.ok("send_message", {"conversation_id": conversation_id, "client_id": f"a{i}", "body": f"while away {i}"})
            for i in range(3)]
    back = peers(chat_server.url, widget_token(practice_id), last_seq={conversation_id: last_seen})
    back.wait_for("message", lambda m: m["seq"] == sent[-1]["message"]["seq"])
    replayed = back.seqs(conversation_id)
    assert replayed == [s["message"]["seq"] for s in sent]
    # resending what was in flight when the line dropped stores nothing new
    assert back.ok("send_message", {"conversation_id": conversation_id, "client_id": "p1", "body": "before the drop"})["duplicate"]
    # sync gives the same, and live messages keep flowing to the new connection
    synced = back.ok("sync", {"conversation_id": conversation_id, "after_seq": last_seen})
    assert [m["seq"] for m in synced["messages"]] == replayed
    agent.ok("send_message", {"conversation_id": conversation_id, "client_id": "live", "body": "live again"})
    back.wait_for("message", lambda m: m["client_id"] == "live")
    assert back.seqs(conversation_id) == replayed + [replayed[-1] + 1]


def test_history_survives_a_server_restart(
    chat_database_url: str, chat_instance: Any, make_agent: Callable[..., NewAgent], peers: Connect,
    practice_id: str, chat_engine: Engine,
) -> None:
    server = ChatServer(chat_database_url, chat_instance).start()
    try:
        agent_row = make_agent()
        agent = peers(server.url, agent_row.token)
        agent.ok("presence", {"presence": "online"})
        practice = peers(server.url, widget_token(practice_id))
        conversation_id = start(practice)["conversation"]["id"]
        agent.ok("accept", {"conversation_id": conversation_id})
        for i in range(3):
            agent.ok("send_message", {"conversation_id": conversation_id, "client_id": f"a{i}", "body": f"m{i}"})
        expected = practice.ok("sync", {"conversation_id": conversation_id, "after_seq": 0})["messages"]
        server.restart()
        again = peers(server.url, widget_token(practice_id), last_seq={conversation_id: 0})
        again.wait_for("message", lambda m: m["seq"] == expected[-1]["seq"])
        assert again.messages(conversation_id) == expected
        agent = peers(server.url, agent_row.token)
        agent.ok("presence", {"presence": "online"})
        agent.ok("send_message", {"conversation_id": conversation_id, "client_id": "after-restart", "body": "still here"})
        assert again.wait_for("message", lambda m: m["client_id"] == "after-restart")["seq"] == expected[-1]["seq"] + 1
    finally:
        server.stop()


# --- tenant isolation --------------------------------------------------------------------------


def test_a_practice_cannot_reach_another_practices_conversation(
    chat_server: ChatServer, online_agent: tuple[NewAgent, Peer], peers: Connect, practice_id: str,
) -> None:
    practice, agent, conversation_id = chat_between(chat_server, online_agent, peers, practice_id)
    intruder = peers(chat_server.url, widget_token("P-intruder", user_id="mallory"), last_seq={conversation_id: 0})
    peers(chat_server.url, widget_token(practice_id), last_seq={conversation_id: 10**15, 10**15: 1}).ok("availability")
    colleague = peers(chat_server.url, widget_token(practice_id, user_id="someone-else"))
    for peer in (intruder, colleague):
        for event, payload in [
            ("send_message", {"conversation_id": conversation_id, "client_id": "x", "body": "hi"}),
            ("sync", {"conversation_id": conversation_id, "after_seq": 0}),
            ("typing", {"conversation_id": conversation_id}),
            ("read", {"conversation_id": conversation_id, "seq": 1}),
            ("close", {"conversation_id": conversation_id}),
            ("rate", {"conversation_id": conversation_id, "rating": 1}),
            ("email_transcript", {"conversation_id": conversation_id}),
        ]:
            assert peer.call(event, payload)["error"]["code"] == "not_found", (event, payload)
        for agent_only in ("accept", "watch", "transfer", "diagnose", "share_article", "to_request", "queue"):
            assert peer.call(agent_only, {"conversation_id": conversation_id})["error"]["code"] == "forbidden"
    practice.ok("send_message", {"conversation_id": conversation_id, "client_id": "secret", "body": "patient details"})
    agent.ok("send_message", {"conversation_id": conversation_id, "client_id": "secret-2", "body": "more"})
    agent.wait_for("message", lambda m: m["client_id"] == "secret")
    practice.wait_for("message", lambda m: m["client_id"] == "secret-2")
    for peer in (intruder, colleague):
        assert peer.received("message") == [] and peer.received("typing") == [] and peer.received("queue") == []
        assert peer.received("conversation") == [] and peer.received("diagnostics") == []
    # the practice's admin sees the practice's chats
    admin = peers(chat_server.url, widget_token(practice_id, user_id="boss", admin=True))
    assert admin.ok("sync", {"conversation_id": conversation_id, "after_seq": 0})["messages"]


# --- bad input ---------------------------------------------------------------------------------


def test_bad_input_gets_an_error_ack_and_the_connection_lives_on(
    chat_server: ChatServer, online_agent: tuple[NewAgent, Peer], peers: Connect, practice_id: str, chat_engine: Engine,
) -> None:
    practice, agent, conversation_id = chat_between(chat_server, online_agent, peers, practice_id)
    cases = [
        ("no_such_event", {"x": 1}, "unknown_event"),
        ("send_message", "just a string", "invalid_payload"),
        ("send_message", [1, 2], "invalid_payload"),
        ("send_message", {}, "invalid_field"),
        ("send_message", {"conversation_id": conversation_id, "body": "no client id"}, "invalid_field"),
        ("send_message", {"conversation_id": conversation_id, "client_id": "c"}, "missing_field"),
        ("send_message", {"conversation_id": conversation_id, "client_id": "c", "body": "   "}, "missing_field"),
        ("send_message", {"conversation_id": conversation_id, "client_id": "c", "body": 42}, "invalid_field"),
        ("send_message", {"conversation_id": "1; DROP TABLE", "client_id": "c", "body": "x"}, "invalid_field"),
        ("send_message", {"conversation_id": conversation_id, "client_id": "c" * 65, "body": "x"}, "invalid_field"),
        ("send_message", {"conversation_id": conversation_id, "client_id": "big", "body": "x" * 100_000}, "too_long"),
        ("send_message", {"conversation_id": conversation_id, "client_id": "long", "body": "y" * 5_001}, "too_long"),
        ("send_message", {"conversation_id": 10**12, "client_id": "c", "body": "x"}, "invalid_field"),
        ("send_message", {"conversation_id": 2**31 - 1, "client_id": "c", "body": "x"}, "not_found"),
        ("sync", {"conversation_id": conversation_id, "after_seq": -1}, "invalid_field"),
        ("sync", {"conversation_id": conversation_id, "after_seq": 10**12}, "invalid_field"),
        ("read", {"conversation_id": conversation_id, "seq": 2**40}, "invalid_field"),
        ("sync", {"conversation_id": -5, "after_seq": 0}, "invalid_field"),
        ("read", {"conversation_id": conversation_id, "seq": "all"}, "invalid_field"),
        ("rate", {"conversation_id": conversation_id, "rating": 5}, "not_closed"),
        ("start_conversation", {"body": "x" * 100_000, "client_id": "c"}, "too_long"),
    ]
    for event, payload, code in cases:
        answer = practice.call(event, payload)
        assert answer["error"]["code"] == code, (event, str(payload)[:80], answer)
        assert set(answer["error"]) >= {"code", "message"}
    assert agent.call("presence", {"presence": "dancing"})["error"]["code"] == "invalid_field"
    assert agent.call("presence", {"capacity": 0})["error"]["code"] == "invalid_field"
    assert agent.call("share_article", {"conversation_id": conversation_id, "client_id": "a", "article_id": 10**9})["error"]["code"] == "not_found"
    for reference in ("", "BK-1\x00", "x" * 65, 42):
        assert agent.call("diagnose", {"conversation_id": conversation_id, "reference": reference})["error"]["code"] == "invalid_field"

    exactly = practice.ok("send_message", {"conversation_id": conversation_id, "client_id": "max", "body": "z" * 5_000})
    assert len(exactly["message"]["body"]) == 5_000
    script = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    stored = practice.ok("send_message", {"conversation_id": conversation_id, "client_id": "xss", "body": script + "\x00\x07"})
    assert stored["message"]["body"] == script  # kept as text (control characters dropped); every view escapes it
    assert agent.wait_for("message", lambda m: m["client_id"] == "xss")["body"] == script

    practice.ok("close", {"conversation_id": conversation_id})
    for peer in (practice, agent):
        answer = peer.call("send_message", {"conversation_id": conversation_id, "client_id": "late", "body": "hello?"})
        assert answer["error"]["code"] == "conversation_closed"
        assert peer.call("typing", {"conversation_id": conversation_id})["error"]["code"] == "conversation_closed"
    assert practice.call("rate", {"conversation_id": conversation_id, "rating": 9})["error"]["code"] == "invalid_field"
    assert practice.ok("availability")  # still connected and answering
    with Session(chat_engine) as session:
        assert session.scalar(select(func.count()).select_from(Message).where(
            Message.conversation_id == conversation_id, Message.client_id.in_(["big", "long", "late", "c"]))) == 0


def test_the_threading_server_speaks_the_same_contract(
    chat_database_url: str, chat_instance: Any, make_agent: Callable[..., NewAgent], peers: Connect, practice_id: str,
) -> None:
    server = ChatServer(chat_database_url, chat_instance, mode="threading").start()
    try:
        agent = peers(server.url, make_agent().token)
        agent.ok("presence", {"presence": "online"})
        practice = peers(server.url, widget_token(practice_id))
        conversation_id = start(practice)["conversation"]["id"]
        agent.ok("accept", {"conversation_id": conversation_id})
        agent.ok("send_message", {"conversation_id": conversation_id, "client_id": "t", "body": "threading works"})
        assert practice.wait_for("message", lambda m: m["client_id"] == "t")["body"] == "threading works"
    finally:
        server.stop()


def test_a_flood_of_messages_from_a_practice_is_slowed_down_not_dropped_silently(
    chat_server: ChatServer, online_agent: tuple[NewAgent, Peer], peers: Connect, practice_id: str,
) -> None:
    practice, agent, conversation_id = chat_between(chat_server, online_agent, peers, practice_id)
    answers = [practice.call("send_message", {"conversation_id": conversation_id, "client_id": f"flood-{i}", "body": "spam"})
               for i in range(60)]
    stored = [a for a in answers if "message" in a]
    limited = [a for a in answers if a.get("error", {}).get("code") == "rate_limited"]
    assert len(stored) + len(limited) == 60 and limited, "past the burst, messages are refused with a reason"
    assert len(stored) >= 30
    # the agent is not limited, and the practice may send again after a pause
    assert "message" in agent.call("send_message", {"conversation_id": conversation_id, "client_id": "a1", "body": "slow down"})
    time.sleep(0.5)
    assert "message" in practice.call("send_message", {"conversation_id": conversation_id, "client_id": "after", "body": "ok"})
