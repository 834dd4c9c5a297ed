"""The assistant's share on the agents' reports page (``/api/v1/reports/assistant``)."""

from __future__ import annotations

from datetime import timedelta

from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from chat.assistant.models import ChatOutcome
from helpdesk.core.agents import create_agent
from helpdesk.core.clock import utcnow
from tests.factories import make_conversation, make_practice, practice_user


def test_the_report_counts_how_the_assistants_chats_ended(client: FlaskClient, db_session: Session) -> None:
    practice = make_practice(db_session)
    started = utcnow() - timedelta(days=1)
    ends = [("resolved_confirmed", None), ("resolved_left", None), ("handed_off", "asked_for_person"),
            ("handed_off", "escalate_alert_not_sent")]
    for outcome, reason in ends:
        conversation = make_conversation(db_session, practice_user(practice))
        db_session.add(ChatOutcome(conversation_id=conversation.id, practice_id=practice.id, outcome=outcome,
                                   handoff_reason=reason, started_at=started, came_back=outcome == "resolved_left"))
    token = create_agent(db_session, "reporter@helpdesk.test", "Reporter").token
    db_session.flush()
    day = started.date().isoformat()
    response = client.get(f"/api/v1/reports/assistant?from={day}&to={day}&tz=UTC",
                          headers={"Authorization": f"Bearer {token}"})
    body = response.get_json()
    assert response.status_code == 200, body
    assert body["summary"] == {"chats": 4, "resolved_share": 0.5, "handoff_share": 0.5, "came_back_share": 0.25}
    assert body["tables"]["by_day"]["rows"] == [[day, 4, 50.0, 50.0, 25.0]]
    assert sorted(body["tables"]["handoff_reasons"]["rows"]) == [["asked_for_person", 1], ["escalate_alert_not_sent", 1]]
