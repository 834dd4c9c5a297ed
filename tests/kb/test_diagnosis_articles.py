"""The booking diagnosis suggests the Help Center's article for each of its causes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from helpdesk.core.agents import NewAgent
from kb import queries, service
from tests.helpdesk.factories import (
    booking_created,
    diary_failed,
    email_event,
    practice_upserted,
)
from tests.kb.conftest import World, fields

DIAGNOSIS = "/api/v1/practices/P1/bookings/BK-1/diagnosis"


def _collision_without_alert(ingest: Callable[..., Any]) -> None:
    ingest(practice_upserted(), booking_created(), email_event("delivered"), diary_failed("collision"))


def test_the_diagnosis_names_the_articles_for_its_causes(client: FlaskClient, world: World, editor: NewAgent,
                                                         ingest: Callable[..., Any]) -> None:
    expected = {"key": "diary_collision", "id": world.collision.id, "title": world.collision.title,
                "url": world.collision.path}
    _collision_without_alert(ingest)
    body = client.get(DIAGNOSIS, headers={"Authorization": f"Bearer {editor.token}"}).get_json()
    assert body["causes"] == ["diary_collision", "alert_not_sent"]
    collision, unanswered = body["articles"]
    assert collision == expected
    assert unanswered == {"key": "alert_not_sent"}  # only a draft has that key: drafts are never suggested
    assert client.get(collision["url"]).status_code == 200


def test_practice_users_get_the_same_suggestions(client: FlaskClient, world: World, ingest: Callable[..., Any],
                                                 widget_token: Callable[..., str]) -> None:
    collision_id = world.collision.id
    _collision_without_alert(ingest)
    headers = {"Authorization": f"Bearer {widget_token()}"}
    body = client.get("/api/v1/me/bookings/BK-1/diagnosis", headers=headers).get_json()
    assert body["articles"][0]["id"] == collision_id


def test_the_demo_content_answers_every_cause(db_session: Session, content: service.ImportReport) -> None:
    rows = queries.articles_for_keys(db_session, ["diary_collision", "diary_connection_lost", "email_bounced"])
    assert [row["key"] for row in rows] == ["diary_collision", "diary_connection_lost", "email_bounced"]
    assert all(row["url"].startswith(f"/hc/articles/{row['id']}-") for row in rows)


def test_a_promoted_article_is_preferred_for_a_key(db_session: Session, world: World, editor: NewAgent) -> None:
    service.create_article(db_session, editor.agent, world.section, fields(
        "Another collision article", keys=["diary_collision"]), status="published")
    db_session.commit()
    assert queries.articles_for_keys(db_session, ["diary_collision"])[0]["id"] == world.collision.id
    assert queries.articles_for_keys(db_session, []) == []
