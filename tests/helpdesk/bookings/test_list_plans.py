"""The bookings list gives the same rows, in the same order and pages, whichever plan it takes.

A text search is walked in appointment order when it matches many bookings and split into one
branch per alternative when it matches few (``DENSE_MATCHES``); several statuses or "missed"
are branches too. Each plan is checked here against the other and against the whole list sorted
in Python, page by page and back again with ``newer_cursor``.
"""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from helpdesk.bookings import queries
from helpdesk.bookings.models import Booking
from helpdesk.bookings.queries import BookingFilters, list_bookings, newer_cursor
from tests.factories import make_booking, make_practice

FIRST_NAMES = ("Aoife", "Liam", "Seán", "Grace", "Zoe")
LAST_NAMES = ("Murphy", "Kelly", "Murray", "O'Brien", "Nguyen")
TRAITS = ("healthy", "collision", "email_bounced", "diary_pending", "rejected")
PAGE = 4

FILTERS = [
    BookingFilters(),
    BookingFilters(q="mur"),
    BookingFilters(q="murphy"),
    BookingFilters(q="aoife murphy"),
    BookingFilters(q="kelly liam"),
    BookingFilters(q="sean"),
    BookingFilters(q="LP-1"),
    BookingFilters(q="nobody"),
    BookingFilters(q="mur", diary_status=("inserted",)),
    BookingFilters(q="aoife", missed_only=True),
    BookingFilters(email_status=("bounced", "delivered")),
    BookingFilters(diary_status=("collision", "rejected")),
    BookingFilters(missed_only=True),
]


@pytest.fixture
def practice_id(db_session: Session) -> str:
    rng = random.Random(5)
    practice = make_practice(db_session)
    for n in range(40):
        # Whole hours only, so several bookings share an appointment time and the id decides.
        make_booking(db_session, practice, f"LP-{n:03d}", trait=rng.choice(TRAITS),
                     first_name=rng.choice(FIRST_NAMES), last_name=rng.choice(LAST_NAMES),
                     appointment_in=timedelta(hours=rng.randint(1, 12)))
    return practice.id


def _pages(session: Session, practice_id: str, filters: BookingFilters) -> list[list[str]]:
    pages, cursor = [], None
    while True:
        rows, cursor = list_bookings(session, practice_id, filters, cursor, PAGE)
        pages.append([b.reference for b in rows])
        if cursor is None:
            return pages


def _newest_first(session: Session, practice_id: str, references: set[str]) -> list[str]:
    rows = session.scalars(select(Booking).where(Booking.practice_id == practice_id))
    return [b.reference for b in sorted((b for b in rows if b.reference in references),
                                        key=lambda b: (b.appointment_at, b.id), reverse=True)]


@pytest.mark.parametrize("filters", FILTERS, ids=lambda f: repr(f)[len("BookingFilters"):])
def test_every_plan_gives_the_same_pages(db_session: Session, practice_id: str, filters: BookingFilters,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(queries, "DENSE_MATCHES", 10**6)  # every text search is "rare": branches
    branched = _pages(db_session, practice_id, filters)
    monkeypatch.setattr(queries, "DENSE_MATCHES", 1)  # every text search is "common": one walk
    walked = _pages(db_session, practice_id, filters)
    assert branched == walked

    listed = [reference for page in walked for reference in page]
    assert len(listed) == len(set(listed))
    assert listed == _newest_first(db_session, practice_id, set(listed))
    assert all(len(page) == PAGE for page in walked[:-1])


@pytest.mark.parametrize("dense", [1, 10**6])
def test_newer_leads_back_page_by_page(db_session: Session, practice_id: str, dense: int,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(queries, "DENSE_MATCHES", dense)
    filters = BookingFilters(q="mur")
    cursors: list[str | None] = [None]
    while True:
        _, cursor = list_bookings(db_session, practice_id, filters, cursors[-1], PAGE)
        if cursor is None:
            break
        cursors.append(cursor)
    assert len(cursors) > 2
    for before, cursor in zip(cursors, cursors[1:]):
        assert newer_cursor(db_session, practice_id, filters, cursor, PAGE) == before


def test_a_rare_full_name_finds_exactly_its_bookings(db_session: Session, practice_id: str) -> None:
    rows = db_session.scalars(select(Booking).where(Booking.practice_id == practice_id))
    expected = {b.reference for b in rows if (b.patient_first_name, b.patient_last_name) == ("Aoife", "Murphy")}
    assert expected
    listed, _ = list_bookings(db_session, practice_id, BookingFilters(q="aoife murphy"), None, 50)
    assert {b.reference for b in listed} == expected
