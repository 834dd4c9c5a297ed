"""The Socket.IO namespace ``/chat``: the edge of live chat.

Each handler parses its payload, calls ``chat.service``, builds everything it will announce,
commits, and only then emits and acknowledges. So an acknowledgement means "stored", and no
emit (socket I/O, a green-thread switch under eventlet) ever happens while a write transaction
holds SQLite's lock. Bad input never raises out of a handler: the acknowledgement carries
``{"error": {"code", "message"}}``.

Rooms: ``conversation:<id>`` (its practice user's connections, the agent in it, agents watching),
``agents`` (every agent: the queue), ``agent:<id>`` and ``user:<practice>:<user>`` (one person's
connections, across server processes), ``diagnostics:<practice>`` (agents looking at a chat of
that practice: live booking facts). With a message queue (Redis) the rooms span processes.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from flask import Flask, current_app, request
from flask_socketio import ConnectionRefusedError, join_room, leave_room
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from chat import queries, service
from chat.models import Conversation, Message
from helpdesk.bookings import ingest
from helpdesk.core import db
from helpdesk.core.agents import Agent
from helpdesk.core.audit import AuditAction, record_audit
from helpdesk.core.auth import PracticeUser, authenticate_socket, session_ended
from helpdesk.core.canned import canned_replies as list_canned_replies
from helpdesk.core.clock import utcnow
from helpdesk.core.errors import (
    Conflict,
    DomainError,
    InvalidInput,
    NotFound,
    RateLimited,
    Unauthenticated,
)
from helpdesk.core.extensions import socketio
from helpdesk.core.sockets import INVALID_EVENT, invalid_event, on_event_in_app_context

NAMESPACE = "/chat"
LAST_SEQ_MAX_ENTRIES = 50
CONNECTION_REFRESH_SECONDS = 30
log = logging.getLogger(__name__)

# This process's name among the servers sharing the database (see chat.models.AgentConnection).
NODE = uuid.uuid4().hex[:16]


@dataclass
class Client:
    """One authenticated connection in this process."""

    sid: str
    token: str = ""  # what it connected with: checked again on every event (revoked, expired, deactivated)
    remote_addr: str | None = None  # the handshake's client address, for the audit trail
    agent_id: int | None = None
    agent_name: str = ""
    agent_role: str = "agent"
    user: PracticeUser | None = None
    conversations: set[int] = field(default_factory=set)  # rooms joined (access already checked)

    # A practice user may send a burst of messages, then a steady rate: more than anyone types, far
    # less than a script flooding a conversation (HELPDESK_CHAT_MESSAGE_BURST / _MESSAGES_PER_SECOND;
    # agents, who are staff, are not limited).
    message_burst: float = 30
    messages_per_second: float = 10
    message_allowance: float = 30
    allowance_checked_at: float = field(default_factory=time.monotonic)

    @property
    def is_agent(self) -> bool:
        return self.agent_id is not None

    def take_message_allowance(self) -> None:
        """A token bucket per connection: refuse a practice user's message beyond the rate."""
        if self.is_agent or self.messages_per_second <= 0:
            return
        now = time.monotonic()
        elapsed, self.allowance_checked_at = now - self.allowance_checked_at, now
        self.message_allowance = min(self.message_burst, self.message_allowance + elapsed * self.messages_per_second)
        if self.message_allowance < 1:
            raise RateLimited("rate_limited", "too many messages: wait a moment and send again")
        self.message_allowance -= 1


_clients: dict[str, Client] = {}
_refresher_started = threading.Event()


def conversation_room(conversation_id: int) -> str:
    return f"conversation:{conversation_id}"


def agent_room(agent_id: int) -> str:
    return f"agent:{agent_id}"


def user_room(user: PracticeUser) -> str:
    return f"user:{user.practice_id}:{user.user_id}"


def diagnostics_room(practice_id: str) -> str:
    return f"diagnostics:{practice_id}"


def _error(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


# --- announcing -------------------------------------------------------------------------------

class Announcements:
    """Emits gathered while the transaction is open, sent after it commits."""

    def __init__(self) -> None:
        self.items: list[tuple[str, Any, str]] = []

    def add(self, event: str, payload: Any, room: str) -> None:
        self.items.append((event, payload, room))

    def messages(self, messages: list[Message]) -> None:
        for message in messages:
            self.add("message", queries.message_payload(message), conversation_room(message.conversation_id))

    def conversation(self, session: Any, conversation: Conversation) -> None:
        """The new state, to everyone in the chat (practice view) and to the agents' own rooms."""
        now = utcnow()
        self.add("conversation", queries.practice_view(session, conversation, now), conversation_room(conversation.id))
        if conversation.agent_id:
            self.add("conversation", queries.agent_view(session, conversation), agent_room(conversation.agent_id))

    def queue(self, session: Any) -> None:
        """The queue, to every agent, and each waiting practice its new position and wait."""
        now = utcnow()
        self.add("queue", queries.queue_payload(session, now), "agents")
        typical, agents = queries.typical_wait_seconds(session), queries.agents_online(session, now)
        for position, waiting in enumerate(queries.waiting(session, now), start=1):
            payload = queries.conversation_payload(waiting, position=position,
                                                   estimated_wait_seconds=queries.estimated_wait(position, typical, agents))
            self.add("conversation", payload, conversation_room(waiting.id))

    def commit_and_send(self) -> None:
        db.session.commit()
        self.send()

    def send(self) -> None:
        for event, payload, room in self.items:
            socketio.emit(event, payload, to=room, namespace=NAMESPACE)


# --- the handler frame ------------------------------------------------------------------------

Handler = Callable[[Client, dict[str, Any]], dict[str, Any]]


def _handle(fn: Handler, agents_only: bool, practice_only: bool) -> Callable[..., dict[str, Any]]:
    def handler(sid: str, data: Any = None, *_extra: Any) -> dict[str, Any]:
        client = _clients.get(sid)
        if client is None:
            return _error("unauthenticated", "connect with a token first")
        ended = session_ended(client.token, client.user)  # helpdesk.core.auth: a revoked token stops at once
        if ended is not None:
            db.session.rollback()
            _drop_soon(client.sid)
            return {"error": {"code": ended.code, "message": ended.message}}
        if agents_only and not client.is_agent:
            return _error("forbidden", "only agents can do this")
        if practice_only and client.is_agent:
            return _error("forbidden", "only the practice can do this")
        if data is None:
            data = {}
        if not isinstance(data, dict):
            return _error("invalid_payload", "send one JSON object")
        try:
            return fn(client, data)
        except DomainError as exc:
            db.session.rollback()
            return {"error": {"code": exc.code, "message": exc.message, **exc.extra}}
        except Exception:  # a bug must not kill the connection: log it, answer, carry on
            db.session.rollback()
            log.exception("chat handler %s failed", fn.__name__)
            return _error("internal_error", "something went wrong on our side; please try again")

    handler.__name__ = fn.__name__
    return handler


_registry: dict[str, tuple[Handler, bool, bool]] = {}


def on(event: str, agents_only: bool = False, practice_only: bool = False) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        _registry[event] = (fn, agents_only, practice_only)
        return fn

    return register


def _actor(client: Client) -> Agent | PracticeUser:
    if client.user is not None:
        return client.user
    agent = db.session.get(Agent, client.agent_id)
    if agent is None or not agent.is_active:
        raise Unauthenticated("invalid_token", "this agent account is no longer active")
    return agent


def _agent(client: Client) -> Agent:
    agent = _actor(client)
    assert isinstance(agent, Agent)  # the handler is agents_only
    return agent


def _conversation(client: Client, data: dict[str, Any]) -> Conversation:
    return queries.conversation_for(db.session(), _actor(client), data.get("conversation_id"))


def _join(client: Client, conversation: Conversation) -> None:
    join_room(conversation_room(conversation.id), sid=client.sid, namespace=NAMESPACE)
    client.conversations.add(conversation.id)
    if client.is_agent:
        join_room(diagnostics_room(conversation.practice_id), sid=client.sid, namespace=NAMESPACE)


def _view(client: Client, conversation: Conversation) -> dict[str, Any]:
    session = db.session()
    if client.is_agent:
        return queries.agent_view(session, conversation)
    return queries.practice_view(session, conversation, utcnow())


def _history(conversation: Conversation, after_seq: int = 0) -> list[dict[str, Any]]:
    return [queries.message_payload(m) for m in queries.messages_after(db.session(), conversation.id, after_seq)]


# --- connection -------------------------------------------------------------------------------

def on_connect(auth: Any = None) -> bool:
    try:
        actor = authenticate_socket(auth)
    except DomainError as exc:
        db.session.rollback()
        # message, then data: the JS client reads err.message and err.data ({"code", "message"})
        raise ConnectionRefusedError(exc.message, {"code": exc.code, "message": exc.message}) from None
    sid = request.sid
    burst = current_app.config["CHAT_MESSAGE_BURST"]
    client = Client(sid=sid, token=auth["token"].strip(), remote_addr=request.remote_addr,
                    message_burst=burst, message_allowance=burst,
                    messages_per_second=current_app.config["CHAT_MESSAGES_PER_SECOND"])
    session = db.session()
    now = utcnow()
    own: list[Conversation]
    if isinstance(actor, Agent):
        client.agent_id, client.agent_name, client.agent_role = actor.id, actor.name, actor.role
        service.connection_opened(session, actor.id, sid, NODE, now)
        own = list(session.scalars(
            select(Conversation).where(Conversation.agent_id == actor.id, Conversation.status == "active")
        ))
        join_room("agents", sid=sid, namespace=NAMESPACE)
        join_room(agent_room(actor.id), sid=sid, namespace=NAMESPACE)
    else:
        client.user = actor
        own = [c for c in queries.conversations_for_user(session, actor) if c.status in queries.OPEN_STATUSES]
        join_room(user_room(actor), sid=sid, namespace=NAMESPACE)
    replay = _replay(client, actor, auth.get("last_seq") if isinstance(auth, dict) else None)
    for conversation in own:
        _join(client, conversation)
    _clients[sid] = client
    announce = Announcements()
    if client.is_agent:  # who is online may have changed
        announce.add("queue", queries.queue_payload(session, now), "agents")
    db.session.commit()  # before any emit: never hold SQLite's lock across socket I/O
    for payload in replay:
        socketio.emit("message", payload, to=sid, namespace=NAMESPACE, ignore_queue=True)
    announce.send()
    _start_refresher(current_app._get_current_object())
    return True


def _replay(client: Client, actor: Agent | PracticeUser, last_seq: Any) -> list[dict[str, Any]]:
    """Everything after the client's ``last_seq`` for each conversation it names (and may see)."""
    if not isinstance(last_seq, dict):
        return []
    payloads: list[dict[str, Any]] = []
    for key, seq in list(last_seq.items())[:LAST_SEQ_MAX_ENTRIES]:
        try:
            conversation = queries.conversation_for(db.session(), actor, int(key))
        except (DomainError, ValueError, TypeError):
            continue
        if isinstance(seq, bool) or not isinstance(seq, int):
            continue
        if conversation.status != "closed":
            _join(client, conversation)
        payloads += _history(conversation, min(max(0, seq), queries.INT_MAX))
    return payloads


def _drop_soon(sid: str) -> None:
    """Disconnect a socket whose identity ended, just after its error acknowledgement is sent."""
    def drop() -> None:
        socketio.sleep(0.2)
        socketio.server.disconnect(sid, namespace=NAMESPACE)

    socketio.start_background_task(drop)


def on_disconnect(*_reason: Any) -> None:
    client = _clients.pop(request.sid, None)
    if client is None or not client.is_agent:
        return
    try:
        service.connection_closed(db.session(), request.sid, utcnow())
        db.session.commit()
    except Exception:
        db.session.rollback()
        log.exception("could not close agent connection %s", request.sid)
        return
    # Still counted online through the grace (a reload reconnects within it); tell the agents once it is over.
    socketio.start_background_task(_announce_queue_after, current_app._get_current_object(),
                                   queries.RECONNECT_GRACE.total_seconds() + 1)


def _announce_queue_after(app: Flask, seconds: float) -> None:
    socketio.sleep(seconds)
    with app.app_context():
        try:
            announce = Announcements()
            announce.add("queue", queries.queue_payload(db.session(), utcnow()), "agents")
            db.session.rollback()
            announce.send()
        except Exception:
            db.session.rollback()
            log.exception("could not announce the queue after an agent left")


def _start_refresher(app: Flask) -> None:
    """Keep vouching for this process's agent connections (see ``chat.models.AgentConnection``)."""
    if _refresher_started.is_set():
        return
    _refresher_started.set()

    def refresh() -> None:
        while True:
            socketio.sleep(CONNECTION_REFRESH_SECONDS)
            with app.app_context():
                try:
                    service.connections_seen(db.session(), NODE, utcnow(), queries.CONNECTION_STALE_AFTER,
                                             queries.RECONNECT_GRACE)
                    db.session.commit()
                except Exception:
                    db.session.rollback()
                    log.exception("could not refresh agent connections")

    socketio.start_background_task(refresh)


# --- both sides -------------------------------------------------------------------------------

def _store_message(conversation_id: int, client_id: Any,
                   store: Callable[[db.LazyTransaction], service.Sent]) -> tuple[dict[str, Any], service.Sent]:
    """Store one message (idempotent by ``client_id``), commit, then emit it and acknowledge.

    ``store`` writes on the session's transaction, or on the writer's when the session has begun
    none (a practice's plain message: no ORM session transaction at all); whichever holds it is
    committed."""
    with db.LazyTransaction() as writer:
        try:
            sent = store(writer)
        except IntegrityError:  # this client_id is already stored: answer with the original
            writer.rollback()
            db.session.rollback()
            sent = service.Sent(queries.message_by_client_id(db.session(), conversation_id, client_id), False)
        if not sent.created:
            db.session.rollback()
            return {"message": queries.message_payload(sent.message), "duplicate": True}, sent
        writer.commit()
    if db.begun(db.session):
        db.session.commit()
    payload = queries.message_payload(sent.message)
    socketio.emit("message", payload, to=conversation_room(conversation_id), namespace=NAMESPACE)
    return {"message": payload}, sent


def _sender(client: Client) -> Agent | PracticeUser:
    """The connection's identity, as authenticated when it connected (no query: the hot path)."""
    if client.user is not None:
        return client.user
    return Agent(id=client.agent_id, name=client.agent_name, role=client.agent_role)  # transient, never added


@on("send_message")
def send_message(client: Client, data: dict[str, Any]) -> dict[str, Any]:
    client.take_message_allowance()
    conversation_id, client_id = data.get("conversation_id"), data.get("client_id")
    ack, sent = _store_message(conversation_id, client_id, lambda writer: service.send_message(
        db.session, _sender(client), conversation_id, client_id, data.get("body"), utcnow(), writer))
    if client.user is not None and sent.created and sent.conversation_status == "waiting":
        from chat.assistant.events import after_practice_message

        after_practice_message(client, ack["message"])  # the answer desk, while no agent has answered
    return ack


@on("typing")
def typing(client: Client, data: dict[str, Any]) -> dict[str, Any]:
    conversation = _conversation(client, data)
    name = client.user.name if client.user else _actor(client).name
    db.session.rollback()
    if conversation.status == "closed":
        raise Conflict("conversation_closed", "this conversation is closed")
    payload = {"conversation_id": conversation.id, "typing": bool(data.get("typing", True)),
               "author": {"type": "agent" if client.is_agent else "practice", "name": name}}
    socketio.emit("typing", payload, to=conversation_room(conversation.id), skip_sid=client.sid, namespace=NAMESPACE)
    return {"ok": True}


@on("read")
def read(client: Client, data: dict[str, Any]) -> dict[str, Any]:
    conversation = _conversation(client, data)
    seq = service.mark_read(db.session(), _actor(client), conversation, data.get("seq"))
    payload = {"conversation_id": conversation.id, "by": "agent" if client.is_agent else "practice", "seq": seq}
    announce = Announcements()
    announce.add("read", payload, conversation_room(conversation.id))
    announce.commit_and_send()
    return {"ok": True, "seq": seq}


@on("sync")
def sync(client: Client, data: dict[str, Any]) -> dict[str, Any]:
    after = data.get("after_seq", 0)
    queries.whole_number(after, "after_seq")
    conversation = _conversation(client, data)
    messages = _history(conversation, after)
    view = _view(client, conversation)
    if conversation.status != "closed" and (not client.is_agent or conversation.agent_id == client.agent_id):
        _join(client, conversation)
    db.session.rollback()
    return {"conversation": view, "messages": messages, "has_more": len(messages) >= queries.REPLAY_LIMIT}


@on("close")
def close(client: Client, data: dict[str, Any]) -> dict[str, Any]:
    session = db.session()
    conversation = _conversation(client, data)
    outcome = service.close(session, _actor(client), conversation, utcnow())
    return _announce_change(client, outcome)


@on("email_transcript")
def email_transcript(client: Client, data: dict[str, Any]) -> dict[str, Any]:
    conversation = _conversation(client, data)
    to = service.email_transcript(db.session(), _actor(client), conversation, utcnow())
    db.session.commit()
    return {"ok": True, "to": to}


@on("availability")
def availability(client: Client, data: dict[str, Any]) -> dict[str, Any]:
    session = db.session()
    now = utcnow()
    agents = queries.agents_online(session, now)
    waiting = len(queries.waiting(session, now))
    wait = queries.estimated_wait(waiting + 1, queries.typical_wait_seconds(session), agents)
    db.session.rollback()
    return {"agents_online": agents > 0, "waiting": waiting, "estimated_wait_seconds": wait if agents else None}


def _announce_change(client: Client, outcome: service.Outcome) -> dict[str, Any]:
    """Commit a state change; announce its messages, the new state and (if it moved) the queue."""
    session = db.session()
    conversation = outcome.conversation
    view = _view(client, conversation)
    if not outcome.created:
        db.session.rollback()
        return {"conversation": view}
    announce = Announcements()
    announce.messages(outcome.messages)
    announce.conversation(session, conversation)
    if outcome.previous_agent_id:
        announce.add("conversation", queries.agent_view(session, conversation), agent_room(outcome.previous_agent_id))
    if outcome.queue_changed:
        announce.queue(session)
    announce.commit_and_send()
    return {"conversation": view, "messages": [queries.message_payload(m) for m in outcome.messages]}


# --- the practice side ------------------------------------------------------------------------

@on("start_conversation", practice_only=True)
def start_conversation(client: Client, data: dict[str, Any]) -> dict[str, Any]:
    assert client.user is not None
    session = db.session()
    try:
        outcome = service.start_conversation(session, client.user, utcnow(), data.get("body"), data.get("client_id"))
    except IntegrityError:  # a resent start: its first message is stored already
        db.session.rollback()
        outcome = service.start_conversation(session, client.user, utcnow())
    conversation = outcome.conversation
    session.flush()
    _join(client, conversation)
    history = _history(conversation)
    announce = Announcements()
    announce.messages(outcome.messages)
    announce.add("conversation", queries.practice_view(session, conversation, utcnow()), user_room(client.user))
    if outcome.queue_changed:
        announce.queue(session)
    view = queries.practice_view(session, conversation, utcnow())
    announce.commit_and_send()
    if outcome.created:
        from chat.assistant.events import after_start

        after_start(client, conversation.id, [queries.message_payload(m) for m in outcome.messages])
    return {"conversation": view, "messages": history, "created": outcome.created}


@on("resume", practice_only=True)
def resume(client: Client, data: dict[str, Any]) -> dict[str, Any]:
    """The user's open chat (if any) with its history: what the widget shows when it loads."""
    assert client.user is not None
    session = db.session()
    conversation = queries.open_conversation_for(session, client.user)
    if conversation is None:
        db.session.rollback()
        return {"conversation": None, "messages": []}
    _join(client, conversation)
    payload = {"conversation": queries.practice_view(session, conversation, utcnow()), "messages": _history(conversation)}
    db.session.rollback()
    return payload


@on("rate", practice_only=True)
def rate(client: Client, data: dict[str, Any]) -> dict[str, Any]:
    assert client.user is not None
    conversation = _conversation(client, data)
    service.rate(db.session(), client.user, conversation, data.get("rating"), data.get("comment"), utcnow())
    announce = Announcements()
    if conversation.agent_id:
        announce.add("conversation", queries.agent_view(db.session(), conversation), agent_room(conversation.agent_id))
    announce.commit_and_send()
    return {"ok": True, "rating": conversation.rating}


@on("leave_message", practice_only=True)
def leave_message(client: Client, data: dict[str, Any]) -> dict[str, Any]:
    assert client.user is not None
    request_id = service.leave_message(db.session(), client.user, data.get("subject"), data.get("body"),
                                       data.get("email"), data.get("booking_reference"), utcnow())
    db.session.commit()
    return {"ok": True, "request_id": request_id}


# --- the agent side ---------------------------------------------------------------------------

@on("queue", agents_only=True)
def queue(client: Client, data: dict[str, Any]) -> dict[str, Any]:
    session = db.session()
    assert client.agent_id is not None
    payload = {**queries.queue_payload(session, utcnow()), "mine": queries.agent_chats(session, client.agent_id),
               "me": queries.agent_presence(session, client.agent_id)}
    db.session.rollback()
    return payload


@on("presence", agents_only=True)
def presence(client: Client, data: dict[str, Any]) -> dict[str, Any]:
    session = db.session()
    agent = _agent(client)
    status = service.set_presence(session, agent, data.get("presence"), data.get("capacity"), utcnow())
    session.flush()
    mine = {"presence": status.presence, "capacity": status.capacity}
    announce = Announcements()
    announce.add("presence", mine, agent_room(agent.id))
    announce.queue(session)
    announce.commit_and_send()
    return mine


@on("accept", agents_only=True)
def accept(client: Client, data: dict[str, Any]) -> dict[str, Any]:
    session = db.session()
    agent = _agent(client)
    conversation = _conversation(client, data) if data.get("conversation_id") is not None else None
    outcome = service.accept(session, agent, conversation, utcnow())
    _join(client, outcome.conversation)
    ack = _announce_change(client, outcome)
    return {**ack, "messages": _history_after_commit(outcome.conversation)}


def _history_after_commit(conversation: Conversation) -> list[dict[str, Any]]:
    history = _history(conversation)
    db.session.rollback()
    return history


@on("transfer", agents_only=True)
def transfer(client: Client, data: dict[str, Any]) -> dict[str, Any]:
    session = db.session()
    agent = _agent(client)
    conversation = _conversation(client, data)
    outcome = service.transfer(session, agent, conversation, data.get("agent_id"), utcnow())
    return _announce_change(client, outcome)


@on("watch", agents_only=True)
def watch(client: Client, data: dict[str, Any]) -> dict[str, Any]:
    """Open a chat in the console: its history, and the practice's diagnostics (audited)."""
    session = db.session()
    agent = _agent(client)
    conversation = _conversation(client, data)
    _join(client, conversation)
    config = current_app.config
    snapshot = queries.diagnostics_snapshot(session, conversation.practice_id, utcnow(), config["HEALTH_WINDOW_DAYS"],
                                            timedelta(minutes=config["CONNECTOR_SILENT_AFTER_MINUTES"]))
    record_audit(session, agent, AuditAction.CHAT_VIEW_DIAGNOSTICS, conversation.practice_id, f"conversation:{conversation.id}",
                 ip=client.remote_addr)
    payload = {"conversation": queries.agent_view(session, conversation), "messages": _history(conversation),
               "diagnostics": snapshot}
    db.session.commit()
    return payload


@on("unwatch", agents_only=True)
def unwatch(client: Client, data: dict[str, Any]) -> dict[str, Any]:
    conversation = _conversation(client, data)
    db.session.rollback()
    if conversation.agent_id != client.agent_id:
        leave_room(conversation_room(conversation.id), sid=client.sid, namespace=NAMESPACE)
        client.conversations.discard(conversation.id)
    return {"ok": True}


@on("diagnose", agents_only=True)
def diagnose(client: Client, data: dict[str, Any]) -> dict[str, Any]:
    session = db.session()
    agent = _agent(client)
    conversation = _conversation(client, data)
    reference = data.get("reference")
    if not isinstance(reference, str) or not service.REFERENCE_RE.match(reference.strip()):
        raise InvalidInput("invalid_field", "reference must be a booking reference", field="reference")
    verdict = queries.diagnosis_with_articles(session, conversation.practice_id, reference.strip(), utcnow())
    if verdict is None:
        raise NotFound("not_found", "this practice has no booking with that reference")
    record_audit(session, agent, AuditAction.VIEW_DIAGNOSIS, conversation.practice_id, reference.strip(),
                 ip=client.remote_addr, via="chat")
    db.session.commit()
    return {"diagnosis": verdict}


@on("share_article", agents_only=True)
def share_article(client: Client, data: dict[str, Any]) -> dict[str, Any]:
    agent = _agent(client)
    conversation = _conversation(client, data)
    ack, _ = _store_message(conversation.id, data.get("client_id"), lambda _writer: service.share_article(
        db.session(), agent, conversation, data.get("article_id"), data.get("client_id"), utcnow()))
    return ack


@on("to_request", agents_only=True)
def to_request(client: Client, data: dict[str, Any]) -> dict[str, Any]:
    session = db.session()
    agent = _agent(client)
    conversation = _conversation(client, data)
    outcome = service.to_request(session, agent, conversation, utcnow())
    return {**_announce_change(client, outcome), "request_id": conversation.request_id}


@on("canned_replies", agents_only=True)
def canned_replies(client: Client, data: dict[str, Any]) -> dict[str, Any]:
    rows = list_canned_replies(db.session(), order_by="shortcode")
    replies = [{"shortcode": r.shortcode, "title": r.title, "body": r.body} for r in rows]
    db.session.rollback()
    return {"canned_replies": replies}


def unknown_event(event: str, *_args: Any) -> dict[str, Any]:
    return _error("unknown_event", f"there is no event {str(event)[:60]!r} in /chat")


# --- live diagnostics -------------------------------------------------------------------------

def on_events_ingested(app: Flask, practice_ids: Any = (), **_kw: Any) -> None:
    """Fresh booking facts arrived: push the practice's diagnostics to agents in its chats."""
    try:
        session = db.session()
        watched = queries.practices_with_open_chats(session, list(practice_ids or ()))
        config = app.config
        now = utcnow()
        snapshots = [queries.diagnostics_snapshot(session, pid, now, config["HEALTH_WINDOW_DAYS"],
                                                  timedelta(minutes=config["CONNECTOR_SILENT_AFTER_MINUTES"]))
                     for pid in watched]
        db.session.rollback()  # read only; and free SQLite's lock before any socket I/O
        for snapshot in snapshots:
            socketio.emit("diagnostics", snapshot, to=diagnostics_room(snapshot["practice_id"]), namespace=NAMESPACE)
    except Exception:  # the ingest itself succeeded; a failed live refresh must not turn it into an error
        db.session.rollback()
        log.exception("could not push live diagnostics")


def init_app(app: Flask) -> None:
    socketio.on_event("connect", on_connect, namespace=NAMESPACE)  # the handshake's request: headers, address
    socketio.on_event("disconnect", on_disconnect, namespace=NAMESPACE)
    for event, (fn, agents_only, practice_only) in _registry.items():  # every event a client sends: no request context
        on_event_in_app_context(socketio.server, app, NAMESPACE, event, _handle(fn, agents_only, practice_only))
    socketio.on_event(INVALID_EVENT, invalid_event, namespace=NAMESPACE)  # refused packets: helpdesk.core.sockets
    socketio.on_event("*", unknown_event, namespace=NAMESPACE)
    ingest.events_ingested.connect(on_events_ingested, weak=False)
