"""HTTP: the widget's one box (``POST /api/v1/me/assistant/ask``), the agents' settings and
outcome rates; bad input gets a 4xx with ``{"error": {"code", "message"}}``."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from chat.assistant import service
from helpdesk.core.agents import create_agent
from helpdesk.core.auth import mint_widget_token
from helpdesk.core.clock import advance
from tests.chat.assistant import world
from tests.chat.assistant.conftest import open_chat

ASK = "/api/v1/me/assistant/ask"


def practice(app: Flask, practice_id: str = world.RIVERSIDE) -> dict[str, str]:
    with app.app_context():
        return {"Authorization": f"Bearer {mint_widget_token(practice_id, 'u-1', 'Pat Staff', 'pat@p.test')}"}


@pytest.fixture
def agent_headers(small_world: Session) -> dict[str, str]:
    created = create_agent(small_world, "ada@helpdesk.test", "Ada Agent")
    small_world.commit()
    return {"Authorization": f"Bearer {created.token}"}


def test_the_widget_box_answers_a_reference_a_name_and_a_question(app: Flask, client: FlaskClient,
                                                                  small_world: Session) -> None:
    headers = practice(app)
    got = client.post(ASK, json={"text": "RVD-CDSSKSX"}, headers=headers)
    assert got.status_code == 200, got.get_json()
    body = got.get_json()
    assert set(body) == {"answer", "data"}
    assert {"reference", "received_ways", "causes", "articles", "choices", "handoff"} <= set(body["data"])
    assert body["data"]["reference"] == "RVD-CDSSKSX" and "collision" in body["answer"]
    assert client.post(ASK, json={"text": "Grace Cooper 29 Dec"}, headers=headers).get_json()["data"]["reference"] \
        == "RVD-CDSSKSX"
    alerts = client.post(ASK, json={"text": "collision alerts not coming"}, headers=headers).get_json()
    assert alerts["data"]["kind"] == "alert_emails" and alerts["data"]["articles"]


def test_the_box_is_scoped_to_the_tokens_practice(app: Flask, client: FlaskClient, small_world: Session) -> None:
    body = client.post(ASK, json={"text": "RVD-CDSSKSX"}, headers=practice(app, world.OTHER)).get_json()
    assert body["data"]["reference"] is None and "Cooper" not in str(body)


@pytest.mark.parametrize(("payload", "kwargs", "status", "code"), [
    (None, {"data": "text=hi"}, 415, "json_required"),
    ([], {}, 400, "invalid_json"),
    ({}, {}, 422, "missing_field"),
    ({"text": 5}, {}, 422, "invalid_field"),
    ({"text": "   "}, {}, 422, "missing_field"),
    ({"text": "x" * 2001}, {}, 413, "too_long"),
])
def test_bad_input_is_refused(app: Flask, client: FlaskClient, small_world: Session, payload: Any,
                              kwargs: dict[str, Any], status: int, code: str) -> None:
    if payload is None:
        got = client.post(ASK, headers={**practice(app), "Content-Type": "text/plain"}, **kwargs)
    else:
        got = client.post(ASK, json=payload, headers=practice(app))
    assert (got.status_code, got.get_json()["error"]["code"]) == (status, code), got.get_json()


def test_the_box_needs_a_practice_token(client: FlaskClient, small_world: Session,
                                        agent_headers: dict[str, str]) -> None:
    assert client.post(ASK, json={"text": "hi"}).status_code == 401
    assert client.post(ASK, json={"text": "hi"}, headers=agent_headers).status_code == 401


def test_agents_read_and_change_the_settings(app: Flask, client: FlaskClient, small_world: Session,
                                             agent_headers: dict[str, str]) -> None:
    got = client.get("/api/v1/assistant/settings", headers=agent_headers).get_json()
    assert got["enabled"] is False and "how_to" in got["available_kinds"]
    changed = client.put("/api/v1/assistant/settings", headers=agent_headers,
                         json={"enabled": True, "greeting": "Hi there", "kinds": ["diary_missing"]})
    assert changed.status_code == 200, changed.get_json()
    assert client.get("/api/v1/assistant/settings", headers=agent_headers).get_json()["kinds"] == ["diary_missing"]
    bad = client.put("/api/v1/assistant/settings", headers=agent_headers, json={"kinds": "all"})
    assert (bad.status_code, bad.get_json()["error"]["code"]) == (422, "invalid_field")
    assert client.put("/api/v1/assistant/settings", json={"enabled": False}, headers=practice(app)).status_code == 401


def test_agents_see_outcome_rates_over_time(client: FlaskClient, small_world: Session,
                                            agent_headers: dict[str, str]) -> None:
    small_world.add(service.settings(small_world))
    service.settings(small_world).enabled = True
    first, second = open_chat(small_world), open_chat(small_world)
    service.answer_message(small_world, first, "RVD-CDSSKSX not in diary", world.NOW)
    service.answer_message(small_world, second, "talk to a person please", world.NOW)
    small_world.commit()
    advance(timedelta(days=2))  # the first was left, without asking for a person, for over 24 h
    got = client.get("/api/v1/assistant/outcomes?from=2026-12-01&to=2026-12-31&tz=Europe/London",
                     headers=agent_headers)
    assert got.status_code == 200, got.get_json()
    body = got.get_json()
    assert body["totals"]["chats"] == 2
    assert body["totals"]["counts"]["resolved_left"] == 1 and body["totals"]["counts"]["handed_off"] == 1
    assert body["totals"]["handoff_reasons"]["asked_for_person"] == 1
    assert body["totals"]["resolved_rate"] == 0.5
    assert [d["date"] for d in body["days"]] == ["2026-12-28"]
    bad = client.get("/api/v1/assistant/outcomes?tz=Mars/Base", headers=agent_headers)
    assert (bad.status_code, bad.get_json()["error"]["code"]) == (400, "invalid_parameter")
