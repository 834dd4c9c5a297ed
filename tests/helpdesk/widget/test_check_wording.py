""""Check a booking" in sentences: each way reads "Booking email: received", never a bare status
code after it; a booking waiting in the sidebar reads as waiting; a failure no alert is sent for
says that nobody told the practice."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask.testing import FlaskClient

from tests.helpdesk.factories import (
    at,
    booking_created,
    diary_failed,
    diary_inserted,
    email_event,
    practice_upserted,
    sidebar_event,
)

Headers = Callable[..., dict[str, str]]


def check(client: FlaskClient, headers: Headers, practice_id: str, reference: str) -> dict[str, Any]:
    answer = client.get(f"/api/v1/me/widget/check?q={reference}", headers=headers(practice_id))
    assert answer.status_code == 200, answer.get_data(as_text=True)
    return answer.get_json()["diagnosis"]  # type: ignore[no-any-return]


def test_each_way_is_a_sentence(client: FlaskClient, ingest: Callable[..., Any], widget_headers: Headers) -> None:
    ingest(practice_upserted("P1", occurred_at=at(-10_000)), booking_created("BK-1", occurred_at=at(0)),
           email_event("delivered", "BK-1", occurred_at=at(1)), diary_inserted("BK-1", occurred_at=at(2)))
    ways = check(client, widget_headers, "P1", "BK-1")["ways"]
    assert [(w["text"], w["detail"]) for w in ways] == [
        ("Bookings list: received", ""),
        ("Booking email: received", "front@riverside.test: delivered"),
        ("Diary: received", "inserted"),
    ]


def test_a_booking_waiting_in_the_sidebar_reads_as_waiting(client: FlaskClient, ingest: Callable[..., Any],
                                                           widget_headers: Headers) -> None:
    ingest(practice_upserted("S1", mode="sidebar", software=None, occurred_at=at(-10_000)),
           booking_created("SB-1", "S1", occurred_at=at(0)), sidebar_event("alerted", "SB-1", "S1", occurred_at=at(1)))
    diary = check(client, widget_headers, "S1", "SB-1")["ways"][2]
    assert diary == {"key": "diary", "received": False, "detail": "",
                     "text": "Sidebar: waiting to be transferred to your diary by hand"}


def test_a_failure_no_alert_is_sent_for_says_nobody_told_the_practice(
        client: FlaskClient, ingest: Callable[..., Any], widget_headers: Headers) -> None:
    ingest(practice_upserted("P1", occurred_at=at(-10_000)), booking_created("BK-1", occurred_at=at(0)),
           diary_failed("patient_match", "BK-1", detail="Two records share this name", occurred_at=at(1)))
    diagnosis = check(client, widget_headers, "P1", "BK-1")
    assert diagnosis["alerted_note"] == (
        "No: no alert email is ever sent when the patient cannot be matched in your practice software, so nobody "
        "told you that this booking is not in your diary.")
    assert diagnosis["ways"][2]["detail"] == "the patient could not be matched · Two records share this name"


def test_a_collision_with_alerts_turned_off_says_so(client: FlaskClient, ingest: Callable[..., Any],
                                                    widget_headers: Headers) -> None:
    ingest(practice_upserted("P1", collision_alerts=False, occurred_at=at(-10_000)),
           booking_created("BK-1", occurred_at=at(0)), diary_failed("collision", "BK-1", occurred_at=at(1)))
    assert check(client, widget_headers, "P1", "BK-1")["alerted_note"].startswith("No: this kind of alert email is turned off")
