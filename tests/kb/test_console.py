"""Authoring in the agent console: editors and admins write and publish, other agents may look
and moderate comments but not publish; every form needs its CSRF token."""

from __future__ import annotations

import re

from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from kb import queries
from kb.models import Article, Category, Comment, Section
from tests.kb.conftest import World, csrf_token, post_form

NEW = "/console/kb/articles/new"


def _article_form(section_id: int, **changes: str) -> dict[str, str]:
    form = {"title": "Reading the integration timeline", "section_id": str(section_id),
            "body": "## Timeline\n\nEach **failed insert** is listed.", "labels": "timeline, Diary",
            "keys": "diary_rejected", "comments_enabled": "on", "slug": ""}
    form.update(changes)
    return form


def test_console_pages_need_a_signed_in_agent(client: FlaskClient, world: World) -> None:
    for path in ("/console/kb", "/console/kb/structure", "/console/kb/comments", NEW,
                 f"/console/kb/articles/{world.collision.id}"):
        response = client.get(path)
        assert response.status_code == 302 and response.headers["Location"].startswith("/console/login"), path
    assert client.post("/console/kb/preview", json={"body": "x"}).status_code in (302, 400)


def test_an_editor_writes_previews_publishes_and_archives(editor_client: FlaskClient, db_session: Session,
                                                          world: World) -> None:
    client = editor_client
    listing = client.get("/console/kb").text
    assert world.draft.title in listing and "New article" in listing

    page = client.get(NEW).text
    assert 'id="keys" name="keys" type="text" value=""' in page  # an empty form is empty
    preview = client.post("/console/kb/preview", json={"body": "**bold** <script>x</script>"},
                          headers={"X-CSRFToken": csrf_token(page)})
    assert preview.get_json() == {"html": "<p><strong>bold</strong> </p>\n"}
    assert client.post("/console/kb/preview", json={"body": "x"}).status_code == 400  # no CSRF token

    response = client.post(NEW, data={"csrf_token": csrf_token(page), **_article_form(world.section.id)})
    assert response.status_code == 302
    article = db_session.scalars(select(Article).where(Article.title == "Reading the integration timeline")).one()
    assert article.status == "draft" and article.labels == ["timeline", "diary"] and article.keys == ["diary_rejected"]
    edit_url = f"/console/kb/articles/{article.id}"
    assert response.headers["Location"] == edit_url
    assert client.get(article.path).status_code == 404  # a draft is not public

    response = post_form(client, edit_url, edit_url, publish="1", note="ready",
                         **_article_form(world.section.id, title="Reading the integration timeline", notify="on"))
    assert response.status_code == 302
    db_session.expire_all()
    assert db_session.get(Article, article.id).status == "published"
    assert client.get(article.path).status_code == 200

    post_form(client, f"{edit_url}/status", edit_url, status="archived")
    db_session.expire_all()
    assert db_session.get(Article, article.id).status == "archived"
    revisions = client.get(f"{edit_url}/revisions").text
    assert "Eve Editor" in revisions and "ready" in revisions and "status" in revisions


def test_the_editor_shows_problems_and_keeps_what_was_typed(editor_client: FlaskClient, world: World) -> None:
    response = post_form(editor_client, NEW, NEW, **_article_form(world.section.id, title="  ", body="my careful words"))
    assert response.status_code == 422
    assert "the article needs a title" in response.text and "my careful words" in response.text
    response = post_form(editor_client, NEW, NEW, **_article_form(world.section.id, slug=world.collision.slug))
    assert response.status_code == 422 and "belongs to another article" in response.text
    response = post_form(editor_client, NEW, NEW, **_article_form(99999))
    assert response.status_code == 422 and "Choose a section" in response.text


def test_move_reorder_comments_switch_and_restore(editor_client: FlaskClient, db_session: Session, world: World) -> None:
    client = editor_client
    edit_url = f"/console/kb/articles/{world.collision.id}"
    post_form(client, f"{edit_url}/comments-enabled", edit_url, enabled="0")
    post_form(client, f"{edit_url}/move", edit_url, section_id=str(world.other_section.id))
    post_form(client, f"/console/kb/articles/{world.connection.id}/position", "/console/kb/structure", direction="down")
    db_session.expire_all()
    collision = db_session.get(Article, world.collision.id)
    assert collision.comments_enabled is False and collision.section_id == world.other_section.id
    assert "This article is closed for comments." in client.get(collision.path).text

    form = _article_form(world.other_section.id, title=collision.title, body="Replaced.", labels="diary",
                         keys="diary_collision", promoted="on")
    post_form(client, edit_url, edit_url, **form)
    db_session.expire_all()
    assert db_session.get(Article, world.collision.id).body == "Replaced."
    history = client.get(f"{edit_url}/revisions").text
    assert re.search(r">1</a>", history) and "Restore" in history
    assert "A <strong>collision</strong>" in client.get(f"{edit_url}/revisions/1").text
    post_form(client, f"{edit_url}/revisions/1/restore", f"{edit_url}/revisions")
    db_session.expire_all()
    restored = db_session.get(Article, world.collision.id)
    assert restored.body.startswith("A **collision**") and restored.labels == ["diary", "collision"]
    assert queries.revisions(db_session, restored.id)[0].note == "restored revision 1"


def test_categories_and_sections_are_managed_in_the_console(editor_client: FlaskClient, db_session: Session,
                                                            world: World) -> None:
    client = editor_client
    structure = "/console/kb/structure"
    post_form(client, "/console/kb/categories", structure, name="Your account", description="Logins and users")
    category = db_session.scalars(select(Category).where(Category.name == "Your account")).one()
    post_form(client, "/console/kb/sections", structure, category_id=str(category.id), name="Logins")
    section = db_session.scalars(select(Section).where(Section.name == "Logins")).one()
    post_form(client, f"/console/kb/categories/{category.id}/position", structure, direction="up")
    db_session.expire_all()
    assert [c.name for c in queries.categories(db_session)] == ["Your account", "Bookings and your diary"]
    post_form(client, f"/console/kb/sections/{section.id}", structure, name="Signing in", description="",
              category_id=str(world.category.id))
    db_session.expire_all()
    moved = db_session.get(Section, section.id)
    assert moved.name == "Signing in" and moved.category_id == world.category.id
    response = post_form(client, f"/console/kb/categories/{world.category.id}/delete", structure)
    assert response.status_code == 409 and "sections first" in response.text
    category_id, section_id = category.id, section.id
    post_form(client, f"/console/kb/sections/{section_id}/delete", structure)
    post_form(client, f"/console/kb/categories/{category_id}/delete", structure)
    db_session.expire_all()
    assert db_session.get(Category, category_id) is None and db_session.get(Section, section_id) is None
    html = client.get(structure).text
    assert world.section.name in html and world.draft.title in html


def test_an_agent_without_the_editor_role_cannot_publish_or_edit(agent_client: FlaskClient, db_session: Session,
                                                                 world: World) -> None:
    client = agent_client
    listing = client.get("/console/kb").text
    assert world.collision.title in listing and "New article" not in listing
    assert client.get(NEW).status_code == 403
    edit_url = f"/console/kb/articles/{world.draft.id}"
    page = client.get(edit_url)
    assert page.status_code == 200 and "Only editors and admins can change articles." in page.text
    assert "<fieldset disabled" in page.text

    attempts = [
        (NEW, NEW, _article_form(world.section.id)),
        (edit_url, edit_url, _article_form(world.section.id, title="Hijacked", publish="1")),
        (f"{edit_url}/status", edit_url, {"status": "published"}),
        (f"/console/kb/articles/{world.collision.id}/status", edit_url, {"status": "archived"}),
        (f"{edit_url}/move", edit_url, {"section_id": str(world.other_section.id)}),
        (f"{edit_url}/comments-enabled", edit_url, {"enabled": "0"}),
        (f"{edit_url}/revisions/1/restore", edit_url, {}),
        ("/console/kb/categories", "/console/kb/structure", {"name": "Nope"}),
        (f"/console/kb/sections/{world.section.id}/delete", "/console/kb/structure", {}),
    ]
    for url, page_url, data in attempts:
        response = post_form(client, url, page_url, **data)
        assert response.status_code == 403, url
    db_session.expire_all()
    draft = db_session.get(Article, world.draft.id)
    assert draft.status == "draft" and draft.title == world.draft.title
    assert db_session.get(Article, world.collision.id).status == "published"


def test_any_agent_moderates_comments(agent_client: FlaskClient, db_session: Session, world: World) -> None:
    comment = Comment(article_id=world.collision.id, practice_id="P1", user_id="u-1", author_name="Pat",
                      author_email="pat@p.test", body="Helpful!", body_html="<p>Helpful!</p>")
    spam = Comment(article_id=world.collision.id, practice_id="P1", user_id="u-2", author_name="Spammer",
                   author_email="", body="buy now", body_html="<p>buy now</p>")
    db_session.add_all([comment, spam])
    db_session.commit()
    queue = agent_client.get("/console/kb/comments").text
    assert "Helpful!" in queue and "buy now" in queue and world.collision.title in queue
    post_form(agent_client, f"/console/kb/comments/{comment.id}", "/console/kb/comments", action="publish")
    post_form(agent_client, f"/console/kb/comments/{spam.id}", "/console/kb/comments", action="reject")
    assert post_form(agent_client, f"/console/kb/comments/{spam.id}", "/console/kb/comments",
                     action="explode").status_code == 400
    db_session.expire_all()
    assert db_session.get(Comment, comment.id).status == "published"
    assert db_session.get(Comment, spam.id).status == "rejected"
    assert "buy now" in agent_client.get("/console/kb/comments?status=rejected").text
    public = agent_client.get(world.collision.path).text
    assert "Helpful!" in public and "buy now" not in public
    spam_id = spam.id
    post_form(agent_client, f"/console/kb/comments/{spam_id}", "/console/kb/comments?status=rejected", action="delete")
    db_session.expire_all()
    assert db_session.get(Comment, spam_id) is None


def test_console_forms_need_csrf(editor_client: FlaskClient, world: World) -> None:
    response = editor_client.post(NEW, data=_article_form(world.section.id))
    assert response.status_code == 400
    response = editor_client.post(f"/console/kb/articles/{world.draft.id}/status", data={"status": "published"})
    assert response.status_code == 400
