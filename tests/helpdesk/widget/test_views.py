"""The widget's HTTP side: the embed script, the panel's headers, Home's suggestions, "Check a
booking" (the same diagnosis an agent sees, in the practice's words), tenancy and bad input."""

from __future__ import annotations

import gzip
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from helpdesk import create_app
from helpdesk.widget.queries import in_practice_words
from tests.helpdesk.factories import (
    alert_sent,
    at,
    booking_created,
    booking_event,
    connector_event,
    practice_upserted,
)

WIDGET_JS_GZIP_LIMIT = 15 * 1024
Headers = Callable[..., dict[str, str]]


@pytest.fixture
def world(ingest: Any) -> None:
    ingest(
        practice_upserted("P1", occurred_at=at(-10_000)),
        practice_upserted("P2", name="Hillside Clinic", occurred_at=at(-10_000)),
        booking_created("BK-1", first_name="Jane", last_name="Smith", occurred_at=at(0), appointment_at=at(3000)),
        booking_event("email.delivered", "BK-1", occurred_at=at(1)),
        booking_event("diary.failed", "BK-1", reason="collision", detail="slot taken", occurred_at=at(2)),
        booking_created("BK-2", first_name="Jan", last_name="Smithson", occurred_at=at(10), appointment_at=at(4000)),
        booking_event("email.bounced", "BK-2", recipient="front@riverside.test", occurred_at=at(11)),
        booking_event("diary.inserted", "BK-2", occurred_at=at(12)),
        connector_event("connection_lost", occurred_at=at(20)),
        alert_sent("collision", reference="BK-1", occurred_at=at(3)),
        booking_created("SECRET-9", "P2", first_name="Zed", last_name="Other", occurred_at=at(0)),
    )


def test_widget_js_is_small_and_cacheable(client: FlaskClient) -> None:
    response = client.get("/widget.js")
    assert response.status_code == 200
    assert response.mimetype == "application/javascript"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "__STRINGS__" not in response.text and '"launcher_label": "Help"' in response.text
    assert len(gzip.compress(response.data, 9)) <= WIDGET_JS_GZIP_LIMIT


def test_the_panel_may_be_framed_only_by_allowed_origins(database_url: str) -> None:
    from tests.conftest import TEST_SECRETS

    app = create_app({"DATABASE_URL": database_url, "TESTING": True, "ASYNC_MODE": "threading",
                      "WIDGET_ORIGINS": ["https://portal.example"], **TEST_SECRETS})
    response = app.test_client().get("/widget/panel")
    csp = response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'self' https://portal.example" in csp
    assert "script-src 'self'" in csp and "connect-src 'self'" in csp
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert '"origins": ["http://localhost", "https://portal.example"]' in response.text
    # strings live in one place and reach both the template and the script
    assert "Search the Help Center" in response.text


def test_home_needs_a_widget_token(client: FlaskClient, world: None) -> None:
    for headers in ({}, {"Authorization": "Bearer nonsense"}, {"Authorization": "Basic abc"}):
        response = client.get("/api/v1/me/widget/home", headers=headers)
        assert response.status_code == 401
        assert "error" in response.get_json()


def test_expired_token_says_so(client: FlaskClient, world: None, widget_headers: Headers) -> None:
    from datetime import timedelta

    response = client.get("/api/v1/me/widget/home", headers=widget_headers(ttl=timedelta(seconds=-5)))
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "token_expired"


def test_home_shows_the_practice_state_with_articles(client: FlaskClient, world: None, widget_headers: Headers) -> None:
    response = client.get("/api/v1/me/widget/home?reference=bk-1&labels=bookings&page=/bookings",
                          headers=widget_headers("P1"))
    home = response.get_json()
    assert response.status_code == 200, home
    kinds = [b["kind"] for b in home["banners"]]
    assert kinds[0] == "connector_offline"  # most urgent first
    assert "offline since" in home["banners"][0]["text"]
    assert "collisions" in kinds and "email_bouncing" in kinds
    assert home["booking"]["reference"] == "BK-1"
    assert home["practice"]["id"] == "P1"


def test_home_of_another_practice_does_not_leak(client: FlaskClient, world: None, widget_headers: Headers) -> None:
    home = client.get("/api/v1/me/widget/home?reference=BK-1", headers=widget_headers("P2")).get_json()
    assert home["booking"] is None
    assert home["banners"] == []


def test_check_by_reference_speaks_to_the_practice(client: FlaskClient, world: None, widget_headers: Headers) -> None:
    answer = client.get("/api/v1/me/widget/check?q=bk-1", headers=widget_headers("P1")).get_json()
    diagnosis = answer["diagnosis"]
    assert diagnosis["reference"] == "BK-1"
    assert diagnosis["practice_summary"].startswith("You received this booking 2 of 3 ways: ")
    assert diagnosis["summary"].startswith("Received 2 of 3 ways")  # the agent's words are kept too
    assert "diary_collision" in diagnosis["causes"]
    assert diagnosis["practice_alerted"] and diagnosis["local"]["alerts"][0]


def test_check_by_patient_name_lists_the_matches(client: FlaskClient, world: None, widget_headers: Headers) -> None:
    answer = client.get("/api/v1/me/widget/check?q=Smith", headers=widget_headers("P1")).get_json()
    assert answer["diagnosis"] is None
    assert {b["reference"] for b in answer["bookings"]} == {"BK-1", "BK-2"}
    one = client.get("/api/v1/me/widget/check?q=Smithson", headers=widget_headers("P1")).get_json()
    assert one["diagnosis"]["reference"] == "BK-2"  # a single match opens straight away


def test_check_never_reaches_another_practice(client: FlaskClient, world: None, widget_headers: Headers) -> None:
    for q in ("SECRET-9", "Zed", "Other"):
        answer = client.get(f"/api/v1/me/widget/check?q={q}", headers=widget_headers("P1")).get_json()
        assert answer == {"query": q, "diagnosis": None, "bookings": []}


@pytest.mark.parametrize("q, status", [
    ("", 422), ("   ", 422), ("x" * 201, 400), ("' OR 1=1 --", 200), ("<script>alert(1)</script>", 200),
    ("%", 200), ("😀😀", 200), ("BK-1\x00", 200),
])
def test_check_survives_bad_input(client: FlaskClient, world: None, widget_headers: Headers, q: str, status: int) -> None:
    response = client.get("/api/v1/me/widget/check", query_string={"q": q}, headers=widget_headers("P1"))
    assert response.status_code == status, response.get_json()
    assert response.is_json


def test_the_demo_portal_embeds_the_widget(client: FlaskClient, world: None) -> None:
    response = client.get("/demo/portal?practice=P2")
    assert response.status_code == 200
    assert 'src="/widget.js" data-token="' in response.text
    assert "Hillside Clinic" in response.text
    token = client.get("/demo/portal/token?practice=P2").get_json()["token"]
    assert client.get("/api/v1/me/widget/home", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    assert client.get("/demo/portal/token", headers={"Sec-Fetch-Site": "cross-site"}).status_code == 403


def test_the_demo_portal_can_be_refused(app: Flask, client: FlaskClient, world: None) -> None:
    app.config["DEMO_PORTAL"] = False
    assert client.get("/demo/portal").status_code == 404
    assert client.get("/demo/portal/token").status_code == 404


@pytest.mark.parametrize("agent_words, practice_words", [
    ("Received 2 of 3 ways: the bookings list and email; not by the diary (booking collision).",
     "You received this booking 2 of 3 ways: the bookings list and email; not by the diary (booking collision)."),
    ("the practice has turned off this kind of alert email", "you have turned off this kind of alert email"),
    ("Escalate to engineering: an insert failed", "Contact us, this needs our engineers: an insert failed"),
])
def test_diagnosis_in_the_practices_words(agent_words: str, practice_words: str) -> None:
    assert in_practice_words(agent_words) == practice_words


def test_the_help_center_quotes_the_widgets_wording(client: FlaskClient, world: None, widget_headers: Headers) -> None:
    """kb/content/check-a-booking-yourself.md shows the answer a collision gives: keep them the same."""
    from pathlib import Path

    import kb

    article = (Path(kb.__file__).parent / "content" / "check-a-booking-yourself.md").read_text()
    quoted = next(line[2:].strip() for line in article.splitlines() if line.startswith("> You received"))
    diagnosis = client.get("/api/v1/me/widget/check?q=BK-1", headers=widget_headers("P1")).get_json()["diagnosis"]
    assert quoted.split(" (")[0] == diagnosis["practice_summary"].split(" (")[0]
    assert "(booking collision: the slot was already taken in the diary" in diagnosis["practice_summary"]
