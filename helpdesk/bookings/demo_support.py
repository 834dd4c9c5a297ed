"""The demo's support history: a few requests (with replies and a note) and chats (one rated),
about the demo world's own failing bookings, made through the requests and chat verbs at moments
in the last days, so the queue, the counts and the reports have something true to show.

Loaded by ``flask --app wsgi demo load`` after the bookings and the demo agent exist.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from chat import service as chat
from chat.models import Conversation
from helpdesk.bookings.models import Booking
from helpdesk.core.agents import Agent
from helpdesk.core.auth import PracticeUser
from helpdesk.requests import service as requests
from helpdesk.requests.models import Request

LOAD_CONNECTION = "demo-load"  # the demo agent's connection while the demo chats happen


@dataclass(frozen=True)
class SupportReport:
    requests: int
    chats: int


def _staff(practice_id: str, user_id: str, name: str, email: str) -> PracticeUser:
    return PracticeUser(user_id=user_id, practice_id=practice_id, name=name, email=email)


RIVERSIDE = _staff("riverside-dental", "demo-staff-1", "Demo Practice Staff", "staff@practice.example")
MEADOW = _staff("meadow-family-dental", "mfd-reception", "Sana Qureshi", "reception@meadow-family-dental.example")
HARBOUR = _staff("harbour-physio", "hbp-frontdesk", "Ciara Doyle", "frontdesk@harbour-physio.example")


def _newest(session: Session, practice_id: str, diary_status: str, before: datetime) -> str | None:
    """The practice's latest booking in that diary state made before ``before`` (what a practice asks about)."""
    return session.scalar(select(Booking.reference).where(
        Booking.practice_id == practice_id, Booking.diary_status == diary_status, Booking.cancelled_at.is_(None),
        Booking.created_at < before,
    ).order_by(Booking.created_at.desc()).limit(1))


def _requests(session: Session, agent: Agent, now: datetime) -> int:
    def ago(hours: float) -> datetime:
        return now - timedelta(hours=hours)

    collided = _newest(session, RIVERSIDE.practice_id, "collision", ago(30)) or ""
    first = requests.submit_request(session, requests.Requester.for_practice_user(RIVERSIDE), requests.Submission(
        "Patient arrived but the booking is not in our diary",
        f"A patient has a confirmation for {collided or 'a booking'} but we have nobody booked in that slot. "
        "What happened?", booking_reference=collided), "widget", ago(30))
    requests.update_request(session, first, agent, ago(29.5), assignee_id=agent.id, priority="high")
    requests.add_comment(session, first, agent, "The slot was already taken in your diary when the booking arrived "
                         "(a booking collision), and the collision alert went to your practice manager. Please move "
                         "one of the two appointments.", now=ago(29))
    requests.add_comment(session, first, requests.Requester.for_practice_user(RIVERSIDE),
                         "Thanks, we found the alert. Done.", now=ago(27))
    requests.update_request(session, first, agent, ago(26), status="solved")

    bounced = requests.submit_request(session, requests.Requester("hello@oldmill-osteopathy.example", "Felix Hartmann"),
                                      requests.Submission("We stopped getting booking emails",
                                                          "Since about two weeks no booking emails reach us."),
                                      "email", ago(6), practice_id="old-mill-osteopathy")
    requests.update_request(session, bounced, agent, ago(5.5), assignee_id=agent.id)
    requests.add_comment(session, bounced, agent, "Your booking address was changed to helo@ (one l) 18 days ago: "
                         "every email since bounces. Checking with the platform team.", public=False, now=ago(5.4))
    requests.add_comment(session, bounced, agent, "Your booking address is set to helo@oldmill-osteopathy.example, "
                         "which does not exist. Please correct it in the notification settings.", status="pending",
                         now=ago(5))

    requests.submit_request(session, requests.Requester.for_practice_user(MEADOW), requests.Submission(
        "How do we turn collision alerts back on?", "We never hear about collisions any more."), "widget", ago(0.7))
    return 3


def _chats(session: Session, agent: Agent, now: datetime) -> int:
    start = now - timedelta(hours=20)
    rejected = _newest(session, RIVERSIDE.practice_id, "rejected", start) or "a booking"
    def online_at(moment: datetime) -> None:
        """The demo agent is online when a chat starts (a chat needs someone to answer it)."""
        chat.set_presence(session, agent, "online", None, moment)
        chat.connection_opened(session, agent.id, LOAD_CONNECTION, "demo", moment)

    try:
        online_at(start)
        ended = chat.start_conversation(session, RIVERSIDE, start, f"Why was {rejected} rejected?", "demo-1").conversation
        chat.accept(session, agent, ended, start + timedelta(seconds=40))
        chat.send_message(session, agent, ended.id, "demo-2", "Your practice software refused it: the appointment "
                          "type is not mapped there. Please enter it by hand.", start + timedelta(minutes=2))
        chat.send_message(session, RIVERSIDE, ended.id, "demo-3", "Done, thank you!", start + timedelta(minutes=6))
        chat.close(session, agent, ended, start + timedelta(minutes=7))
        chat.rate(session, RIVERSIDE, ended, 5, "Quick and clear, thank you", start + timedelta(minutes=8))
        asked = now - timedelta(minutes=12)
        offline = _newest(session, HARBOUR.practice_id, "pending", asked) or "today's bookings"
        online_at(asked)
        chat.start_conversation(session, HARBOUR, asked,
                                f"None of today's bookings are in our diary, e.g. {offline}.", "demo-4")
    finally:
        chat.connection_closed(session, LOAD_CONNECTION, now)
        chat.set_presence(session, agent, "offline", None, now)
    return 2


def load_support(session: Session, agent: Agent, now: datetime) -> SupportReport:
    """Requests and chats of the last days, through the verbs (the caller commits); only into a
    helpdesk that has none yet, so loading the demo again adds nothing."""
    if session.scalar(select(Request.id).limit(1)) is not None or session.scalar(select(Conversation.id).limit(1)):
        return SupportReport(0, 0)
    return SupportReport(_requests(session, agent, now), _chats(session, agent, now))
