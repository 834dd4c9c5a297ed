"""The public Help Center pages: reading, stable URLs, votes, follows and their notifications,
comments and their moderation, and the practice user's sign-in."""

from __future__ import annotations

from collections.abc import Callable

from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from helpdesk.core.agents import NewAgent
from kb import queries, service
from kb.models import Article, Comment, Follow, Notification, Vote
from tests.kb.conftest import World, fields, post_form


def _signed_in(client: FlaskClient, widget_token: Callable[..., str], **claims: str) -> FlaskClient:
    response = client.post("/hc/session", data={"token": widget_token(**claims), "next": "/hc/search?q=x"})
    assert response.status_code == 303 and response.headers["Location"] == "/hc/search?q=x"
    return client


def test_home_category_section_and_article_pages(client: FlaskClient, world: World) -> None:
    home = client.get("/hc").text
    assert "How can we help?" in home and world.category.name in home and world.section.name in home
    assert "Promoted articles" in home and world.collision.title in home
    assert world.draft.title not in home

    category = client.get(f"/hc/categories/{world.category.id}-{world.category.slug}").text
    assert world.collision.title in category and world.settings.title in category

    section = client.get(f"/hc/sections/{world.section.id}-{world.section.slug}").text
    assert world.collision.title in section and world.connection.title in section
    assert world.draft.title not in section

    page = client.get(world.collision.path)
    assert page.status_code == 200
    html = page.text
    for expected in (world.collision.title, "<strong>collision</strong>", 'aria-label="Breadcrumb"',
                     world.category.name, world.section.name, "Was this article helpful?", "Follow",
                     "Have more questions?", "Submit a request", "Related articles", 'href="/hc/labels/diary"',
                     'class="skip-link"', "<main", "Updated <time"):
        assert expected in html, expected
    assert world.connection.title in html  # related: same section


def test_article_urls_are_stable_and_old_slugs_redirect(client: FlaskClient, db_session: Session, world: World,
                                                       editor: NewAgent) -> None:
    article_id, old_path = world.collision.id, world.collision.path
    for wrong in (f"/hc/articles/{article_id}", f"/hc/articles/{article_id}-wrong-words", "/hc/articles/what-is-a-booking-collision"):
        response = client.get(wrong)
        assert response.status_code == 301 and response.headers["Location"] == old_path, wrong
    article = db_session.get(Article, article_id)
    service.update_article(db_session, editor.agent, article, fields(
        "Booking collisions", article.body, labels=article.labels, keys=article.keys, promoted=True,
        slug="booking-collisions"))
    db_session.commit()
    new_path = f"/hc/articles/{article_id}-booking-collisions"
    for old in (old_path, "/hc/articles/what-is-a-booking-collision"):
        response = client.get(old)
        assert response.status_code == 301 and response.headers["Location"] == new_path
    assert client.get(new_path).status_code == 200
    category = world.category
    response = client.get(f"/hc/categories/{category.id}-old-name")
    assert response.status_code == 301 and response.headers["Location"].endswith(f"/hc/categories/{category.id}-{category.slug}")


def test_drafts_unknown_and_malformed_articles_are_not_found(client: FlaskClient, world: World) -> None:
    for path in (world.draft.path, f"/hc/articles/{world.draft.id}", "/hc/articles/99999-nothing", "/hc/articles/nothing",
                 "/hc/articles/" + "9" * 40, "/hc/sections/abc", "/hc/categories/0-x"):
        response = client.get(path)
        assert response.status_code == 404, path
    assert "Page not found" in client.get(world.draft.path).text


def test_views_and_recently_viewed(client: FlaskClient, db_session: Session, world: World) -> None:
    client.get(world.connection.path)
    html = client.get(world.collision.path).text
    assert "Recently viewed" in html and world.connection.title in html
    db_session.expire_all()
    assert db_session.get(Article, world.collision.id).view_count == 1
    assert db_session.get(Article, world.collision.id).updated_at == world.collision.updated_at  # a view is no edit


def test_one_vote_per_visitor_who_may_change_their_mind(client: FlaskClient, db_session: Session, world: World,
                                                         app_config: dict, widget_token: Callable[..., str]) -> None:
    path = world.collision.path
    vote_url = f"/hc/articles/{world.collision.id}/vote"
    assert post_form(client, vote_url, path, helpful="yes").status_code == 302
    assert post_form(client, vote_url, path, helpful="yes").status_code == 302
    html = client.get(path).text
    assert "1 out of 1 found this helpful" in html and 'value="yes" class="hc-button" aria-pressed="true"' in html
    post_form(client, vote_url, path, helpful="no")  # a change of mind replaces the vote
    assert "0 out of 1 found this helpful" in client.get(path).text

    other = client.application.test_client()  # another browser: another anonymous visitor
    post_form(other, vote_url, path, helpful="yes")
    _signed_in(other, widget_token)  # signing in makes it the practice user's own vote
    post_form(other, vote_url, path, helpful="yes")
    db_session.expire_all()
    voters = db_session.scalars(select(Vote.voter).where(Vote.article_id == world.collision.id)).all()
    assert len(voters) == 3 and "user:P1:u-1" in voters
    assert sum(v.startswith("visitor:") for v in voters) == 2
    article = db_session.get(Article, world.collision.id)
    assert (article.votes_up, article.votes_down) == (2, 1)

    assert post_form(client, vote_url, path, helpful="maybe").status_code == 400
    assert client.post(vote_url, data={"helpful": "yes"}).status_code == 400  # no CSRF token
    assert post_form(client, f"/hc/articles/{world.draft.id}/vote", path, helpful="yes").status_code == 404


def test_follow_needs_an_email_and_updates_queue_notifications(client: FlaskClient, db_session: Session, world: World,
                                                               editor: NewAgent) -> None:
    path = world.collision.path
    follow_url = f"/hc/articles/{world.collision.id}/follow"
    response = post_form(client, follow_url, path, email="")
    assert response.status_code == 302
    assert "give an email address" in client.get(path).text
    post_form(client, follow_url, path, email="Front.Desk@Riverside.test")
    html = client.get(path).text
    assert "open the link we emailed to <strong>front.desk@riverside.test</strong>" in html  # tests/kb/test_follows.py
    post_form(client, follow_url, path, email="front.desk@riverside.test")  # idempotent
    section_page = f"/hc/sections/{world.section.id}-{world.section.slug}"
    post_form(client, f"/hc/sections/{world.section.id}/follow", section_page)  # the address typed before
    post_form(client.application.test_client(), f"/hc/sections/{world.section.id}/follow", section_page,
              email="manager@riverside.test")
    assert post_form(client, follow_url, path, email="not an email").status_code == 302
    db_session.expire_all()
    follows = db_session.scalars(select(Follow).order_by(Follow.id)).all()
    assert [(f.article_id, f.section_id, f.email) for f in follows] == [
        (world.collision.id, None, "front.desk@riverside.test"),
        (None, world.section.id, "front.desk@riverside.test"),
        (None, world.section.id, "manager@riverside.test"),
    ]
    for follow in follows:  # as the emailed links do
        assert service.confirm_follow(db_session, follow) == "confirmed"
    db_session.commit()
    assert "You follow this article at <strong>front.desk@riverside.test</strong>" in client.get(path).text

    article = db_session.get(Article, world.collision.id)
    draft = db_session.get(Article, world.draft.id)
    with client.application.app_context():  # for HELPDESK_PUBLIC_URL, so the links in emails are absolute
        service.update_article(db_session, editor.agent, article, fields(
            article.title, article.body + "\n\nOne more step.", labels=article.labels, keys=article.keys,
            promoted=True))
        service.update_article(db_session, editor.agent, article, fields(  # labels only: nobody is told
            article.title, article.body, labels=[*article.labels, "extra"], keys=article.keys, promoted=True))
        service.update_article(db_session, editor.agent, draft, fields("Draft, edited", "still a draft"))  # not public
    db_session.commit()
    queued = db_session.scalars(select(Notification).order_by(Notification.id)).all()
    assert [(n.kind, n.email) for n in queued] == [("article_updated", "front.desk@riverside.test"),
                                                   ("article_updated", "manager@riverside.test")]
    first = queued[0]
    assert first.subject == f"Article updated: {article.title}" and first.sent_at is None
    assert first.url.endswith(article.path) and first.url.startswith("http")
    assert first.follow_id == follows[0].id and "/hc/unfollow/" in first.unfollow_url

    with client.application.app_context():
        service.publish_article(db_session, editor.agent, draft)  # a new article in a followed section
    db_session.commit()
    newest = db_session.scalars(select(Notification).where(Notification.article_id == draft.id)).all()
    assert {(n.kind, n.email) for n in newest} == {("article_published", "front.desk@riverside.test"),
                                                    ("article_published", "manager@riverside.test")}

    # The emailed link unfollows without signing in (a confirming POST, so mail scanners cannot).
    token, follow_id = follows[2].token, follows[2].id
    assert "Stop following?" in client.get(f"/hc/unfollow/{token}").text
    assert db_session.get(Follow, follow_id) is not None
    assert "You no longer follow this" in post_form(client, f"/hc/unfollow/{token}", f"/hc/unfollow/{token}").text
    db_session.expire_all()
    assert db_session.get(Follow, follow_id) is None
    assert client.get(f"/hc/unfollow/{token}").status_code == 404

    post_form(client, follow_url, path, email="front.desk@riverside.test", action="unfollow")
    assert queries.follow_of(db_session, "front.desk@riverside.test", article_id=world.collision.id) is None


def test_a_signed_in_practice_user_follows_with_their_own_address(client: FlaskClient, db_session: Session,
                                                                  world: World, widget_token: Callable[..., str]) -> None:
    _signed_in(client, widget_token, email="pat@riverside.test")
    html = client.get(world.collision.path).text
    assert "Signed in as Pat Staff" in html and 'name="email" type="email"' not in html
    post_form(client, f"/hc/articles/{world.collision.id}/follow", world.collision.path)
    follow = db_session.scalars(select(Follow)).one()
    assert (follow.email, follow.user_id, follow.practice_id) == ("pat@riverside.test", "u-1", "P1")
    assert "You follow this article at <strong>pat@riverside.test</strong>" in client.get(world.collision.path).text


def test_comments_by_signed_in_users_wait_for_an_agent(client: FlaskClient, db_session: Session, world: World,
                                                       widget_token: Callable[..., str], plain_agent: NewAgent) -> None:
    path = world.collision.path
    comment_url = f"/hc/articles/{world.collision.id}/comments"
    assert "open this article from the help widget" in client.get(path).text
    assert post_form(client, comment_url, path, body="anonymous?").status_code == 401

    _signed_in(client, widget_token)
    assert 'id="comment-body"' in client.get(path).text
    attack = "Thanks! <script>alert(1)</script><img src=x onerror=alert(1)> [x](javascript:alert(1))"
    assert post_form(client, comment_url, path, body=attack).status_code == 302
    assert post_form(client, comment_url, path, body="   ").status_code == 302  # empty: a message, nothing stored
    comment = db_session.scalars(select(Comment)).one()
    assert comment.status == "pending" and comment.practice_id == "P1" and comment.author_name == "Pat Staff"

    own_view = client.get(path).text
    assert "awaiting moderation" in own_view and "<script>alert(1)" not in own_view
    assert "&lt;script&gt;" in own_view and 'href="javascript' not in own_view.lower()
    stranger = client.application.test_client().get(path).text
    assert "Thanks!" not in stranger

    service.moderate_comment(db_session, plain_agent.agent, comment, "published")
    db_session.commit()
    public = client.application.test_client().get(path).text
    assert "Thanks!" in public and "<script>alert(1)" not in public and "Comments <span class=\"quiet\">(1)</span>" in public

    article = db_session.get(Article, world.collision.id)
    service.set_comments_enabled(db_session, None, article, False)
    db_session.commit()
    assert "This article is closed for comments." in client.get(path).text
    response = post_form(client, comment_url, path, body="more")
    assert response.status_code == 409


def test_sign_in_refuses_bad_tokens_and_foreign_redirects(client: FlaskClient, widget_token: Callable[..., str]) -> None:
    assert client.post("/hc/session").status_code == 401
    assert client.post("/hc/session", data={"token": "not-a-jwt"}).status_code == 401
    assert client.get("/hc/session", query_string={"token": widget_token()}).status_code == 405  # never a URL token
    for target in ("https://evil.test/", "//evil.test/hc", "/console/kb", "/hc\\@evil.test"):
        response = client.post("/hc/session", data={"token": widget_token(), "next": target})
        assert response.headers["Location"] == "/hc", target
    response = post_form(client, "/hc/session/end", "/hc", next="/hc/search")
    assert response.headers["Location"] == "/hc/search"
    assert "Signed in as" not in client.get("/hc").text


def test_label_and_search_pages(client: FlaskClient, world: World) -> None:
    html = client.get("/hc/labels/collision").text
    assert world.collision.title in html and world.draft.title not in html
    page = client.get("/hc/search?q=collisions").text
    assert "result" in page and "<mark>" in page and world.collision.title in page
    assert "Type a few words" in client.get("/hc/search").text
    assert "No article matches" in client.get("/hc/search?q=zzzzqqq").text
    assert client.get("/hc/search?q=collision&page=abc").status_code == 200
    assert client.get("/hc/search?q=collision&page=99999999999").status_code == 200


def test_help_center_links_to_the_request_form(client: FlaskClient, world: World) -> None:
    html = client.get(world.collision.path).text
    assert 'href="/hc/requests/new"' in html
