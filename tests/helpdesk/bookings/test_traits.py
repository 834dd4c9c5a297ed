"""The diagnosis of each kind of booking the factories can build, through the read path the API
uses: the factories' traits and the diagnosis' cause codes agree."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from helpdesk.bookings.queries import BookingFilters, diagnose_booking, list_bookings
from helpdesk.core.clock import utcnow
from tests.factories import make_booking, make_practice


@pytest.mark.parametrize(
    ("trait", "ways", "causes", "diary"),
    [
        ("healthy", 3, [], "inserted"),
        ("collision", 2, ["diary_collision"], "collision"),
        ("collision_unalerted", 2, ["diary_collision", "alert_not_sent"], "collision"),
        ("connection_lost", 2, ["diary_connection_lost", "alert_not_sent"], "connection_lost"),
        ("patient_match", 2, ["diary_patient_match"], "patient_match"),
        ("rejected", 2, ["diary_rejected"], "rejected"),
        ("email_bounced", 2, ["email_bounced"], "inserted"),
        ("diary_pending", 2, ["diary_pending"], "pending"),
    ],
)
def test_each_trait_is_diagnosed_as_it_says(db_session: Session, app_context: None, trait: str, ways: int,
                                             causes: list[str], diary: str) -> None:
    practice = make_practice(db_session)
    booking = make_booking(db_session, practice, trait=trait)
    verdict = diagnose_booking(db_session, practice.id, booking.reference, utcnow())
    assert verdict is not None
    assert (verdict["received_ways"], verdict["causes"], booking.diary_status) == (ways, causes, diary)


def test_a_practice_without_a_booking_address_gets_email_not_configured(db_session: Session, app_context: None) -> None:
    practice = make_practice(db_session, no_booking_email=True)
    booking = make_booking(db_session, practice, trait="not_emailed")
    verdict = diagnose_booking(db_session, practice.id, booking.reference, utcnow())
    assert verdict is not None and verdict["causes"] == ["email_not_configured"] and verdict["received_ways"] == 2


def test_the_missed_filter_lists_only_bookings_that_missed_a_way(db_session: Session) -> None:
    practice = make_practice(db_session)
    make_booking(db_session, practice, "OK-1", trait="healthy")
    make_booking(db_session, practice, "BAD-1", trait="collision")
    rows, _ = list_bookings(db_session, practice.id, BookingFilters(missed_only=True), None, 50)
    assert [b.reference for b in rows] == ["BAD-1"]


def test_another_practices_booking_is_not_found(db_session: Session, app_context: None) -> None:
    mine, theirs = make_practice(db_session), make_practice(db_session)
    booking = make_booking(db_session, theirs, trait="collision")
    assert diagnose_booking(db_session, mine.id, booking.reference, utcnow()) is None
