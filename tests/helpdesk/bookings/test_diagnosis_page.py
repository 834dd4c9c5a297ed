"""The diagnosis as the console writes it: who was (not) alerted, and a sidebar booking that is
still waiting reads as waiting."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient

from helpdesk.core.agents import NewAgent
from helpdesk.core.clock import utcnow
from tests.helpdesk import factories as f
from tests.helpdesk.test_console import log_in


@pytest.fixture
def signed_in(client: FlaskClient, agent: NewAgent) -> FlaskClient:
    assert log_in(client, agent.agent.email, agent.password).status_code == 303
    return client


def ago(hours: float) -> str:
    return f.iso(utcnow() - timedelta(hours=hours))


def failed_booking(reason: str, reference: str) -> list[dict[str, Any]]:
    return [
        f.booking_created(reference, occurred_at=ago(2)),
        f.email_event("delivered", reference, occurred_at=ago(1.9)),
        f.diary_failed(reason, reference, detail="The practice software said no", occurred_at=ago(1.9)),
    ]


def alerted_section(client: FlaskClient, practice_id: str, reference: str) -> str:
    page = client.get(f"/console/practices/{practice_id}?booking={reference}")
    assert page.status_code == 200, page.text
    section = re.search(r'<h3 id="alerted-title">Who was alerted</h3>(.*?)</section>', page.text, re.S)
    assert section is not None
    return words(section.group(1))


def words(markup: str) -> str:
    """The text a reader hears: tags and the badges' decorative marks dropped."""
    markup = re.sub(r'<span class="badge-mark" aria-hidden="true">.*?</span>', "", markup).replace("<wbr>", "")
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", markup)).split())


@pytest.mark.parametrize(("reason", "why"), [
    ("patient_match", "the platform sends no alert email when the patient cannot be matched in the practice software"),
    ("rejected", "the platform sends no alert email when the practice software rejects an appointment"),
])
def test_a_failure_no_alert_is_sent_for_says_nobody_was_told(signed_in: FlaskClient, ingest: Callable[..., Any],
                                                             reason: str, why: str) -> None:
    ingest(f.practice_upserted("P1", occurred_at=ago(48)), *failed_booking(reason, "BK-1"))
    text = alerted_section(signed_in, "P1", "BK-1")
    assert "No alert was needed" not in text
    assert text.startswith("Not told Nobody was alerted: " + why)
    assert "The practice should have been told that this booking is not in its diary: tell them." in text


def test_an_alerted_collision_lists_the_alert_and_says_nothing_more(signed_in: FlaskClient,
                                                                   ingest: Callable[..., Any]) -> None:
    ingest(f.practice_upserted("P1", occurred_at=ago(48)), *failed_booking("collision", "BK-1"),
           f.alert_sent("collision", reference="BK-1", occurred_at=ago(1.8)))
    text = alerted_section(signed_in, "P1", "BK-1")
    assert text.startswith("Collision alert to manager@riverside.test")
    assert "Nobody" not in text and "No alert was needed" not in text


def test_a_booking_in_the_diary_needed_no_alert(signed_in: FlaskClient, ingest: Callable[..., Any]) -> None:
    ingest(f.practice_upserted("P1", occurred_at=ago(48)), f.booking_created("BK-1", occurred_at=ago(2)),
           f.email_event("delivered", "BK-1", occurred_at=ago(1.9)), f.diary_inserted("BK-1", occurred_at=ago(1.9)))
    assert alerted_section(signed_in, "P1", "BK-1") == "No alert was needed: the booking reached the diary."


def test_a_sidebar_booking_waiting_to_be_transferred_reads_as_waiting(signed_in: FlaskClient,
                                                                    ingest: Callable[..., Any]) -> None:
    ingest(f.practice_upserted("S1", mode="sidebar", software=None, occurred_at=ago(48)),
           f.booking_created("SB-1", "S1", occurred_at=ago(2)),
           f.email_event("delivered", "SB-1", "S1", occurred_at=ago(1.9)),
           f.sidebar_event("alerted", "SB-1", "S1", occurred_at=ago(1.9)))
    page = html.unescape(signed_in.get("/console/practices/S1?booking=SB-1").text)
    verdict = re.search(r'<p class="verdict[^>]*>(.*?)</p>', page, re.S)
    assert verdict is not None
    assert words(verdict.group(1)).endswith("Received 3 of 3 ways: the bookings list, email and a sidebar alert "
                            "(waiting in the sidebar to be transferred by hand).")
    assert "Done" not in page
    assert re.search(r"Alerted in the sidebar [^<]+; waiting to be written to the diary by hand\.", page)
    assert "nobody has transferred the booking to the diary yet" in alerted_section(signed_in, "S1", "SB-1")


def test_a_transferred_sidebar_booking_says_so(signed_in: FlaskClient, ingest: Callable[..., Any]) -> None:
    ingest(f.practice_upserted("S1", mode="sidebar", software=None, occurred_at=ago(48)),
           f.booking_created("SB-1", "S1", occurred_at=ago(2)),
           f.sidebar_event("alerted", "SB-1", "S1", occurred_at=ago(1.9)),
           f.sidebar_event("transferred", "SB-1", "S1", occurred_at=ago(1)))
    page = html.unescape(signed_in.get("/console/practices/S1?booking=SB-1").text)
    assert re.search(r"Transferred by hand [^<]+\.", page)
    assert "Received 2 of 3 ways: the bookings list and the diary" in page
