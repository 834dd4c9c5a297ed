"""Fixtures for the helpdesk domain: a signed ingest poster, an agent with a token, a widget token."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from helpdesk.core.agents import NewAgent, create_agent
from helpdesk.core.auth import mint_widget_token
from tests.helpdesk.factories import signed_post


@pytest.fixture
def ingest(client: FlaskClient, app: Flask) -> Callable[..., Any]:
    """Post events through the real signed endpoint; fails the test unless accepted."""

    def post(*events: dict[str, Any], expect: int = 200) -> Any:
        response = signed_post(client, list(events), app.config["INGEST_SECRET"])
        assert response.status_code == expect, response.get_json()
        return response.get_json()

    return post


@pytest.fixture
def agent(db_session: Session) -> NewAgent:
    created = create_agent(db_session, "ada@helpdesk.test", "Ada Agent")
    db_session.commit()
    return created


@pytest.fixture
def agent_headers(agent: NewAgent) -> dict[str, str]:
    return {"Authorization": f"Bearer {agent.token}"}


@pytest.fixture
def widget_headers(app: Flask) -> Callable[..., dict[str, str]]:
    def headers(practice_id: str = "P1", user_id: str = "u-1", **kw: Any) -> dict[str, str]:
        with app.app_context():
            return {"Authorization": f"Bearer {mint_widget_token(practice_id, user_id, 'Pat Staff', 'pat@p.test', **kw)}"}

    return headers
