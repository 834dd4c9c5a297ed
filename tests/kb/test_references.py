"""Cross-references in articles ('Read "What is a booking collision?"') link to the article they
name, on the Help Center page and in the API the widget reads; an unknown one stays text."""

from __future__ import annotations

import re

from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from helpdesk.core.agents import NewAgent
from kb import queries, service
from kb.models import Article
from kb.render import link_references, referenced_titles
from tests.kb.conftest import World, fields

BODY = (
    'The slot was taken. Read "What is a booking collision?".\n\n'  # the slug the text makes
    'Offline? See: “Lost connection to the practice server”.\n\n'  # the exact title, curly quotes
    'Read "Secret draft about collisions" and read "Nothing of that name".\n\n'  # a draft, and nothing
    '`Read "Your notification settings"` is code, not a reference.'
)


def test_references_are_linked_by_title_or_slug_and_unknown_ones_stay_text(
        client: FlaskClient, db_session: Session, world: World, editor: NewAgent) -> None:
    guide = service.create_article(db_session, editor.agent, world.section, fields("When a booking is missing", BODY),
                                   status="published")
    db_session.commit()
    collision, connection = world.collision.path, world.connection.path
    expected = [
        f'Read "<a href="{collision}" data-article-id="{world.collision.id}">What is a booking collision?</a>".',
        f'See: “<a href="{connection}" data-article-id="{world.connection.id}">'
        'Lost connection to the practice server</a>”.',
        'Read "Secret draft about collisions" and read "Nothing of that name".',
        '<code>Read "Your notification settings"</code>',
    ]
    page = client.get(guide.path).text
    detail = client.get(f"/api/v1/kb/articles/{guide.id}").get_json()["body_html"]
    for html in (page, detail):
        for piece in expected:
            assert piece in html, (piece, html)
    assert world.settings.path not in detail


def test_a_renamed_article_is_still_found_by_its_former_slug(
        client: FlaskClient, db_session: Session, world: World, editor: NewAgent) -> None:
    guide = service.create_article(db_session, editor.agent, world.section, fields(
        "Guide", 'Read "Lost connection to the practice server".'), status="published")
    connection = db_session.get_one(Article, world.connection.id)
    service.update_article(db_session, editor.agent, connection, fields(
        "The connector went offline", connection.body, labels=connection.labels, keys=connection.keys,
        slug="connector-offline"))
    db_session.commit()
    assert f'<a href="/hc/articles/{connection.id}-connector-offline"' in queries.linked_body_html(db_session, guide)


def test_every_reference_in_the_real_articles_links(db_session: Session, content: service.ImportReport) -> None:
    unresolved = {}
    for article in db_session.scalars(select(Article).where(Article.status == "published")):
        linked = queries.linked_body_html(db_session, article)
        left = referenced_titles(re.sub(r"<a [^>]*>.*?</a>", "", linked))
        if left:
            unresolved[article.slug] = left
    assert unresolved == {}


def test_link_references_leaves_links_and_code_alone() -> None:
    paths = {"Known": (7, "/hc/articles/7-known")}
    assert link_references('<p>See &quot;Known&quot;.</p>', paths) == \
        '<p>See &quot;<a href="/hc/articles/7-known" data-article-id="7">Known</a>&quot;.</p>'
    untouched = '<p><a href="/x">Read "Known"</a> <code>see "Known"</code> <pre>Read "Known"</pre> Read "Unknown"</p>'
    assert link_references(untouched, paths) == untouched
