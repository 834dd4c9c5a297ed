"""The bookings list pages both ways: "Older" walks back, "Newer" walks forward again to the first
page, which offers no "Newer"; the same with filters that merge several index walks."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from helpdesk.core.agents import NewAgent
from helpdesk.core.clock import utcnow
from tests.helpdesk import factories as f
from tests.helpdesk.test_console import log_in

PRACTICE = "/console/practices/P1"
BOOKINGS = 7


@pytest.fixture
def signed_in(client: FlaskClient, agent: NewAgent, app: Flask) -> FlaskClient:
    assert log_in(client, agent.agent.email, agent.password).status_code == 303
    app.config["BOOKINGS_PAGE_SIZE"] = 2
    return client


@pytest.fixture
def bookings(ingest: Callable[..., Any]) -> list[str]:
    """Seven bookings a day apart (BK-0 the soonest); the odd ones missed the diary."""
    now = utcnow()
    events: list[dict[str, Any]] = [f.practice_upserted("P1", occurred_at=f.iso(now - timedelta(days=2)))]
    for n in range(BOOKINGS):
        reference = f"BK-{n}"
        events += [f.booking_created(reference, appointment_at=f.iso(now + timedelta(days=n + 1)),
                                     last_name="Smith" if n % 2 else "Jones", occurred_at=f.iso(now - timedelta(hours=1))),
                   f.email_event("delivered", reference, occurred_at=f.iso(now - timedelta(minutes=50)))]
        events.append(f.diary_failed("collision", reference, occurred_at=f.iso(now - timedelta(minutes=50))) if n % 2
                      else f.diary_inserted(reference, occurred_at=f.iso(now - timedelta(minutes=50))))
    ingest(*events)
    return [f"BK-{n}" for n in reversed(range(BOOKINGS))]  # newest appointment first


def rows(page: str) -> list[str]:
    return re.findall(r'class="row-link" href="[^"]*"(?: aria-current="true")?>([^<]+)</a>', page)


def link(page: str, rel: str, label: str) -> str | None:
    found = re.search(rf'<a href="([^"]+)" rel="{rel}">{label}</a>', page)
    return found.group(1).replace("&amp;", "&") if found else None


def walk(client: FlaskClient, first_url: str) -> None:
    """Older to the end, then Newer back to the first page: the same pages, in reverse."""
    pages, url = [], first_url
    while url is not None:
        page = client.get(url).text
        pages.append(rows(page))
        url = link(page, "next", "Older")
    assert len(pages) >= 2 and "Newer</a>" not in client.get(first_url).text
    back, url = [], link(page, "prev", "Newer")
    while url is not None:
        page = client.get(url).text
        back.append(rows(page))
        url = link(page, "prev", "Newer")
    assert back == pages[-2::-1]
    assert "Newer</a>" not in page and "Newest</a>" not in page  # back on the first page


def test_older_and_newer_walk_the_same_pages(signed_in: FlaskClient, bookings: list[str]) -> None:
    first = signed_in.get(PRACTICE).text
    assert rows(first) == bookings[:2]
    walk(signed_in, PRACTICE)
    third = signed_in.get(link(signed_in.get(link(first, "next", "Older") or "").text, "next", "Older") or "").text
    assert rows(third) == bookings[4:6] and "Newest</a>" in third  # two pages in: a way straight back to the top


@pytest.mark.parametrize("filters", ["?missed=1", "?q=smith", "?diary_status=collision&diary_status=inserted"])
def test_newer_keeps_the_filters(signed_in: FlaskClient, bookings: list[str], filters: str) -> None:
    walk(signed_in, PRACTICE + filters)
    pages = rows(signed_in.get(PRACTICE + filters).text)
    assert pages and all(ref in bookings for ref in pages)
