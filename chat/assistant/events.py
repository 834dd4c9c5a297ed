"""Socket.IO for the answer desk, on ``/chat``: the assistant's answers (ordinary ``message``
events, ``author.type = "assistant"``) and the practice's ``handoff`` event.

Like every handler in ``chat.events``: call the service, commit, then emit.
"""

from __future__ import annotations

import logging
from typing import Any

from chat import queries
from chat.assistant import service
from chat.events import Announcements, Client, _conversation, on, user_room
from chat.models import Conversation
from helpdesk.core import db
from helpdesk.core.clock import utcnow

log = logging.getLogger(__name__)


def _announce(reply: service.Reply) -> None:
    session = db.session()
    announce = Announcements()
    announce.messages(reply.messages)
    if reply.handed_off:
        announce.conversation(session, reply.conversation)
        announce.queue(session)
    announce.commit_and_send()


def after_practice_message(client: Client, message: dict[str, Any]) -> None:
    """A practice user's message is stored and sent: the assistant answers it (if it should).

    Never fails the practice's own send: a problem here is logged and the chat goes on.
    """
    try:
        session = db.session()
        conversation = session.get(Conversation, message["conversation_id"])
        if conversation is None or conversation.status != "waiting":
            db.session.rollback()
            return
        reply = service.answer_message(session, conversation, message["body"], utcnow())
        if not reply.messages:
            db.session.rollback()
            return
        _announce(reply)
    except Exception:
        db.session.rollback()
        log.exception("the assistant could not answer in conversation %s", message.get("conversation_id"))


def after_start(client: Client, conversation_id: int, messages: list[dict[str, Any]]) -> None:
    """A chat was opened: answer its first message, or greet."""
    first = next((m for m in messages if m["author"]["type"] == "practice"), None)
    if first is not None:
        after_practice_message(client, first)
        return
    try:
        session = db.session()
        conversation = session.get(Conversation, conversation_id)
        if conversation is None:
            return
        reply = service.greet(session, conversation, utcnow())
        if reply.messages:
            _announce(reply)
        else:
            db.session.rollback()
    except Exception:
        db.session.rollback()
        log.exception("the assistant could not greet in conversation %s", conversation_id)


@on("handoff", practice_only=True)
def handoff(client: Client, data: dict[str, Any]) -> dict[str, Any]:
    """The practice asks for a person."""
    assert client.user is not None
    session = db.session()
    conversation = _conversation(client, data)
    reply = service.handoff(session, conversation, "asked_for_person", utcnow())
    view = queries.practice_view(session, conversation, utcnow())
    payloads = [queries.message_payload(m) for m in reply.messages]
    if reply.messages:
        announce = Announcements()
        announce.messages(reply.messages)
        announce.add("conversation", view, user_room(client.user))
        announce.conversation(session, conversation)
        announce.queue(session)
        announce.commit_and_send()
    else:
        db.session.rollback()
    return {"conversation": view, "messages": payloads, "request_id": reply.request_id}
