"""The request verbs, called directly: snapshots, comments and transitions."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from helpdesk.core.clock import utcnow
from helpdesk.core.errors import Conflict, InvalidInput
from helpdesk.requests import service
from tests.factories import (
    make_agent,
    make_booking,
    make_practice,
    make_request,
    practice_user,
)


def test_a_request_naming_its_booking_carries_the_diagnosis(db_session: Session, app_context: None) -> None:
    practice = make_practice(db_session)
    booking = make_booking(db_session, practice, trait="collision_unalerted")
    req = make_request(db_session, practice_user(practice), booking_reference=booking.reference)
    assert req.practice_id == practice.id and req.status == "new"
    assert req.booking_snapshot is not None and req.booking_snapshot["causes"] == ["diary_collision", "alert_not_sent"]


def test_another_practices_booking_reference_is_refused(db_session: Session, app_context: None) -> None:
    theirs = make_booking(db_session, make_practice(db_session), trait="collision")
    with pytest.raises(InvalidInput):
        make_request(db_session, practice_user(make_practice(db_session)), booking_reference=theirs.reference)


def test_an_agent_reply_opens_the_request_and_a_closed_one_stays_closed(db_session: Session, app_context: None) -> None:
    req = make_request(db_session)
    agent = make_agent(db_session).agent
    service.add_comment(db_session, req, agent, "We are on it.", now=utcnow())
    assert req.status == "open"
    service.update_request(db_session, req, agent, utcnow(), status="solved")
    service.update_request(db_session, req, agent, utcnow(), status="closed")
    with pytest.raises(Conflict):
        service.update_request(db_session, req, agent, utcnow(), status="open")
