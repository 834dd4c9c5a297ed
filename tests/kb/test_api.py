"""The knowledge base JSON API (/api/v1/kb) for the help widget and integrators."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from helpdesk.core.agents import NewAgent
from kb import service
from kb.models import Article, Follow, Vote
from tests.kb.conftest import World, fields


def test_search(client: FlaskClient, world: World) -> None:
    body = client.get("/api/v1/kb/search?q=collisions").get_json()
    assert body["query"] == "collisions" and body["total"] == 2 and body["page"] == 1
    first = body["results"][0]
    assert first["id"] == world.collision.id and first["title"] == world.collision.title
    assert first["url"] == world.collision.path and "<mark>" in first["snippet"]
    assert first["section"]["name"] == "Missing bookings"
    assert first["section"]["category"]["name"] == "Bookings and your diary"
    assert {r["id"] for r in body["results"]} == {world.collision.id, world.settings.id}  # never the draft
    assert client.get("/api/v1/kb/search").get_json() == {"query": "", "total": 0, "total_is_exact": True,
                                                          "page": 1, "per_page": 10, "pages": 0, "results": []}


def test_search_paging_parameters_are_checked(client: FlaskClient, world: World) -> None:
    paged = client.get("/api/v1/kb/search?q=collision&per_page=1&page=2").get_json()
    assert paged["per_page"] == 1 and paged["pages"] == 2 and len(paged["results"]) == 1
    for bad in ("page=0", "page=-1", "page=abc", "per_page=500", "per_page=1.5", "page=" + "9" * 30):
        response = client.get(f"/api/v1/kb/search?q=collision&{bad}")
        assert response.status_code == 400 and response.get_json()["error"]["code"] == "invalid_parameter", bad


def test_suggest(client: FlaskClient, world: World) -> None:
    body = client.get("/api/v1/kb/suggest?q=collisi").get_json()
    assert [s["id"] for s in body["suggestions"]] == [world.collision.id]
    assert body["suggestions"][0]["url"] == world.collision.path
    assert client.get("/api/v1/kb/suggest?q=c").get_json()["suggestions"] == []  # one letter is not enough
    assert len(client.get("/api/v1/kb/suggest?q=the&limit=1").get_json()["suggestions"]) <= 1


def test_article_and_categories(client: FlaskClient, world: World) -> None:
    body = client.get(f"/api/v1/kb/articles/{world.collision.id}").get_json()
    assert body["title"] == world.collision.title and "<strong>collision</strong>" in body["body_html"]
    assert body["labels"] == ["diary", "collision"] and body["keys"] == ["diary_collision"]
    assert body["votes"] == {"up": 0, "down": 0} and body["comments_enabled"] is True
    for missing in (world.draft.id, 999999):
        response = client.get(f"/api/v1/kb/articles/{missing}")
        assert response.status_code == 404 and response.get_json()["error"]["code"] == "not_found"
    tree = client.get("/api/v1/kb/categories").get_json()["categories"]
    assert tree[0]["name"] == "Bookings and your diary"
    assert [(s["name"], s["article_count"]) for s in tree[0]["sections"]] == [("Missing bookings", 2), ("Settings", 1)]


def test_articles_for_context(client: FlaskClient, db_session: Session, world: World, editor: NewAgent) -> None:
    body = client.get("/api/v1/kb/articles/for-context?causes=diary_connection_lost,alert_not_sent").get_json()
    assert [a["id"] for a in body["articles"]] == [world.connection.id]  # the draft has alert_not_sent
    assert body["articles"][0]["matched"] == ["key:diary_connection_lost"] and body["fallback"] is False

    body = client.get("/api/v1/kb/articles/for-context?labels=EMAIL,collision&causes=diary_collision").get_json()
    assert [a["id"] for a in body["articles"]] == [world.collision.id, world.settings.id]
    assert set(body["articles"][0]["matched"]) == {"key:diary_collision", "label:collision"}

    service.create_article(db_session, editor.agent, world.other_section, fields(
        "Where to find your notification settings", labels=["page:/settings/notifications"]), status="published")
    db_session.commit()
    body = client.get("/api/v1/kb/articles/for-context?page=/settings/notifications/edit").get_json()
    assert [a["title"] for a in body["articles"]] == ["Where to find your notification settings"]
    assert body["articles"][0]["matched"] == ["page:/settings/notifications"]

    body = client.get("/api/v1/kb/articles/for-context?labels=nothing").get_json()
    assert body["fallback"] is True and [a["id"] for a in body["articles"]] == [world.collision.id]  # promoted
    assert client.get("/api/v1/kb/articles/for-context?limit=0").status_code == 400


def test_vote_with_a_widget_token(client: FlaskClient, db_session: Session, world: World,
                                  widget_token: Callable[..., str]) -> None:
    url = f"/api/v1/kb/articles/{world.collision.id}/vote"
    headers = {"Authorization": f"Bearer {widget_token()}"}
    body = client.post(url, json={"helpful": True}, headers=headers).get_json()
    assert body == {"article_id": world.collision.id, "your_vote": True, "votes": {"up": 1, "down": 0}}
    body = client.post(url, json={"helpful": False}, headers=headers).get_json()
    assert body["votes"] == {"up": 0, "down": 1}  # changed their mind
    other = {"Authorization": f"Bearer {widget_token(user_id='u-2')}"}
    assert client.post(url, json={"helpful": True}, headers=other).get_json()["votes"] == {"up": 1, "down": 1}
    assert db_session.scalars(select(Vote.voter).order_by(Vote.voter)).all() == ["user:P1:u-1", "user:P1:u-2"]

    assert client.post(url, json={"helpful": "yes"}, headers=headers).status_code == 422
    assert client.post(url, json=[True], headers=headers).status_code == 400
    assert client.post(url, data="helpful=true", headers=headers).status_code == 415
    assert client.post(url, json={"helpful": True}, headers={"Authorization": "Bearer nope"}).status_code == 401
    assert client.post(f"/api/v1/kb/articles/{world.draft.id}/vote", json={"helpful": True},
                       headers=headers).status_code == 404


def test_vote_and_follow_with_the_help_center_session(client: FlaskClient, db_session: Session, world: World) -> None:
    url = f"/api/v1/kb/articles/{world.collision.id}/vote"
    assert client.post(url, json={"helpful": True}).get_json()["votes"] == {"up": 1, "down": 0}
    assert client.post(url, json={"helpful": True}).get_json()["votes"] == {"up": 1, "down": 0}  # the same visitor
    assert client.post(url, data={"helpful": "true"}).status_code == 415  # a cross-site form cannot vote
    voter = db_session.scalars(select(Vote.voter)).one()
    assert voter.startswith("visitor:")

    follow_url = f"/api/v1/kb/articles/{world.collision.id}/follow"
    response = client.post(follow_url, json={})
    assert response.status_code == 422 and response.get_json()["error"]["code"] == "email_required"
    response = client.post(follow_url, json={"email": "desk@p.test"})
    assert response.status_code == 201  # a typed address confirms by email first (tests/kb/test_follows.py)
    assert response.get_json()["following"] is False and response.get_json()["awaiting_confirmation"] is True


def test_follow_and_unfollow(client: FlaskClient, db_session: Session, world: World,
                             widget_token: Callable[..., str]) -> None:
    headers = {"Authorization": f"Bearer {widget_token(email='pat@p.test')}"}
    url = f"/api/v1/kb/articles/{world.collision.id}/follow"
    response = client.post(url, json={}, headers=headers)
    assert response.status_code == 201 and response.get_json()["email"] == "pat@p.test"
    assert response.get_json()["following"] is True  # the widget token vouches for the user's own address
    again = client.post(url, json={}, headers=headers).get_json()
    assert again["id"] == response.get_json()["id"]  # following twice is still one follow
    section_url = f"/api/v1/kb/sections/{world.section.id}/follow"
    response = client.post(section_url, json={"email": "boss@p.test"}, headers=headers)
    assert response.status_code == 201 and response.get_json()["awaiting_confirmation"] is True  # someone else's
    assert {(f.article_id, f.section_id, f.email) for f in db_session.scalars(select(Follow))} == {
        (world.collision.id, None, "pat@p.test"), (None, world.section.id, "boss@p.test")}

    response = client.delete(url, json={}, headers=headers)
    assert response.get_json() == {"following": False, "removed": True}
    assert client.delete(url, json={}, headers=headers).get_json()["removed"] is False
    for bad, status in (({"email": 5}, 422), ({"email": "nope"}, 422)):
        assert client.post(section_url, json=bad, headers=headers).status_code == status
    assert client.post("/api/v1/kb/sections/9999/follow", json={}, headers=headers).status_code == 404
    assert client.post(f"/api/v1/kb/articles/{world.draft.id}/follow", json={}, headers=headers).status_code == 404


@pytest.mark.parametrize("path", ["/api/v1/kb/search?q=%00", "/api/v1/kb/suggest?q=%00%00", "/api/v1/kb/search?page=%00",
                                  "/api/v1/kb/articles/for-context?labels=%00&causes=%00&page=%00"])
def test_nul_characters_are_harmless(client: FlaskClient, world: World, path: str) -> None:
    assert client.get(path).status_code in (200, 400)


def test_the_openapi_document_lists_the_knowledge_base(client: FlaskClient) -> None:
    response = client.get("/api/v1/openapi.yaml")
    if response.status_code == 404:
        response = client.get("/api/v1/openapi.json")
    text = response.get_data(as_text=True)
    for path in ("/kb/search", "/kb/suggest", "/kb/articles/{article_id}", "/kb/articles/for-context",
                 "/kb/articles/{article_id}/vote", "/kb/articles/{article_id}/follow", "/kb/sections/{section_id}/follow",
                 "/kb/categories"):
        assert path in text, path


def test_the_article_model_is_unchanged_by_reads(client: FlaskClient, db_session: Session, world: World) -> None:
    client.get(f"/api/v1/kb/articles/{world.collision.id}")
    db_session.expire_all()
    assert db_session.get(Article, world.collision.id).view_count == 0  # the API does not count views
