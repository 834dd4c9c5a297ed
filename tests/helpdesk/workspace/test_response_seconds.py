"""Response and resolution seconds are stored by the verbs that make them happen, the migration
backfills them for older rows, and the response report adds them up."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from alembic import command
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from chat import service as chat
from helpdesk.core.agents import NewAgent
from helpdesk.core.auth import PracticeUser
from helpdesk.core.cli import alembic_config
from helpdesk.core.clock import utcnow
from helpdesk.requests import service as requests

USER = PracticeUser(user_id="u-1", practice_id="P1", name="Pat Staff", email="pat@p.test")


def online(session: Session, agent: NewAgent, now: datetime) -> None:
    chat.set_presence(session, agent.agent, "online", None, now)
    chat.connection_opened(session, agent.agent.id, "sid-1", "node-1", now)


def test_a_chat_stores_its_first_response_and_resolution(db_session: Session, agent: NewAgent, app_context: None) -> None:
    start = utcnow() - timedelta(hours=2)
    online(db_session, agent, start)
    conversation = chat.start_conversation(db_session, USER, start, "Is BK-1 in the diary?", "c-1").conversation
    assert conversation.first_response_seconds is None
    chat.accept(db_session, agent.agent, conversation, start + timedelta(minutes=3, seconds=20))
    assert conversation.first_response_seconds == 200 and conversation.resolution_seconds is None
    chat.close(db_session, USER, conversation, start + timedelta(minutes=25))
    assert conversation.resolution_seconds == 1500


def test_a_chat_ended_before_anyone_accepted_it_has_no_resolution(db_session: Session, agent: NewAgent,
                                                                   app_context: None) -> None:
    start = utcnow() - timedelta(hours=2)
    online(db_session, agent, start)
    conversation = chat.start_conversation(db_session, USER, start).conversation
    chat.close(db_session, USER, conversation, start + timedelta(minutes=5))
    assert (conversation.first_response_seconds, conversation.resolution_seconds) == (None, None)


def test_a_request_stores_its_first_reply_and_resolution(db_session: Session, agent: NewAgent, app_context: None,
                                                         client: FlaskClient, agent_headers: dict[str, str]) -> None:
    start = utcnow() - timedelta(hours=30)
    req = requests.submit_request(db_session, requests.Requester(email="pat@p.test"),
                                  requests.Submission("Diary", "BK-1 is not in the diary"), "web", start)
    requests.add_comment(db_session, req, agent.agent, "An internal note", public=False, now=start + timedelta(minutes=5))
    assert req.first_reply_seconds is None  # a note is no reply
    requests.add_comment(db_session, req, agent.agent, "Looking now", now=start + timedelta(hours=9))
    requests.add_comment(db_session, req, agent.agent, "Found it", now=start + timedelta(hours=10))
    assert req.first_reply_seconds == 9 * 3600
    requests.update_request(db_session, req, agent.agent, start + timedelta(hours=12), status="solved")
    assert req.resolution_seconds == 12 * 3600
    requests.add_comment(db_session, req, requests.Requester(email="pat@p.test"), "Not fixed",
                         now=start + timedelta(hours=13))
    assert req.status == "open" and req.resolution_seconds is None  # reopened: not resolved any more
    requests.update_request(db_session, req, agent.agent, start + timedelta(hours=20), status="solved")
    db_session.commit()

    day = start.date().isoformat()
    body = client.get("/api/v1/reports/response", headers=agent_headers,
                      query_string={"from": day, "to": utcnow().date().isoformat(), "tz": "UTC"}).get_json()
    times = {row[0]: row[1:] for row in body["tables"]["times"]["rows"]}
    assert times["request first reply"] == [1, 540.0, 540.0] and times["request resolution"] == [1, 1200.0, 1200.0]
    assert {row[0]: row[3] for row in body["tables"]["sla"]["rows"]}["normal"] == 1  # 9 hours against 8 allowed


def test_the_migration_backfills_older_rows(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'backfill.db'}"
    cfg = alembic_config(url)
    command.upgrade(cfg, "0010")
    engine = create_engine(url)
    created = datetime(2026, 3, 2, 9, 0)  # stored naive UTC, as the columns keep it
    try:
        with engine.begin() as conn:
            conn.execute(text(
                "INSERT INTO chat_conversations (practice_id, requester_id, requester_name, requester_email, status,"
                " created_at, accepted_at, closed_at, last_seq, practice_read_seq, agent_read_seq) VALUES"
                " ('P1', 'u1', '', '', 'closed', :c, :a, :d, 0, 0, 0), ('P1', 'u2', '', '', 'closed', :c, NULL, :d, 0, 0, 0)"),
                {"c": created, "a": created + timedelta(seconds=95.6), "d": created + timedelta(minutes=30)})
            conn.execute(text(
                "INSERT INTO requests (subject, status, priority, channel, requester_email, requester_name, created_at,"
                " updated_at, first_replied_at, solved_at) VALUES"
                " ('a', 'solved', 'normal', 'web', 'a@p.test', '', :c, :c, :r, :s),"
                " ('b', 'open', 'normal', 'web', 'b@p.test', '', :c, :c, NULL, NULL)"),
                {"c": created, "r": created + timedelta(hours=2), "s": created + timedelta(days=1)})
        command.upgrade(cfg, "head")
        with engine.connect() as conn:
            chats = conn.execute(text("SELECT first_response_seconds, resolution_seconds FROM chat_conversations"
                                      " ORDER BY id")).all()
            reqs = conn.execute(text("SELECT first_reply_seconds, resolution_seconds FROM requests ORDER BY id")).all()
        assert [tuple(r) for r in chats] == [(96, 1800), (None, None)]  # never accepted: no response, no resolution
        assert [tuple(r) for r in reqs] == [(7200, 86400), (None, None)]
        command.downgrade(cfg, "0010")
    finally:
        engine.dispose()
