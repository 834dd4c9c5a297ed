"""Sessions end when they should: console logout on the server, Help Center sessions with their
widget token, API tokens and agents through the CLI (helpdesk/core/auth.py, sessions.py, cli_access.py)."""

from __future__ import annotations

import json
import re
from datetime import timedelta

from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session

from helpdesk.core.agents import ApiToken, NewAgent, issue_api_token
from helpdesk.core.audit import AuditEntry
from helpdesk.core.auth import mint_widget_token, practice_user_for_token, session_ended
from helpdesk.core.clock import advance, frozen_at, utcnow
from helpdesk.core.sessions import ConsoleSession
from tests.core.conftest import PASSWORD


def csrf(html: str) -> str:
    match = re.search(r'name="csrf_token"[^>]*?value="([^"]+)"', html)
    assert match, "no CSRF token on the page"
    return match.group(1)


def log_in(client: FlaskClient, agent: NewAgent) -> None:
    token = csrf(client.get("/console/login").text)
    response = client.post("/console/login", data={"email": agent.agent.email, "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 303, response.text


def cookie(client: FlaskClient) -> str:
    found = client.get_cookie("session")
    assert found is not None
    return found.value


def test_console_logout_refuses_a_replayed_cookie(app: Flask, client: FlaskClient, agent: NewAgent,
                                                 db_session: Session) -> None:
    log_in(client, agent)
    assert client.get("/console/practices").status_code == 200
    stolen = cookie(client)
    page = client.get("/console/practices").text
    assert client.post("/console/logout", data={"csrf_token": csrf(page)}).status_code == 303
    row = db_session.scalars(select(ConsoleSession).where(ConsoleSession.agent_id == agent.agent.id)).one()
    assert row.ended_at is not None
    replay = app.test_client()
    replay.set_cookie("session", stolen)
    response = replay.get("/console/practices")
    assert response.status_code == 302 and "/console/login" in response.headers["Location"]
    # The API, which also accepts the console session, refuses it too.
    assert replay.get("/api/v1/practices").status_code == 401


def test_a_second_login_is_its_own_session(app: Flask, client: FlaskClient, agent: NewAgent) -> None:
    log_in(client, agent)
    other = app.test_client()
    log_in(other, agent)
    page = client.get("/console/practices").text
    client.post("/console/logout", data={"csrf_token": csrf(page)})
    assert other.get("/console/practices").status_code == 200  # logging out one browser ends only that one


def test_deactivating_an_agent_ends_their_console_session_and_tokens(client: FlaskClient, agent: NewAgent,
                                                                     cli_runner: FlaskCliRunner,
                                                                     agent_headers: dict[str, str]) -> None:
    log_in(client, agent)
    assert client.get("/api/v1/practices", headers=agent_headers).status_code == 200
    result = cli_runner.invoke(args=["agents", "deactivate", agent.agent.email.upper()])
    assert result.exit_code == 0, result.output
    assert "1 console session(s) ended" in result.output
    assert client.get("/console/practices").status_code == 302
    assert client.get("/api/v1/practices", headers=agent_headers).status_code == 401
    listed = json.loads(cli_runner.invoke(args=["agents", "list", "--json"]).output)
    assert [row["active"] for row in listed if row["email"] == agent.agent.email] == [False]
    assert cli_runner.invoke(args=["agents", "deactivate", "nobody@helpdesk.test"]).exit_code != 0


def test_revoking_tokens_by_id_and_all(client: FlaskClient, agent: NewAgent, db_session: Session,
                                      cli_runner: FlaskCliRunner) -> None:
    second = issue_api_token(db_session, agent.agent, "second")
    third = issue_api_token(db_session, agent.agent, "third")
    db_session.commit()
    tokens = json.loads(cli_runner.invoke(args=["agents", "tokens", "list", agent.agent.email, "--json"]).output)
    assert [t["label"] for t in tokens] == ["default", "second", "third"]
    assert "hdt_" not in json.dumps(tokens)  # the secret itself is never shown again
    second_id = tokens[1]["id"]

    result = cli_runner.invoke(args=["agents", "tokens", "revoke", str(second_id)])
    assert result.exit_code == 0, result.output
    headers = {"Authorization": f"Bearer {second}"}
    assert client.get("/api/v1/practices", headers=headers).status_code == 401
    assert client.get("/api/v1/practices", headers={"Authorization": f"Bearer {third}"}).status_code == 200
    again = cli_runner.invoke(args=["agents", "tokens", "revoke", str(second_id)])
    assert again.exit_code != 0 and "already revoked" in again.output

    result = cli_runner.invoke(args=["agents", "tokens", "revoke", "--all", agent.agent.email])
    assert result.exit_code == 0 and "Revoked 2 token(s)" in result.output
    for token in (agent.token, third):
        assert client.get("/api/v1/practices", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert db_session.scalars(select(ApiToken).where(ApiToken.revoked_at.is_(None))).all() == []
    actions = db_session.scalars(select(AuditEntry.action).where(AuditEntry.agent_id == agent.agent.id)).all()
    assert actions.count("api_token.revoked") == 2
    assert cli_runner.invoke(args=["agents", "tokens", "revoke"]).exit_code != 0  # neither id nor --all
    assert cli_runner.invoke(args=["agents", "tokens", "revoke", "99999999999"]).exit_code != 0


def test_the_help_center_session_is_started_by_post_only(app: Flask, client: FlaskClient) -> None:
    with app.app_context():
        token = mint_widget_token("P1", "u-1", "Pat", "pat@p1.test")
    response = client.get("/hc/session", query_string={"token": token, "next": "/hc"})
    assert response.status_code == 405 and "POST" in response.headers["Allow"]
    with client.session_transaction() as stored:
        assert "practice_user" not in stored
    response = client.post("/hc/session", data={"token": token, "next": "/hc/search?q=x"})
    assert response.status_code == 303 and response.headers["Location"].endswith("/hc/search?q=x")
    with client.session_transaction() as stored:
        assert stored["practice_user"]["user_id"] == "u-1"


def test_the_help_center_session_ends_with_its_widget_token(app: Flask, client: FlaskClient) -> None:
    with frozen_at(utcnow()):
        with app.app_context():
            token = mint_widget_token("P1", "u-1", "Pat", "pat@p1.test", ttl=timedelta(minutes=10))
        assert client.post("/hc/session", data={"token": token, "next": "/hc/requests"}).status_code == 303
        assert client.get("/hc/requests").status_code == 200
        with client.session_transaction() as stored:
            assert stored["practice_user"]["user_id"] == "u-1"
        advance(timedelta(minutes=9))
        client.get("/hc/requests")
        with client.session_transaction() as stored:
            assert "practice_user" in stored  # not yet
        advance(timedelta(minutes=2))
        assert client.get("/hc/requests").status_code == 200  # the anonymous page: sign in again
        with client.session_transaction() as stored:
            assert "practice_user" not in stored
        # The expired token itself no longer signs in either.
        assert client.post("/hc/session", data={"token": token}).status_code == 401


def test_a_verified_widget_identity_ends_only_with_its_expiry(app: Flask) -> None:
    """Asked on every chat event: a practice user's identity, verified once at connect, is not
    checked against the signature again (it cannot be revoked), only against the clock."""
    with app.app_context(), frozen_at(utcnow()):
        token = mint_widget_token("P-ends", "u-1", ttl=timedelta(seconds=60))
        user = practice_user_for_token(token)
        assert session_ended("not a token at all", user) is None
        assert session_ended("not a token at all") is not None  # without the identity: verified afresh
        advance(timedelta(seconds=61))
        ended = session_ended(token, user)
        assert ended is not None and ended.code == "token_expired"
