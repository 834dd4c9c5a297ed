"""Categories > sections > articles: creating, ordering, moving, statuses, revisions and restore,
slugs, and who may do it (kb.service)."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from helpdesk.core.agents import NewAgent
from helpdesk.core.errors import DomainError, http_status
from kb import queries, service
from kb.models import Article, ArticleSlug, Revision
from tests.kb.conftest import World, fields


def test_articles_belong_to_sections_in_categories_in_order(db_session: Session, world: World, editor: NewAgent) -> None:
    assert [c.name for c in queries.categories(db_session)] == ["Bookings and your diary"]
    sections = queries.sections_by_category(db_session)[world.category.id]
    assert [s.name for s in sections] == ["Missing bookings", "Settings"]
    published = queries.section_articles(db_session, world.section.id)
    assert [a.title for a in published] == [world.collision.title, world.connection.title]  # the draft is not public
    assert world.collision.section.category.id == world.category.id
    assert world.collision.author_id == editor.agent.id
    assert world.collision.slug == "what-is-a-booking-collision"
    assert world.collision.path == f"/hc/articles/{world.collision.id}-what-is-a-booking-collision"


def test_reorder_and_move(db_session: Session, world: World, editor: NewAgent) -> None:
    siblings = db_session.scalars(
        select(Article).where(Article.section_id == world.section.id).order_by(Article.position)).all()
    assert siblings == [world.collision, world.connection, world.draft]
    service.move(db_session, editor.agent, world.draft, siblings, -1)
    assert [a.id for a in sorted(siblings, key=lambda a: a.position)] == [world.collision.id, world.draft.id,
                                                                          world.connection.id]
    service.move(db_session, editor.agent, world.collision, siblings, -1)  # already first: stays
    assert world.collision.position == 0

    service.move_article(db_session, editor.agent, world.connection, world.other_section)
    db_session.commit()
    assert world.connection.section_id == world.other_section.id
    assert world.connection.position == 1  # appended after "Your notification settings"
    assert "section_id" in queries.revisions(db_session, world.connection.id)[0].changed

    sections = queries.sections_by_category(db_session)[world.category.id]
    service.move(db_session, editor.agent, world.other_section, sections, -1)
    assert [s.name for s in sorted(sections, key=lambda s: s.position)] == ["Settings", "Missing bookings"]


def test_publish_unpublish_archive(db_session: Session, world: World, editor: NewAgent) -> None:
    assert queries.public_article(db_session, world.draft.id) is None
    service.publish_article(db_session, editor.agent, world.draft)
    assert queries.public_article(db_session, world.draft.id) is world.draft
    assert world.draft.published_at is not None
    service.unpublish_article(db_session, editor.agent, world.draft)
    assert world.draft.status == "draft" and queries.public_article(db_session, world.draft.id) is None
    service.archive_article(db_session, editor.agent, world.collision)
    assert queries.public_article(db_session, world.collision.id) is None
    with pytest.raises(DomainError) as exc:
        service.set_status(db_session, editor.agent, world.collision, "deleted")
    assert http_status(exc.value) == 422


def test_every_change_is_a_revision_and_a_revision_can_be_restored(db_session: Session, world: World,
                                                                   editor: NewAgent) -> None:
    article = world.collision
    original_body = article.body
    changed = service.update_article(db_session, editor.agent, article, fields(
        "What is a booking collision?", "Rewritten body.", labels=["diary", "collision", "new"],
        keys=["diary_collision"], promoted=True), note="shorter")
    assert changed == ["body", "labels"]
    assert "Rewritten body." in article.body_html
    assert service.update_article(db_session, editor.agent, article, fields(
        "What is a booking collision?", "Rewritten body.", labels=["diary", "collision", "new"],
        keys=["diary_collision"], promoted=True)) == []  # nothing changed, no revision
    db_session.commit()

    history = queries.revisions(db_session, article.id)
    assert [r.number for r in history] == [2, 1]
    assert history[0].changed == ["body", "labels"] and history[0].note == "shorter"
    assert history[0].author_name == "Eve Editor" and history[0].author_id == editor.agent.id
    assert history[1].changed == ["created"] and history[1].body == original_body

    restored = service.restore_revision(db_session, editor.agent, article, history[1])
    db_session.commit()
    assert set(restored) == {"body", "labels"}
    assert article.body == original_body and article.labels == ["diary", "collision"]
    latest = queries.revisions(db_session, article.id)[0]
    assert latest.number == 3 and latest.note == "restored revision 1"

    other = queries.revisions(db_session, world.connection.id)[0]
    with pytest.raises(DomainError):
        service.restore_revision(db_session, editor.agent, article, other)


def test_slug_changes_keep_the_old_slug_and_slugs_are_never_reused(db_session: Session, world: World,
                                                                   editor: NewAgent) -> None:
    article = world.collision
    service.update_article(db_session, editor.agent, article, fields(
        article.title, article.body, labels=article.labels, keys=article.keys, promoted=True, slug="collisions-explained"))
    db_session.commit()
    assert article.slug == "collisions-explained"
    assert queries.article_id_for_slug(db_session, "what-is-a-booking-collision") == article.id
    assert queries.article_id_for_slug(db_session, "collisions-explained") == article.id
    # Another article may not take a slug this one ever had...
    with pytest.raises(DomainError) as exc:
        service.update_article(db_session, editor.agent, world.connection, fields(
            world.connection.title, slug="what-is-a-booking-collision"))
    assert http_status(exc.value) == 409
    db_session.rollback()
    # ...and a derived slug steps around it.
    twin = service.create_article(db_session, editor.agent, world.section, fields("What is a booking collision"))
    assert twin.slug == "what-is-a-booking-collision-2"
    assert db_session.get(ArticleSlug, "what-is-a-booking-collision-2").article_id == twin.id


def test_validation(db_session: Session, world: World, editor: NewAgent) -> None:
    for bad, code in [(fields("   "), "invalid_title"), (fields("x" * 301), "invalid_title"),
                      (fields("ok", keys=["Not A Code!"]), "invalid_keys"),
                      (fields("ok", labels=[f"l{i}" for i in range(21)]), "invalid_labels"),
                      (fields("ok", body="x" * 200_001), "invalid_body")]:
        with pytest.raises(DomainError) as exc:
            service.create_article(db_session, editor.agent, world.section, bad)
        assert exc.value.code == code
    cleaned = fields(" Title  with   spaces ", labels=["Diary", "diary", " ", "Two  Words"], keys=["DIARY_COLLISION"]).cleaned()
    assert cleaned.title == "Title with spaces"
    assert cleaned.labels == ["diary", "two words"] and cleaned.keys == ["diary_collision"]


def test_categories_and_sections_must_be_empty_to_delete(db_session: Session, world: World, editor: NewAgent) -> None:
    with pytest.raises(DomainError) as exc:
        service.delete_category(db_session, editor.agent, world.category)
    assert http_status(exc.value) == 409
    with pytest.raises(DomainError):
        service.delete_section(db_session, editor.agent, world.section)
    empty = service.create_section(db_session, editor.agent, world.category, "Empty")
    service.delete_section(db_session, editor.agent, empty)
    db_session.flush()
    again = service.create_section(db_session, editor.agent, world.category, "Settings")
    assert again.slug == "settings-2"  # section slugs are unique within their category


def test_an_agent_without_the_editor_role_cannot_author(db_session: Session, world: World,
                                                        plain_agent: NewAgent) -> None:
    actor = plain_agent.agent
    attempts = [
        lambda: service.create_category(db_session, actor, "Nope"),
        lambda: service.create_section(db_session, actor, world.category, "Nope"),
        lambda: service.create_article(db_session, actor, world.section, fields("Nope")),
        lambda: service.update_article(db_session, actor, world.collision, fields("Changed")),
        lambda: service.publish_article(db_session, actor, world.draft),
        lambda: service.archive_article(db_session, actor, world.collision),
        lambda: service.set_comments_enabled(db_session, actor, world.collision, False),
        lambda: service.move_article(db_session, actor, world.collision, world.other_section),
        lambda: service.reorder(db_session, actor, [world.connection, world.collision]),
        lambda: service.restore_revision(db_session, actor, world.collision,
                                         queries.revisions(db_session, world.collision.id)[0]),
    ]
    for attempt in attempts:
        with pytest.raises(DomainError) as exc:
            attempt()
        assert http_status(exc.value) == 403
    assert world.draft.status == "draft"
    assert db_session.scalar(select(Revision.id).where(Revision.author_id == actor.id)) is None
