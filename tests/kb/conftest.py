"""Fixtures for the knowledge base: editors and agents, a small Help Center built through the
service, the real demo content from kb/content, and helpers for forms and widget identities."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from helpdesk.core.agents import NewAgent, create_agent
from helpdesk.core.auth import mint_widget_token
from kb import service
from kb.models import Article, Category, Section
from kb.transfer import CONTENT_FOLDER
from tests.helpdesk.conftest import ingest  # noqa: F401  (the signed ingest poster, for the diagnosis)

PASSWORD = "correct horse battery staple"
CONTENT = CONTENT_FOLDER


@dataclass
class World:
    category: Category
    section: Section
    other_section: Section
    collision: Article
    connection: Article
    settings: Article
    draft: Article


@pytest.fixture
def editor(db_session: Session) -> NewAgent:
    created = create_agent(db_session, "eve@kb.test", "Eve Editor", role="editor", password=PASSWORD)
    db_session.commit()
    return created


@pytest.fixture
def plain_agent(db_session: Session) -> NewAgent:
    created = create_agent(db_session, "al@kb.test", "Al Agent", role="agent", password=PASSWORD)
    db_session.commit()
    return created


def fields(title: str, body: str = "", **kw: Any) -> service.ArticleFields:
    return service.ArticleFields(title=title, body=body, **kw)


@pytest.fixture
def world(db_session: Session, editor: NewAgent) -> World:
    """One category, two sections, three published articles and a draft."""
    actor = editor.agent
    category = service.create_category(db_session, actor, "Bookings and your diary", "When bookings go astray")
    section = service.create_section(db_session, actor, category, "Missing bookings")
    other = service.create_section(db_session, actor, category, "Settings")
    collision = service.create_article(db_session, actor, section, fields(
        "What is a booking collision?",
        "A **collision** happens when the slot is already taken in the diary.\n\nCall the patient.",
        labels=["diary", "collision"], keys=["diary_collision"], promoted=True), status="published")
    connection = service.create_article(db_session, actor, section, fields(
        "Lost connection to the practice server",
        "The connector on your server stopped talking to us. Bookings wait until it is back.",
        labels=["connector"], keys=["diary_connection_lost"]), status="published")
    settings = service.create_article(db_session, actor, other, fields(
        "Your notification settings",
        "Alerts go to the alert address. A collision alert names the booking; so does every other alert.",
        labels=["settings", "email"]), status="published")
    draft = service.create_article(db_session, actor, section, fields(
        "Secret draft about collisions", "Collisions collisions collisions, not ready yet.",
        labels=["collision"], keys=["alert_not_sent"]))
    db_session.commit()
    return World(category, section, other, collision, connection, settings, draft)


@pytest.fixture
def content(db_session: Session) -> service.ImportReport:
    """The project's real Help Center articles (kb/content), imported as the demo does."""
    report = service.import_folder(db_session, CONTENT, None)
    db_session.commit()
    return report


@pytest.fixture
def widget_token(app: Flask) -> Callable[..., str]:
    def mint(practice_id: str = "P1", user_id: str = "u-1", name: str = "Pat Staff", email: str = "pat@p.test") -> str:
        with app.app_context():
            return mint_widget_token(practice_id, user_id, name, email)

    return mint


def csrf_token(html: str) -> str:
    match = re.search(r'name="csrf_token"[^>]*?value="([^"]+)"', html)
    assert match, "the page has no CSRF token"
    return match.group(1)


def post_form(client: FlaskClient, url: str, page: str, **data: Any) -> TestResponse:
    """Submit a form as the browser would: with the CSRF token of the page it came from."""
    return client.post(url, data={"csrf_token": csrf_token(client.get(page).text), **data})


def sign_in_console(client: FlaskClient, email: str) -> FlaskClient:
    token = csrf_token(client.get("/console/login").text)
    response = client.post("/console/login", data={"email": email, "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 303, response.text
    return client


@pytest.fixture
def editor_client(client: FlaskClient, editor: NewAgent) -> FlaskClient:
    return sign_in_console(client, editor.agent.email)


@pytest.fixture
def agent_client(client: FlaskClient, plain_agent: NewAgent) -> FlaskClient:
    return sign_in_console(client, plain_agent.agent.email)
