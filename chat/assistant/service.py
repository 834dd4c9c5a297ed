"""Verbs of the answer desk: answer a practice's message in a chat, hand off, record outcomes,
change the settings. They take the session and the time explicitly and never commit (the edge,
``chat.assistant.events`` / ``chat.assistant.api``, commits and then emits).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from chat import queries as chat_queries
from chat import service as chat_service
from chat.assistant.answer import Answer, compose, practice_timezone
from chat.assistant.models import (
    ANSWERABLE_KINDS,
    DEFAULT_GREETING,
    HANDOFF_REASONS,
    AssistantSettings,
    ChatOutcome,
)
from chat.assistant.understand import ReferenceMatch, understand
from chat.models import Conversation, Message
from helpdesk.core.agents import Agent
from helpdesk.core.errors import Conflict, InvalidInput

AUTHOR = ("assistant", None, "Helpdesk assistant")
LEFT_AFTER = timedelta(hours=24)  # answered, and no person asked for within this: resolved
CAME_BACK_WITHIN = timedelta(days=7)
GREETING_MAX = 500
REASON_TEXTS = {
    "asked_for_person": "the practice asked for a person",
    "unhappy": "the practice is unhappy",
    "cannot_answer": "the assistant could not answer",
    "escalate_alert_not_sent": "the diagnosis says escalate: no alert email went out although the settings allow it",
    "open_incident": "an incident is open for this practice",
    "kind_not_answered": "the assistant is set not to answer this kind of question",
}


@dataclass
class Reply:
    """What the assistant did in a conversation, for the edge to announce after it commits."""

    conversation: Conversation
    messages: list[Message] = field(default_factory=list)
    handed_off: bool = False
    request_id: int | None = None


# --- settings ------------------------------------------------------------------------------------

def settings(session: Session) -> AssistantSettings:
    """The settings row, or (none stored yet) the defaults, not added to the session."""
    row = session.get(AssistantSettings, 1)
    if row is None:
        row = AssistantSettings(id=1, enabled=False, offline_chats=False, greeting=DEFAULT_GREETING,
                                kinds=list(ANSWERABLE_KINDS))
    return row


def settings_payload(row: AssistantSettings) -> dict[str, Any]:
    return {"enabled": bool(row.enabled), "offline_chats": bool(row.offline_chats), "greeting": row.greeting,
            "kinds": list(row.kinds or []), "available_kinds": list(ANSWERABLE_KINDS),
            "updated_at": row.updated_at.isoformat() if row.updated_at else None}


def update_settings(session: Session, agent: Agent, changes: dict[str, Any], now: datetime) -> AssistantSettings:
    """Validate every field first, then write (nothing is stored half)."""
    unknown = set(changes) - {"enabled", "offline_chats", "greeting", "kinds"}
    if unknown:
        first = min(unknown)
        raise InvalidInput("unknown_field", f"unknown field {first}", field=first)
    for name in ("enabled", "offline_chats"):
        if name in changes and not isinstance(changes[name], bool):
            raise InvalidInput("invalid_field", f"{name} must be true or false", field=name)
    greeting = None
    if "greeting" in changes:
        greeting = chat_service.clean_text(changes["greeting"], "greeting", GREETING_MAX)
    kinds = None
    if "kinds" in changes:
        value = changes["kinds"]
        if not isinstance(value, list) or not all(isinstance(k, str) for k in value) \
                or set(value) - set(ANSWERABLE_KINDS):
            raise InvalidInput("invalid_field", f"kinds must be a list of: {', '.join(ANSWERABLE_KINDS)}",
                               field="kinds")
        kinds = [k for k in ANSWERABLE_KINDS if k in value]
    row = session.get(AssistantSettings, 1)
    if row is None:
        row = settings(session)
        session.add(row)
    for name in ("enabled", "offline_chats"):
        if name in changes:
            setattr(row, name, changes[name])
    if greeting is not None:
        row.greeting = greeting
    if kinds is not None:
        row.kinds = kinds
    row.updated_at = now
    row.updated_by = agent.id
    return row


def takes_offline_chats(session: Session) -> bool:
    row = settings(session)
    return bool(row.enabled and row.offline_chats)


# --- answering in a chat -------------------------------------------------------------------------

def _outcome(session: Session, conversation: Conversation, now: datetime) -> ChatOutcome:
    row = session.get(ChatOutcome, conversation.id)
    if row is None:
        row = ChatOutcome(conversation_id=conversation.id, practice_id=conversation.practice_id, outcome="answered",
                          answers=0, came_back=False, started_at=now, last_answer_at=now)
        session.add(row)
    return row


def _post(session: Session, conversation: Conversation, now: datetime, text: str, data: dict[str, Any]) -> Message:
    return chat_service._append(session, conversation, now, kind="text", author=AUTHOR, body=text, data=data)


def greet(session: Session, conversation: Conversation, now: datetime) -> Reply:
    row = settings(session)
    reply = Reply(conversation)
    if not row.enabled or conversation.status != "waiting":
        return reply
    _outcome(session, conversation, now)
    reply.messages.append(_post(session, conversation, now, row.greeting,
                                Answer(row.greeting).data()))
    return reply


def answer_message(session: Session, conversation: Conversation, text: str, now: datetime) -> Reply:
    """A practice user wrote in ``conversation``: answer, if the assistant is on, no agent has
    taken the chat and it has not handed off already."""
    row = settings(session)
    reply = Reply(conversation)
    if not row.enabled or conversation.status != "waiting":
        return reply
    outcome = session.get(ChatOutcome, conversation.id)
    if outcome is not None and outcome.outcome == "handed_off":
        return reply
    u = understand(session, conversation.practice_id, text, now, practice_timezone(session, conversation.practice_id))
    if outcome is not None and outcome.reference and not (u.references or u.patient_matches or u.unknown_references) \
            and not u.confirmed and u.kind not in (None, "how_to"):
        # a follow-up ("and who got the alert?") is about the booking this chat is about
        u.references = [ReferenceMatch(outcome.reference, outcome.reference, "context")]
    answer = compose(session, conversation.practice_id, u, now, practice_timezone(session, conversation.practice_id))
    if answer.handoff is None and u.kind in ANSWERABLE_KINDS and u.kind not in (row.kinds or []):
        answer = Answer("I will pass this question to a person from our support team.", kind=u.kind,
                        handoff={"reason": "kind_not_answered"})
    if answer.handoff is None and (answer.reference or u.kind in ("diary_missing", "connector")) \
            and open_incident(session, conversation.practice_id) is not None:
        answer.handoff = {"reason": "open_incident"}
        answer.text += (" There is an open incident affecting your practice right now, so I am also passing "
                        "you to a person from our support team.")
    if answer.handoff is None and answer.unsure and _was_unsure(session, conversation):
        answer.handoff = {"reason": "cannot_answer"}
        answer.text += " I am also passing you to a person from our support team."
    outcome = _outcome(session, conversation, now)
    outcome.answers += 1
    outcome.last_answer_at = now
    outcome.kind = answer.kind or outcome.kind
    if answer.reference and outcome.reference is None:
        outcome.reference = answer.reference
        _mark_came_back(session, conversation, answer.reference, now)
    if u.confirmed and outcome.outcome == "answered" and outcome.answers > 1:
        outcome.outcome = "resolved_confirmed"
        outcome.ended_at = now
    data = {**answer.data(), "unsure": answer.unsure}
    reply.messages.append(_post(session, conversation, now, answer.text, data))
    if answer.handoff is not None:
        more = handoff(session, conversation, answer.handoff["reason"], now)
        reply.messages += more.messages
        reply.handed_off, reply.request_id = more.handed_off, more.request_id
    return reply


def open_incident(session: Session, practice_id: str) -> int | None:
    """The id of an open incident that includes the practice (``helpdesk.bookings`` incidents)."""
    from helpdesk.bookings.models import Incident, IncidentPractice

    return session.scalar(select(Incident.id).join(IncidentPractice, IncidentPractice.incident_id == Incident.id)
                          .where(IncidentPractice.practice_id == practice_id, Incident.state == "open").limit(1))


def _was_unsure(session: Session, conversation: Conversation) -> bool:
    last = session.scalar(select(Message).where(Message.conversation_id == conversation.id,
                                                Message.author_type == "assistant")
                          .order_by(Message.seq.desc()).limit(1))
    return bool(last is not None and (last.data or {}).get("unsure"))


def _mark_came_back(session: Session, conversation: Conversation, reference: str, now: datetime) -> None:
    """The practice asks about a booking it asked about in another chat in the last 7 days."""
    session.execute(update(ChatOutcome).where(
        ChatOutcome.practice_id == conversation.practice_id, ChatOutcome.reference == reference,
        ChatOutcome.conversation_id != conversation.id,
        ChatOutcome.started_at >= now - CAME_BACK_WITHIN).values(came_back=True))


def handoff(session: Session, conversation: Conversation, reason: str, now: datetime) -> Reply:
    """Pass the chat to a person: it waits in the agents' queue with the reason; with no agent
    online it becomes a request carrying the transcript (answered by email)."""
    if reason not in HANDOFF_REASONS:
        raise InvalidInput("invalid_field", "unknown hand-off reason", field="reason")
    reply = Reply(conversation)
    if conversation.status == "closed":
        raise Conflict("conversation_closed", "this conversation is closed")
    outcome = _outcome(session, conversation, now)
    if outcome.outcome == "handed_off" or conversation.status != "waiting":
        return reply  # already with (or on the way to) a person
    outcome.outcome, outcome.handoff_reason, outcome.ended_at = "handed_off", reason, now
    reply.handed_off = True
    reply.messages.append(chat_service.system_message(
        session, conversation, now, "handoff", f"Handed to a person: {REASON_TEXTS[reason]}.",
        reason=reason, reason_text=REASON_TEXTS[reason]))
    if chat_queries.agents_online(session, now) == 0:
        reply.request_id = _to_request(session, conversation, now)
        if reply.request_id is not None:
            reply.messages.append(chat_service.system_message(
                session, conversation, now, "request",
                f"No agent is online right now: this chat is now request #{reply.request_id} and we will "
                "reply by email.", request_id=reply.request_id))
            conversation.status = "closed"
            conversation.closed_at = now
            conversation.closed_by = "practice"
            session.flush()
            conversation.transcript = chat_queries.transcript_text(session, conversation)
    return reply


def _to_request(session: Session, conversation: Conversation, now: datetime) -> int | None:
    if conversation.request_id is not None:
        return conversation.request_id
    if not conversation.requester_email:
        return None  # nobody to answer by email: it stays in the queue for the next agent
    outcome = session.get(ChatOutcome, conversation.id)
    reference = outcome.reference if outcome and outcome.reference else ""
    return chat_service.request_from_chat(session, conversation, now, booking_reference=reference).id


# --- outcomes ------------------------------------------------------------------------------------

def settle(session: Session, now: datetime) -> int:
    """Answered chats where nobody asked for a person within 24 h count as resolved (left)."""
    result = session.execute(update(ChatOutcome).where(
        ChatOutcome.outcome == "answered", ChatOutcome.last_answer_at < now - LEFT_AFTER)
        .values(outcome="resolved_left", ended_at=now)
        .execution_options(synchronize_session=False))
    return int(result.rowcount or 0)
