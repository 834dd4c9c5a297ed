"""The labelled set (bench/assistant_cases.yaml, >= 150 messages) against the full world: at
least 95% right booking and cause, and no leak at all. ``bench/assistant.py`` prints the same
figures per kind, with the time to answer."""

from __future__ import annotations

from typing import Any

from flask import Flask
from sqlalchemy.orm import Session

from helpdesk.core.clock import frozen_at
from tests.chat.assistant import evaluate, world


def test_the_labelled_set(app: Flask, app_context: None, db_session: Session) -> None:
    with frozen_at(world.NOW):
        world.build(db_session)
        db_session.flush()
        results = evaluate.run(db_session)
    figures: dict[str, Any] = evaluate.summary(results)
    assert figures["cases"] >= 150
    leaks = [(r.case["text"], r.leaks) for r in results if r.leaks]
    assert leaks == []
    wrong = [r.case["text"] for r in results if not (r.booking_ok and r.cause_ok)]
    assert figures["booking_and_cause"] >= 0.95, wrong
    assert figures["kind"] >= 0.9
    assert figures["handoff"] >= 0.95


def test_a_leak_is_a_forbidden_string_said_as_a_whole_word_that_the_message_did_not_contain() -> None:
    forbidden = ["Ada Lovelace", "Lovelace", "RB-1234", "12/03/1990"]
    said = "Ada Lovelace's booking RB-12345 is on 12/03/1990. Lovelaces are not Lovelace2."
    assert evaluate.leaks_in(said, "when is my booking?", forbidden) == ["12/03/1990", "Ada Lovelace", "Lovelace"]
    assert evaluate.leaks_in(said, "Is ada lovelace booked?", forbidden) == ["12/03/1990"]  # the surname too
    assert evaluate.leaks_in("RB-1234.", "", forbidden) == ["RB-1234"]
    assert evaluate.leaks_in("xRB-1234", "", forbidden) == []
