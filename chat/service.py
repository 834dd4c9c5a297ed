"""Verbs of live chat: start, send, share an article, accept, transfer, close, rate, read,
presence, and turning a chat into a request.

Every verb takes the session, the actor (an ``Agent`` or a ``PracticeUser``) and the time
explicitly, validates before it writes, and never commits: the Socket.IO edge (``chat.events``)
commits, then emits. Nothing here knows about HTTP or Socket.IO.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, NamedTuple

from sqlalchemy import bindparam, delete, func, insert, or_, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session, scoped_session
from sqlalchemy.orm.attributes import set_committed_value

from chat import queries
from chat.models import (
    PRESENCES,
    AgentConnection,
    AgentStatus,
    Conversation,
    Message,
)
from helpdesk.bookings.models import Booking
from helpdesk.core.agents import Agent
from helpdesk.core.auth import PracticeUser
from helpdesk.core.canned import find_canned_reply
from helpdesk.core.clock import elapsed_seconds
from helpdesk.core.db import DriverConnection, DriverStatement, LazyTransaction, begun
from helpdesk.core.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    RateLimited,
)
from helpdesk.core.text import BOOKING_REFERENCE_RE
from helpdesk.core.text import clean_text as clean_plain_text

if TYPE_CHECKING:
    from helpdesk.requests.models import Request

BODY_MAX = 5_000
COMMENT_MAX = 2_000
CLIENT_ID_RE = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
SHORTCODE_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
MAX_REFERENCES = 5
REFERENCE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,63}$")  # what the platform may send as one
CAPACITY_MAX = 20
LEAVE_MESSAGE_LIMIT = 5
LEAVE_MESSAGE_WINDOW = timedelta(minutes=10)
READ_COLUMNS = {"practice": "practice_read_seq", "agent": "agent_read_seq"}  # an author has read what they wrote

Actor = Agent | PracticeUser


@dataclass
class Outcome:
    """What a verb changed, for the edge to announce after it commits."""

    conversation: Conversation
    messages: list[Message] = field(default_factory=list)
    created: bool = True  # False: an idempotent repeat, nothing new was stored
    queue_changed: bool = False
    previous_agent_id: int | None = None


# --- validation -------------------------------------------------------------------------------

def clean_text(value: Any, name: str = "body", limit: int = BODY_MAX, required: bool = True) -> str:
    return clean_plain_text(value, name, limit, required)


def clean_client_id(value: Any) -> str:
    if not isinstance(value, str) or not CLIENT_ID_RE.match(value):
        raise InvalidInput("invalid_field", "client_id must be 1-64 letters, digits or . _ : -", field="client_id")
    return value


def author_of(actor: Actor) -> tuple[str, str, str]:
    if isinstance(actor, Agent):
        return "agent", str(actor.id), actor.name
    return "practice", actor.user_id, actor.name or "Practice"


# --- messages ---------------------------------------------------------------------------------

class Sent(NamedTuple):
    """A stored message, whether it is new, and the conversation's status as the storing UPDATE
    left it: the edge decides what follows (the assistant answers only a waiting chat) without
    loading the conversation again."""

    message: Message
    created: bool
    conversation_status: str | None = None


def _seq_update(author_type: str, guard: str) -> Any:
    """UPDATE ... RETURNING that allocates the next seq, built once per (author, guard) and reused:
    this is the hot path of every chat message, so no statement is rebuilt per call."""
    table = Conversation.__table__
    values: dict[str, Any] = {"last_seq": table.c.last_seq + 1, "last_message_at": bindparam("p_now")}
    if author_type in READ_COLUMNS:
        values[READ_COLUMNS[author_type]] = table.c.last_seq + 1
    conditions = [table.c.id == bindparam("p_conversation")]
    if guard == "agent":  # an agent writes only in their own active chat
        conditions += [table.c.status == "active", table.c.agent_id == bindparam("p_agent")]
    elif guard in ("practice", "practice_admin"):  # a practice user in its own open chat (an admin: any of its practice)
        conditions += [table.c.practice_id == bindparam("p_practice"), table.c.status != "closed"]
        if guard == "practice":
            conditions.append(table.c.requester_id == bindparam("p_requester"))
    return DriverStatement(update(table).where(*conditions).values(**values).returning(table.c.last_seq, table.c.status))


_SEQ_UPDATES = {(author, guard): _seq_update(author, guard)
                for author, guard in [("system", "none"), ("assistant", "none"), ("agent", "none"), ("practice", "none"), ("agent", "agent"),
                                      ("practice", "practice"), ("practice", "practice_admin")]}
_MESSAGE_COLUMNS = ("conversation_id", "seq", "client_id", "kind", "author_type", "author_id", "author_name", "body",
                    "data", "created_at")
_MESSAGE_INSERT = DriverStatement(insert(Message.__table__).returning(Message.__table__.c.id), _MESSAGE_COLUMNS)


_NEW_MESSAGE = Message.__mapper__.class_manager.new_instance


def _stored_record(message_id: int, row: dict[str, Any]) -> Message:
    """A transient ``Message`` holding what was stored, its values set as loaded ones (the
    constructor's attribute events were a twentieth of a message's time in process)."""
    message = _NEW_MESSAGE()
    message.__dict__.update(row, id=message_id)
    return message


def _store(session: Session | scoped_session[Session], conversation_id: int, now: datetime, *, kind: str,
           author: tuple[str, str | None, str], body: str, data: dict[str, Any] | None = None,
           client_id: str | None = None, writer: LazyTransaction | None = None, guard: str = "none",
           **guard_params: Any) -> tuple[Message, str] | None:
    """Store a message with the conversation's next seq, if the conversation passes ``guard``.

    One UPDATE ... RETURNING allocates the seq (on PostgreSQL concurrent writers queue on the row
    lock) and moves ``last_message_at`` and the author's read mark; one INSERT stores the message.
    Both go straight to the driver (``DriverStatement``), not through the unit of work or
    SQLAlchemy's execution: on the session's transaction when it has one (what it has pending,
    a verb that just accepted the chat, is flushed first, as the ORM's autoflush would), else on
    ``writer``'s, when the edge gives one. Returns the message and the conversation's status, or
    ``None`` when no conversation matched the guard (unknown, someone else's, closed...); then
    ``writer`` has been rolled back, so the session may read why.
    """
    author_type, author_id, author_name = author
    on: Session | scoped_session[Session] | Connection | DriverConnection
    if writer is not None and not begun(session):
        on = writer.connection()
    else:
        session.flush()
        on = session
    allocated = _SEQ_UPDATES[(author_type, guard)].first(on, {"p_conversation": conversation_id, "p_now": now,
                                                              **guard_params})
    if allocated is None:
        if writer is not None:
            writer.rollback()  # nothing was written; on SQLite the session could not begin beside it
        return None
    seq, status = allocated
    row = {"conversation_id": conversation_id, "seq": seq, "client_id": client_id, "kind": kind,
           "author_type": author_type, "author_id": author_id, "author_name": author_name, "body": body,
           "data": data or {}, "created_at": now}
    (message_id,) = _MESSAGE_INSERT.first(on, row)
    return _stored_record(message_id, row), status


def _append(session: Session, conversation: Conversation, now: datetime, *, kind: str,
            author: tuple[str, str | None, str], body: str, data: dict[str, Any] | None = None,
            client_id: str | None = None) -> Message:
    """``_store`` into a loaded conversation, keeping the loaded object in step (without marking it changed)."""
    stored = _store(session, conversation.id, now, kind=kind, author=author, body=body, data=data, client_id=client_id)
    assert stored is not None
    message = stored[0]
    set_committed_value(conversation, "last_seq", message.seq)
    set_committed_value(conversation, "last_message_at", now)
    if author[0] in READ_COLUMNS:
        set_committed_value(conversation, READ_COLUMNS[author[0]], message.seq)
    return message


def system_message(session: Session, conversation: Conversation, now: datetime, event: str, text: str,
                   **data: Any) -> Message:
    return _append(session, conversation, now, kind="system", author=("system", None, "Practice Helpdesk"),
                   body=text, data={"event": event, **data})


def _repeat(session: Session, conversation: Conversation, client_id: str) -> Message | None:
    return session.scalar(select(Message).where(Message.conversation_id == conversation.id,
                                                Message.client_id == client_id))


def booking_references(session: Session, practice_id: str, text: str) -> list[str]:
    """The practice's booking references mentioned in ``text`` (only ones that exist)."""
    candidates = {m.group(0).lower() for m in BOOKING_REFERENCE_RE.finditer(text)}
    if not candidates:
        return []
    found = session.scalars(
        select(Booking.reference).where(Booking.practice_id == practice_id,
                                        Booking.reference_key.in_(sorted(candidates)[:50]))
    )
    return sorted(found)[:MAX_REFERENCES]


def _references_in_chat(session: Session, conversation_id: int, text: str) -> list[str]:
    """The chat's practice's bookings an agent names (the console links them); a query only when
    the text has something shaped like a reference."""
    if not BOOKING_REFERENCE_RE.search(text):
        return []
    practice_id = session.scalar(select(Conversation.practice_id).where(Conversation.id == conversation_id))
    return booking_references(session, practice_id, text) if practice_id else []


def _expand_canned(session: Session, body: str) -> tuple[str, dict[str, Any]]:
    """An agent's message that is exactly ``/code`` becomes that canned reply."""
    if body.startswith("/") and SHORTCODE_RE.match(body[1:].lower()):
        reply = find_canned_reply(session, body[1:])
        if reply is not None:
            return reply.body, {"canned": reply.shortcode}
    return body, {}


def send_message(session: Session | scoped_session[Session], actor: Actor, conversation_id: Any, client_id: Any,
                 body: Any, now: datetime, writer: LazyTransaction | None = None) -> Sent:
    """Store a text message once per ``client_id``.

    ``session`` may be the context's ``db.session``, made only when a read needs it; given
    ``writer``, a message whose session has begun nothing is written on the writer's transaction.
    The conversation is checked inside the UPDATE that allocates the seq (access, open, and for
    an agent: theirs), so the common case is two statements. Only a refusal loads the
    conversation, to say why. A repeated ``client_id`` hits the unique constraint on insert
    (``IntegrityError``: the edge rolls back and answers with the original); a resend after the
    chat closed gets its original too.
    """
    client_id = clean_client_id(client_id)
    text = clean_text(body)
    queries.check_id(conversation_id)
    data: dict[str, Any] = {}
    guard: dict[str, Any]
    if isinstance(actor, Agent):
        text, data = _expand_canned(session, text)
        references = _references_in_chat(session, conversation_id, text)
        guard = {"guard": "agent", "p_agent": actor.id}
    else:
        references = booking_references(session, actor.practice_id, text)
        guard = {"guard": "practice_admin" if actor.is_admin else "practice", "p_practice": actor.practice_id}
        if not actor.is_admin:
            guard["p_requester"] = actor.user_id
    if references:
        data["booking_references"] = references
    stored = _store(session, conversation_id, now, kind="text", author=author_of(actor), body=text, data=data,
                    client_id=client_id, writer=writer, **guard)
    if stored is not None:
        return Sent(stored[0], True, stored[1])
    conversation = queries.conversation_for(session, actor, conversation_id)  # not found: 404
    if conversation.status == "closed":
        repeat = _repeat(session, conversation, client_id)
        if repeat is not None:
            return Sent(repeat, False, conversation.status)
    _writable(conversation, actor)
    raise Conflict("conflict", "the conversation changed while the message was sent; send it again")


def share_article(session: Session, agent: Agent, conversation: Conversation, article_id: Any, client_id: Any,
                  now: datetime) -> Sent:
    client_id = clean_client_id(client_id)
    queries.whole_number(article_id, "article_id", low=1)
    repeat = _repeat(session, conversation, client_id)
    if repeat is not None:
        return Sent(repeat, False, conversation.status)
    _writable(conversation, agent)
    card = queries.article_card(session, article_id)
    if card is None:
        raise NotFound("not_found", "no published article with that id")
    return Sent(_append(session, conversation, now, kind="article", author=author_of(agent), body=card["title"],
                        data={"article": card}, client_id=client_id), True, conversation.status)


def _writable(conversation: Conversation, actor: Actor) -> None:
    if conversation.status == "closed":
        raise Conflict("conversation_closed", "this conversation is closed")
    if isinstance(actor, Agent) and conversation.agent_id != actor.id:
        raise Forbidden("not_your_conversation",
                       "accept this conversation (or have it transferred to you) before writing in it")


def mark_read(session: Session, actor: Actor, conversation: Conversation, seq: Any) -> int:
    queries.whole_number(seq, "seq")
    seq = min(seq, conversation.last_seq)
    if isinstance(actor, Agent):
        conversation.agent_read_seq = max(conversation.agent_read_seq, seq)
        return conversation.agent_read_seq
    conversation.practice_read_seq = max(conversation.practice_read_seq, seq)
    return conversation.practice_read_seq


# --- the conversation's life ------------------------------------------------------------------

def start_conversation(session: Session, user: PracticeUser, now: datetime, body: Any = None,
                       client_id: Any = None) -> Outcome:
    """Open a chat for ``user`` (or hand back the one already open), optionally with a first message.

    With no agent online the chat is not opened: ``no_agent_online`` tells the widget to offer
    leaving a message instead.
    """
    text = clean_text(body, required=False) if body is not None else ""
    if text:
        client_id = clean_client_id(client_id)
    open_one = queries.open_conversation_for(session, user)
    if open_one is not None:
        outcome = Outcome(open_one, created=False)
        if text:
            outcome.messages = [send_message(session, user, open_one.id, client_id, text, now)[0]]
            session.refresh(open_one)
        return outcome
    if queries.agents_online(session, now) == 0 and not _assistant_takes_offline(session):
        raise Conflict("no_agent_online", "no agent is online right now: leave a message and we will reply by email")
    conversation = Conversation(practice_id=user.practice_id, requester_id=user.user_id,
                                requester_name=user.name[:200], requester_email=user.email[:320],
                                status="waiting", created_at=now, last_seq=0)
    session.add(conversation)
    session.flush()
    outcome = Outcome(conversation, queue_changed=True)
    outcome.messages.append(system_message(session, conversation, now, "started",
                                           f"{user.name or 'The practice'} started the chat."))
    if text:
        outcome.messages.append(send_message(session, user, conversation.id, client_id, text, now)[0])
        session.refresh(conversation)
    return outcome


def _assistant_takes_offline(session: Session) -> bool:
    from chat.assistant.service import takes_offline_chats

    return takes_offline_chats(session)


def accept(session: Session, agent: Agent, conversation: Conversation | None, now: datetime) -> Outcome:
    """Take a waiting chat: the one given, or (none given) the longest waiting one."""
    if conversation is None:
        conversation = queries.oldest_waiting(session)
        if conversation is None:
            raise NotFound("queue_empty", "no conversation is waiting")
    if conversation.status != "waiting":
        if conversation.agent_id == agent.id and conversation.status == "active":
            return Outcome(conversation, created=False)
        raise Conflict("not_waiting", f"this conversation is {conversation.status}"
                       + (f" with {conversation.agent.name}" if conversation.agent and conversation.status == "active" else ""))
    _check_capacity(session, agent)
    conversation.status = "active"
    conversation.agent_id = agent.id
    conversation.agent = agent
    conversation.accepted_at = now
    conversation.first_response_seconds = elapsed_seconds(conversation.created_at, now)
    message = system_message(session, conversation, now, "joined", f"{agent.name} joined the chat.",
                             agent={"id": agent.id, "name": agent.name})
    return Outcome(conversation, [message], queue_changed=True)


def _check_capacity(session: Session, agent: Agent) -> None:
    status = session.get(AgentStatus, agent.id)
    capacity = status.capacity if status else queries.DEFAULT_CAPACITY
    if queries.active_count(session, agent.id) >= capacity:
        raise Conflict("at_capacity", f"you already have {capacity} active chats (your capacity)")


def transfer(session: Session, agent: Agent, conversation: Conversation, to_agent_id: Any, now: datetime) -> Outcome:
    queries.whole_number(to_agent_id, "agent_id", low=1)
    if conversation.status != "active":
        raise Conflict("not_active", "only an active conversation can be transferred")
    if conversation.agent_id != agent.id and agent.role != "admin":
        raise Forbidden("not_your_conversation", "only the agent in the chat (or an admin) can transfer it")
    target = session.get(Agent, to_agent_id)
    if target is None or not target.is_active:
        raise NotFound("not_found", "no active agent with that id")
    if target.id == conversation.agent_id:
        raise Conflict("same_agent", "the conversation is already with that agent")
    _check_capacity(session, target)
    previous = conversation.agent_id
    conversation.agent_id = target.id
    conversation.agent = target
    conversation.agent_read_seq = 0
    message = system_message(session, conversation, now, "transferred",
                             f"{agent.name} transferred the chat to {target.name}.",
                             agent={"id": target.id, "name": target.name}, by={"id": agent.id, "name": agent.name})
    return Outcome(conversation, [message], previous_agent_id=previous)


def close(session: Session, actor: Actor, conversation: Conversation, now: datetime) -> Outcome:
    if conversation.status == "closed":
        return Outcome(conversation, created=False)
    if isinstance(actor, Agent) and conversation.status == "active" and conversation.agent_id != actor.id \
            and actor.role != "admin":
        raise Forbidden("not_your_conversation", "only the agent in the chat (or an admin) can close it")
    was_waiting = conversation.status == "waiting"
    who = actor.name if isinstance(actor, Agent) else (actor.name or "The practice")
    message = system_message(session, conversation, now, "closed", f"{who} ended the chat.")
    conversation.status = "closed"
    conversation.closed_at = now
    conversation.closed_by = "agent" if isinstance(actor, Agent) else "practice"
    if conversation.accepted_at is not None:
        conversation.resolution_seconds = elapsed_seconds(conversation.created_at, now)
    session.flush()
    conversation.transcript = queries.transcript_text(session, conversation)
    return Outcome(conversation, [message], queue_changed=was_waiting)


def rate(session: Session, user: PracticeUser, conversation: Conversation, rating: Any, comment: Any,
         now: datetime) -> Conversation:
    if conversation.status != "closed":
        raise Conflict("not_closed", "a chat can be rated once it has ended")
    queries.whole_number(rating, "rating", low=1, high=5)
    conversation.rating = rating
    conversation.rating_comment = clean_text(comment, "comment", COMMENT_MAX, required=False) or None
    conversation.rated_at = now
    return conversation


# --- transcript email and requests -------------------------------------------------------------

def email_transcript(session: Session, actor: Actor, conversation: Conversation, now: datetime) -> str:
    """Queue the transcript to the practice user who chatted (an agent sends it to them too)."""
    if conversation.status != "closed" or not conversation.transcript:
        raise Conflict("not_closed", "the transcript is ready once the chat has ended")
    to = conversation.requester_email
    if not to:
        raise InvalidInput("no_email", "we have no email address for this practice user")
    from helpdesk.outbox.service import enqueue_email

    # Once per chat: asking again (a double click, a second tab) queues nothing more.
    enqueue_email(session, to, f"Your chat with Practice Helpdesk (#{conversation.id})", "chat/email/transcript",
                  {"conversation": conversation, "transcript": conversation.transcript},
                  dedupe_key=f"chat-transcript:{conversation.id}")
    return to


def leave_message(session: Session, user: PracticeUser, subject: Any, body: Any, email: Any, reference: Any,
                  now: datetime) -> int:
    """No agent online: the message becomes a request (``helpdesk.requests``), answered by email.

    At most ``LEAVE_MESSAGE_LIMIT`` per user in ``LEAVE_MESSAGE_WINDOW`` (counted on the stored requests).
    """
    from helpdesk.requests.models import Request

    recent = session.scalar(select(func.count()).select_from(Request).where(
        Request.practice_id == user.practice_id, Request.requester_user_id == user.user_id,
        Request.created_at >= now - LEAVE_MESSAGE_WINDOW))
    if (recent or 0) >= LEAVE_MESSAGE_LIMIT:
        raise RateLimited("rate_limited", "you have sent several messages just now; we will answer them by email")
    from helpdesk.requests.service import Requester, Submission, submit_request

    requester = Requester.for_practice_user(user, email if isinstance(email, str) else "")
    submission = Submission(subject=subject if isinstance(subject, str) else "", description=body,
                            booking_reference=reference if isinstance(reference, str) else "")
    return submit_request(session, requester, submission, "widget", now).id


def to_request(session: Session, agent: Agent, conversation: Conversation, now: datetime) -> Outcome:
    """Turn the chat into a request assigned to ``agent`` (see ``request_from_chat``)."""
    from helpdesk.requests.service import update_request

    if conversation.request_id is not None:
        return Outcome(conversation, created=False)
    if not conversation.requester_email:
        raise InvalidInput("no_email", "the practice user has no email address, so a request cannot follow up")
    req = request_from_chat(session, conversation, now)
    update_request(session, req, agent, now, assignee_id=agent.id)
    message = system_message(session, conversation, now, "request", f"{agent.name} turned this chat into request #{req.id}.",
                             request_id=req.id)
    return Outcome(conversation, [message])


def request_from_chat(session: Session, conversation: Conversation, now: datetime,
                      booking_reference: str = "") -> Request:
    """A request from the chat, in the practice user's name: its description is what the practice
    wrote (never an agent's or the assistant's lines), its booking the last one the practice named.
    The whole chat stays the chat's record: the request's pages show it as its transcript
    (``queries.request_transcript``), linked by ``Conversation.request_id``."""
    from helpdesk.requests.service import BODY_MAX as REQUEST_BODY_MAX
    from helpdesk.requests.service import Requester, Submission, submit_request

    user = PracticeUser(conversation.requester_id, conversation.practice_id, conversation.requester_name,
                        conversation.requester_email)
    session.flush()
    written = queries.practice_texts(session, conversation)
    first = written[0].body[:140] if written else ""
    named = [r for m in written for r in m.data.get("booking_references", [])]
    subject = f"Chat #{conversation.id}: {first}" if first else f"Chat #{conversation.id} with {user.name or user.practice_id}"
    description = "\n\n".join(m.body for m in written) or f"Chat #{conversation.id}: see the chat transcript."
    submission = Submission(subject=subject[:200], description=description[:REQUEST_BODY_MAX],
                            booking_reference=booking_reference or (named[-1] if named else ""))
    req = submit_request(session, Requester.for_practice_user(user), submission, "widget", now)
    conversation.request_id = req.id
    return req


# --- agents: presence, connections, canned replies --------------------------------------------

def set_presence(session: Session, agent: Agent, presence: Any, capacity: Any, now: datetime) -> AgentStatus:
    if presence is not None and presence not in PRESENCES:
        raise InvalidInput("invalid_field", f"presence must be one of {', '.join(PRESENCES)}", field="presence")
    if capacity is not None:
        queries.whole_number(capacity, "capacity", low=1, high=CAPACITY_MAX)
    status = session.get(AgentStatus, agent.id)
    if status is None:
        status = AgentStatus(agent_id=agent.id, presence="offline", capacity=queries.DEFAULT_CAPACITY, updated_at=now)
        session.add(status)
    if presence is not None:
        status.presence = presence
    if capacity is not None:
        status.capacity = capacity
    status.updated_at = now
    return status


def connection_opened(session: Session, agent_id: int, sid: str, node: str, now: datetime) -> None:
    session.merge(AgentConnection(sid=sid, node=node, agent_id=agent_id, connected_at=now, seen_at=now))


def connection_closed(session: Session, sid: str, now: datetime) -> None:
    """Kept as closed, not deleted: it vouches for the agent through ``queries.RECONNECT_GRACE``."""
    session.execute(update(AgentConnection).where(AgentConnection.sid == sid).values(closed_at=now))


def connections_seen(session: Session, node: str, now: datetime, stale_after: timedelta, grace: timedelta) -> None:
    """This process still holds its open connections; forget any that nobody has vouched for
    lately, and closed ones past their grace."""
    session.execute(update(AgentConnection).where(AgentConnection.node == node, AgentConnection.closed_at.is_(None))
                    .values(seen_at=now))
    session.execute(delete(AgentConnection).where(or_(AgentConnection.seen_at < now - stale_after,
                                                      AgentConnection.closed_at < now - grace)))
