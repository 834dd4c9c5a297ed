"""Search: relevance on the real Help Center articles, stemming, prefixes, title and label hits
above body hits, drafts never found, and hostile input (on SQLite FTS5 or PostgreSQL, whichever
the suite runs on)."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient
from sqlalchemy import text
from sqlalchemy.orm import Session

from helpdesk.core.agents import NewAgent
from kb import queries, search, service
from kb.models import Article
from tests.kb.conftest import World, fields

# What a receptionist types, and the article that must come first (kb/content).
REAL_QUERIES = [
    ("collisions", "what-is-a-booking-collision"),
    ("collision", "what-is-a-booking-collision"),
    ("booking not in the diary", "booking-not-in-the-diary"),
    ("patient has confirmation but no booking in diary", "booking-not-in-the-diary"),
    ("lost connection", "lost-connection-to-the-practice-server"),
    ("connector offline", "lost-connection-to-the-practice-server"),
    ("email bounced", "booking-email-bounced"),
    ("transfer sidebar booking by hand", "transferring-sidebar-bookings-by-hand"),
    ("live chat", "live-chat-with-support"),
    ("submit a request", "submit-a-request-and-my-requests"),
    ("duplicate patient record", "patient-matching-errors"),
    ("rejected appointment", "practice-software-rejected-the-appointment"),
    ("notification settings", "notification-settings-explained"),
    ("pending booking", "booking-still-pending"),
    ("cancelled booking", "cancelled-bookings-and-the-diary"),
    ("booking email not sent", "booking-email-not-sent"),
    ("heartbeat", "keeping-the-booking-connector-healthy"),
]

HOSTILE = [
    '"', '""', '"collision', "collision\"", "*", "**", "collision*", "*collision", "NEAR", "NEAR(collision diary)",
    "collision NEAR diary", "OR", "collision OR", "OR OR OR", "AND", "NOT", "NOT collision", "collision AND NOT diary",
    "(", ")", "((collision", "collision))", "[", "]", "{title}: collision", "title:collision", "^collision", "-collision",
    "+collision", "collision:*", "'", "''", "collision' OR '1'='1", "'; DROP TABLE kb_articles; --", "\\", "\\'\"",
    "!collision", "collision & diary", "collision | diary", "collision <-> diary", "collision:A", "\x00", "collision\x00diary",
    "🙂", "🙂🙂🙂 collision 🙂", "👩‍⚕️", "\u202ecollision", "e\u0301te\u0301", "ＣＯＬＬＩＳＩＯＮ", "コリジョン", "  ", "",
    "the", "the ", "in", "wh", "x" * 5000, "collision " * 700, ("a" * 39 + " ") * 125, "%", "_", "%collision%", "<script>alert(1)</script>",
]


@pytest.fixture
def real(content: service.ImportReport) -> service.ImportReport:
    assert len(content.created) >= 15
    return content


@pytest.mark.parametrize(("query", "expected"), REAL_QUERIES)
def test_real_queries_find_the_right_article_first(db_session: Session, real: service.ImportReport, query: str,
                                                   expected: str) -> None:
    found = queries.search_articles(db_session, query)
    assert found.results, query
    assert found.results[0].article.slug == expected, [r.article.slug for r in found.results[:5]]


def test_stemming_and_highlighting(db_session: Session, world: World) -> None:
    for query in ("collisions", "collision", "Collision", "COLLIDED collisions"):
        found = queries.search_articles(db_session, query)
        assert found.results and found.results[0].article.id == world.collision.id, query
    snippet = queries.search_articles(db_session, "collisions").results[0].snippet_html
    assert "<mark>" in snippet and "collision" in snippet.lower()


def test_snippets_keep_punctuation_next_to_the_word(db_session: Session, world: World, editor: NewAgent) -> None:
    service.create_article(db_session, editor.agent, world.section, fields(
        "Waiting bookings", "When you check a booking, the diary may show as **pending**. That means it is on its way."),
        status="published")
    snippet = queries.search_articles(db_session, "pending").results[0].snippet_html
    assert "may show as <mark>pending</mark>. That means" in snippet, snippet


def test_search_as_you_type_matches_prefixes_even_past_the_stem(db_session: Session, world: World) -> None:
    for typed in ("co", "coll", "collis", "collisi", "collisio", "booking coll"):
        ids = [r.article.id for r in queries.search_articles(db_session, typed).results]
        assert world.collision.id in ids, typed
    assert [a.id for a in queries.suggest_articles(db_session, "collisi")] == [world.collision.id]
    assert [a.id for a in queries.suggest_articles(db_session, "lost conn")] == [world.connection.id]
    # A finished word (followed by a space) is not a prefix any more.
    assert search.parse("coll ").groups == ((search.Alternative("coll"),),)


def test_title_and_label_hits_rank_above_body_hits(db_session: Session, world: World, editor: NewAgent) -> None:
    body_only = service.create_article(db_session, editor.agent, world.other_section, fields(
        "Weekly housekeeping", "Connector connector connector: restart the connector, check the connector. " * 5),
        status="published")
    labelled = service.create_article(db_session, editor.agent, world.other_section, fields(
        "Server room checklist", "Things to look at once a month.", labels=["connector"]), status="published")
    titled = service.create_article(db_session, editor.agent, world.other_section, fields(
        "The connector", "What it is."), status="published")
    db_session.commit()
    order = [r.article.id for r in queries.search_articles(db_session, "connector").results]
    assert order[0] == titled.id, order
    assert set(order[1:3]) == {labelled.id, world.connection.id} and order[3] == body_only.id, order
    # The settings article says "collision" in its body only: the titled one wins.
    order = [r.article.id for r in queries.search_articles(db_session, "collision").results]
    assert order[0] == world.collision.id and world.settings.id in order


def test_drafts_and_archived_articles_are_never_found(db_session: Session, world: World, editor: NewAgent,
                                                      client: FlaskClient) -> None:
    def found_ids(q: str) -> set[int]:
        return {r.article.id for r in queries.search_articles(db_session, q, per_page=50).results}

    assert world.draft.id not in found_ids("secret draft collisions")
    assert world.draft.id not in {a.id for a in queries.suggest_articles(db_session, "secret")}
    assert "Secret draft" not in client.get("/hc/search?q=secret+draft").text
    assert all(r["id"] != world.draft.id for r in client.get("/api/v1/kb/search?q=secret").get_json()["results"])

    draft, collision = db_session.get(Article, world.draft.id), db_session.get(Article, world.collision.id)
    service.publish_article(db_session, editor.agent, draft)
    db_session.commit()
    assert world.draft.id in found_ids("secret draft")
    service.archive_article(db_session, editor.agent, draft)
    service.unpublish_article(db_session, editor.agent, collision)
    db_session.commit()
    assert world.draft.id not in found_ids("secret draft")
    assert world.collision.id not in found_ids("collision")


def test_the_index_follows_edits_and_can_be_rebuilt(db_session: Session, world: World, editor: NewAgent) -> None:
    service.update_article(db_session, editor.agent, world.connection, fields(
        "Lost connection to the practice server", "Mention of a zeppelin.", labels=["connector"],
        keys=["diary_connection_lost"]))
    db_session.commit()
    assert [r.article.id for r in queries.search_articles(db_session, "zeppelin").results] == [world.connection.id]
    assert queries.search_articles(db_session, "talking").total == 0  # the old body is gone
    assert [a.id for a in queries.suggest_articles(db_session, "zeppel")] == []  # suggestions are titles only
    assert queries.search_articles(db_session, "zeppel").total == 1  # the word list completes the prefix

    assert search.rebuild(db_session) == 3
    db_session.commit()
    assert [r.article.id for r in queries.search_articles(db_session, "zeppelin").results] == [world.connection.id]
    words = db_session.execute(text("SELECT articles FROM kb_search_words WHERE word = 'zeppelin'")).scalar()
    assert words == 1


def test_pagination_and_totals(db_session: Session, world: World, editor: NewAgent) -> None:
    for n in range(23):
        service.create_article(db_session, editor.agent, world.other_section, fields(
            f"Reminder number {n}", "Reminders about appointments."), status="published")
    db_session.commit()
    first = queries.search_articles(db_session, "reminders", page=1)
    third = queries.search_articles(db_session, "reminders", page=3)
    beyond = queries.search_articles(db_session, "reminders", page=9)
    assert first.total == third.total == 23 and first.pages == 3
    assert len(first.results) == 10 and len(third.results) == 3 and beyond.results == []
    seen = {r.article.id for page in (1, 2, 3) for r in queries.search_articles(db_session, "reminders", page=page).results}
    assert len(seen) == 23


def test_the_work_bounds_keep_every_result_in_order(db_session: Session, world: World, editor: NewAgent,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """With tiny bounds (as a huge knowledge base would hit them), paging still lists every match
    once: titles first, then labels, then the rest, ranked as far as the window reaches."""
    titled = [service.create_article(db_session, editor.agent, world.other_section, fields(
        f"Reminder number {n}", "About appointments."), status="published").id for n in range(4)]
    labelled = [service.create_article(db_session, editor.agent, world.other_section, fields(
        f"Note {n}", "Nothing here.", labels=["reminder"]), status="published").id for n in range(3)]
    rest = [service.create_article(db_session, editor.agent, world.other_section, fields(
        f"Other {n}", "Send a reminder " * (n + 1)), status="published").id for n in range(5)]
    db_session.commit()
    engine = search.engine_for(db_session)
    monkeypatch.setattr(engine, "whole_rank_tier", 2)
    monkeypatch.setattr(engine, "rank_window", 3)
    pages = [queries.search_articles(db_session, "reminder", page=n, per_page=5) for n in (1, 2, 3)]
    order = [r.article.id for page in pages for r in page.results]
    assert pages[0].total == 12 and len(order) == 12 == len(set(order))
    assert set(order[:4]) == set(titled) and set(order[4:7]) == set(labelled) and set(order[7:]) == set(rest)
    # Within the window the rest is ranked (most mentions first); after it, newest first.
    assert order[7:10] == [rest[4], rest[3], rest[2]] and order[10:] == [rest[1], rest[0]]


def test_every_word_first_then_any_word(db_session: Session, world: World) -> None:
    both = queries.search_articles(db_session, "connector bookings")
    assert [r.article.id for r in both.results] == [world.connection.id]
    either = queries.search_articles(db_session, "connector zebra")  # no article has both: any word counts
    assert [r.article.id for r in either.results] == [world.connection.id]


def test_hostile_queries_give_results_or_nothing_never_an_error(client: FlaskClient, world: World) -> None:
    for query in HOSTILE:
        for url in ("/api/v1/kb/suggest", "/hc/search"):
            response = client.get(url, query_string={"q": query})
            assert response.status_code == 200, (url, query, response.text[:500])
        assert "<script>alert(1)" not in response.text  # the page shows the query escaped
        response = client.get("/api/v1/kb/search", query_string={"q": query})
        assert response.status_code == 200, (query, response.text[:500])
        body = response.get_json()
        assert isinstance(body["results"], list) and body["total"] >= len(body["results"]), query
    found = client.get("/api/v1/kb/search", query_string={"q": "collision' OR '1'='1"}).get_json()
    assert found["results"][0]["id"] == world.collision.id  # the words still count


def test_queries_are_quoted_words_only() -> None:
    parsed = search.parse('collision" OR NEAR(diary *) AND {title}: "x', as_you_type=False)
    words = [alt.word for group in parsed.groups for alt in group]
    assert words == ["collision", "near", "diary", "title", "x"]  # "or" and "and" are common words, dropped
    rendered = search.SQLiteEngine.render(parsed, any_group=False)
    assert rendered == '("collision") AND ("near") AND ("diary") AND ("title") AND ("x")'
    assert search.PostgreSQLEngine.render(parsed, any_group=True) == "('collision') | ('near') | ('diary') | ('title') | ('x')"
    assert len(search.parse("word " * 5000).groups) == 1
    assert len(search.parse(" ".join(f"w{i}" for i in range(100))).groups) == search.MAX_WORDS
