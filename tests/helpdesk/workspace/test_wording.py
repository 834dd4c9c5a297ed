"""Wording a new user tripped over: counts say "collisions", not "collision(s)"."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from flask.testing import FlaskClient

from helpdesk.core.clock import utcnow
from tests.helpdesk.console_world import practice_world
from tests.helpdesk.factories import booking_created, diary_failed, iso


def test_two_collisions_are_counted_in_words(client: FlaskClient, ingest: Callable[..., Any],
                                             widget_headers: Callable[..., dict[str, str]]) -> None:
    ingest(*practice_world("P1"))
    now = utcnow()
    ingest(booking_created("BK-9", "P1", appointment_at=iso(now + timedelta(days=2)), occurred_at=iso(now - timedelta(hours=1))),
           diary_failed("collision", "BK-9", "P1", occurred_at=iso(now - timedelta(minutes=50))))
    body = client.get("/api/v1/me/widget/home", headers=widget_headers("P1")).get_json()
    banner = next(b for b in body["banners"] if b["kind"] == "collisions")
    assert banner["count"] == 2
    assert banner["text"].startswith("2 booking collisions in the last ")
    assert "(s)" not in str(body)
