"""Booking references in a request's subject, description and comments link to the booking's
diagnosis for agents; practices read them as text (no Help Center page checks a booking).
Everything else stays escaped."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from helpdesk.core.agents import NewAgent
from tests.helpdesk.requests.helpers import (
    post_with_csrf,
    sign_in_practice_user,
    submit_form,
)

SCRIPT = "<script>alert('x')</script>"


def ref_links(html: str) -> list[tuple[str, str]]:
    return re.findall(r'<a class="booking-ref" href="([^"]+)">([^<]+)</a>', html)


def test_references_link_to_their_diagnosis_for_agents_and_stay_text_for_practices(
        app: Flask, client: FlaskClient, agent_client: FlaskClient, db_session: Session, world: None,
        widget_headers: Callable[..., Any], agent: NewAgent) -> None:
    created = client.post("/api/v1/requests", headers=widget_headers("P1", "u-1"), json={
        "subject": "Booking BK-1 is not in the diary",
        "description": f"Also bk-3, (BK-2). Not BK-999, OT-1 (not ours) or COVID-19. {SCRIPT}",
    }).get_json()
    request_id = created["id"]
    client.post(f"/api/v1/requests/{request_id}/comments", headers=widget_headers("P1", "u-1"),
                json={"body": f"Still missing: BK-3 {SCRIPT}"})
    page = f"/console/requests/{request_id}"
    post_with_csrf(agent_client, f"{page}/comments", page, {"body": "Checked BK-2; <b>moved</b>.",
                                                              "visibility": "internal"})

    html = agent_client.get(page).text
    diagnosis = "/console/practices/P1?booking="
    heading = re.search(r"<h1>(.*?)</h1>", html, re.DOTALL)
    assert heading and ref_links(heading.group(1)) == [(diagnosis + "BK-1", "BK-1")]
    bodies = re.findall(r'<div class="comment-body">(.*?)</div>', html, re.DOTALL)
    assert [ref_links(body) for body in bodies] == [
        [(diagnosis + "BK-3", "bk-3"), (diagnosis + "BK-2", "BK-2")],  # as typed, to the stored reference
        [(diagnosis + "BK-3", "BK-3")],
        [(diagnosis + "BK-2", "BK-2")],
    ]
    assert "(<a class=\"booking-ref\"" in bodies[0] and "</a>)." in bodies[0]  # punctuation stays outside
    assert "BK-999" in bodies[0] and "OT-1" in bodies[0] and "COVID-19" in bodies[0]
    assert SCRIPT not in html and "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in bodies[1]
    assert "&lt;b&gt;moved&lt;/b&gt;" in bodies[2]

    sign_in_practice_user(client, "P1", "u-1")
    practice_page = client.get(f"/hc/requests/{request_id}").text
    assert ref_links(practice_page) == [] and "/console/" not in practice_page
    assert "Booking BK-1 is not in the diary" in practice_page and "Also bk-3, (BK-2)." in practice_page
    assert SCRIPT not in practice_page and "&lt;script&gt;" in practice_page


def test_without_a_practice_nothing_is_linked(client: FlaskClient, agent_client: FlaskClient, world: None) -> None:
    response = submit_form(client, subject="BK-1 missing", description="BK-1 again")  # anonymous: no practice
    html = agent_client.get(response.headers["Location"].replace("/hc/", "/console/")).text
    assert ref_links(html) == [] and "BK-1 again" in html
