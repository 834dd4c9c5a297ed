"""The identity commands: ``agents create|token|list`` and ``widget-token``."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import jwt
import pytest
from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from helpdesk.core.agents import Agent, ApiToken
from helpdesk.core.auth import agent_for_api_token
from helpdesk.core.passwords import verify_password


def agents_named(session: Session, email: str) -> int:
    return session.scalar(select(func.count()).select_from(Agent).where(Agent.email == email)) or 0


def test_create_prints_password_and_token_that_work(cli_runner: FlaskCliRunner, db_session: Session) -> None:
    result = cli_runner.invoke(args=["agents", "create", "Bea@Helpdesk.test", "--name", "Bea Support"])
    assert result.exit_code == 0, result.output
    password = result.output.split("password:")[1].split()[0]
    token = result.output.split("API token:")[1].split()[0]
    assert "Created agent Bea Support <bea@helpdesk.test>" in result.output
    agent = db_session.scalar(select(Agent).where(Agent.email == "bea@helpdesk.test"))
    assert agent is not None and agent.role == "agent"
    assert verify_password(agent.password_hash, password)
    assert agent_for_api_token(token).id == agent.id


def test_create_json_is_one_object(cli_runner: FlaskCliRunner, db_session: Session) -> None:
    result = cli_runner.invoke(args=["agents", "create", "cy@helpdesk.test", "--name", "Cy", "--role", "admin",
                                     "--password", "s3cret-enough", "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert set(payload) == {"email", "password", "token", "name", "role"}
    assert (payload["email"], payload["password"], payload["name"], payload["role"]) == \
        ("cy@helpdesk.test", "s3cret-enough", "Cy", "admin")
    assert payload["token"].startswith("hdt_")


def test_duplicate_email_fails_and_stores_nothing(cli_runner: FlaskCliRunner, db_session: Session) -> None:
    assert cli_runner.invoke(args=["agents", "create", "dee@helpdesk.test", "--name", "Dee"]).exit_code == 0
    tokens_before = db_session.scalar(select(func.count()).select_from(ApiToken))
    result = cli_runner.invoke(args=["agents", "create", "DEE@helpdesk.test", "--name", "Dee Again", "--json"])
    assert result.exit_code != 0
    assert "already exists" in result.output
    assert agents_named(db_session, "dee@helpdesk.test") == 1
    assert db_session.scalar(select(func.count()).select_from(ApiToken)) == tokens_before


@pytest.mark.parametrize("args, message", [
    (["--name", "Eve", "--role", "overlord"], "'overlord' is not one of"),
    (["--name", "   "], "the agent needs a name"),
])
def test_invalid_agent_fails_and_stores_nothing(cli_runner: FlaskCliRunner, db_session: Session,
                                                args: list[str], message: str) -> None:
    result = cli_runner.invoke(args=["agents", "create", "eve@helpdesk.test", *args])
    assert result.exit_code != 0
    assert message in result.output
    assert agents_named(db_session, "eve@helpdesk.test") == 0


def test_bad_email_is_refused(cli_runner: FlaskCliRunner) -> None:
    result = cli_runner.invoke(args=["agents", "create", "not-an-email", "--name", "Nobody"])
    assert result.exit_code != 0 and "is not an email address" in result.output


def test_token_issues_another_working_token(cli_runner: FlaskCliRunner, db_session: Session) -> None:
    created = json.loads(cli_runner.invoke(args=["agents", "create", "fay@helpdesk.test", "--name", "Fay",
                                                 "--json"]).output)
    result = cli_runner.invoke(args=["agents", "token", "fay@helpdesk.test"])
    assert result.exit_code == 0, result.output
    second = result.output.strip()
    assert second != created["token"]
    assert agent_for_api_token(second).email == agent_for_api_token(created["token"]).email == "fay@helpdesk.test"
    missing = cli_runner.invoke(args=["agents", "token", "ghost@helpdesk.test"])
    assert missing.exit_code != 0 and "no agent with email ghost@helpdesk.test" in missing.output


def test_list_shows_the_agents(cli_runner: FlaskCliRunner) -> None:
    cli_runner.invoke(args=["agents", "create", "gus@helpdesk.test", "--name", "Gus", "--role", "editor"])
    result = cli_runner.invoke(args=["agents", "list"])
    assert result.exit_code == 0
    assert any(line.split()[:2] == ["gus@helpdesk.test", "editor"] for line in result.output.splitlines())
    listed = json.loads(cli_runner.invoke(args=["agents", "list", "--json"]).output)
    assert {"email": "gus@helpdesk.test", "name": "Gus", "role": "editor", "active": True,
            "last_login_at": None} in listed


def test_widget_token_carries_the_claims(cli_runner: FlaskCliRunner, app: Flask) -> None:
    result = cli_runner.invoke(args=["widget-token", "--practice", "P1", "--user", "u-7", "--name", "Pat Staff",
                                     "--email", "pat@riverside.test", "--ttl-minutes", "30", "--admin"])
    assert result.exit_code == 0, result.output
    token = result.stdout.strip()
    claims = jwt.decode(token, app.config["WIDGET_SECRET"], algorithms=["HS256"])
    assert (claims["sub"], claims["practice"], claims["name"], claims["email"], claims["admin"]) == \
        ("u-7", "P1", "Pat Staff", "pat@riverside.test", True)
    minutes_left = (claims["exp"] - datetime.now(timezone.utc).timestamp()) / 60
    assert 28 < minutes_left <= 30
    assert "no practice P1 is known yet" in result.stderr


def test_widget_token_needs_practice_and_user(cli_runner: FlaskCliRunner) -> None:
    result = cli_runner.invoke(args=["widget-token", "--practice", "P1"])
    assert result.exit_code != 0 and "--user" in result.output
