"""Bookings at risk (each cause), the morning digest in two zones (one across a DST change), ingest validation."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete, select

from helpdesk.bookings import digest
from helpdesk.bookings.models import DigestRun, Practice
from helpdesk.core import db
from helpdesk.core.clock import advance, frozen_at, utcnow
from helpdesk.outbox.models import OutboxMessage
from tests.helpdesk import factories as f
from tests.helpdesk.bookings.helpers import booking, now_iso, practice

# Thursday 22 October 2026, 12:00 UTC; British Summer Time ends on Sunday 25 October.
THU_NOON = datetime(2026, 10, 22, 12, 0, tzinfo=UTC)


def test_at_risk_lists_every_cause_and_nothing_safe(ingest, client, agent_headers, widget_headers):
    own = widget_headers("AR")  # minted on the real clock: the token library checks expiry against it
    with frozen_at(THU_NOON):
        ingest(practice("AR", tz="Europe/London"))
        friday = "2026-10-23T{}:00+01:00"
        refs = {"failed": "09:00", "pending": "09:30", "sidebar": "10:00", "cancelled_in": "10:30",
                "cancelled_removed": "11:00", "inserted": "11:30", "cancelled_never": "12:00", "saturday": None}
        ingest(*(booking(f"BK-{name}", "AR", friday.format(t) if t else "2026-10-24T09:00:00+01:00")
                 for name, t in refs.items()))
        ingest(f.diary_failed("patient_match", "BK-failed", "AR", occurred_at=now_iso()),
               f.sidebar_event("alerted", "BK-sidebar", "AR", occurred_at=now_iso()),
               f.diary_inserted("BK-cancelled_in", "AR", occurred_at=now_iso()),
               f.diary_inserted("BK-cancelled_removed", "AR", occurred_at=now_iso()),
               f.diary_inserted("BK-inserted", "AR", occurred_at=now_iso()),
               f.diary_inserted("BK-saturday", "AR", occurred_at=now_iso()))
        ingest(*(f.booking_event("booking.cancelled", ref, "AR", occurred_at=now_iso())
                 for ref in ("BK-cancelled_in", "BK-cancelled_removed", "BK-cancelled_never")))
        ingest(f.booking_event("diary.removed", "BK-cancelled_removed", "AR", occurred_at=now_iso()))
        body = client.get("/api/v1/practices/AR/bookings/at-risk?date=2026-10-23", headers=agent_headers).get_json()
        assert body["practice_id"] == "AR" and body["date"] == "2026-10-23"
        rows = {b["reference"]: b for b in body["bookings"]}
        assert list(rows) == ["BK-failed", "BK-pending", "BK-sidebar", "BK-cancelled_in"]
        assert rows["BK-failed"]["causes"] == ["diary_patient_match"]
        assert rows["BK-pending"]["causes"] == ["diary_pending"]
        assert rows["BK-sidebar"]["causes"] == ["sidebar_transfer_pending"]
        assert rows["BK-cancelled_in"]["causes"] == ["cancelled_in_diary"]
        assert {"accommodate_patient", "fix_patient_record"} <= {a["code"] for a in rows["BK-failed"]["actions"]}
        assert rows["BK-cancelled_in"]["actions"][0]["code"] == "remove_from_diary"
        assert rows["BK-failed"]["patient"]["masked"] is True
        mine = client.get("/api/v1/me/bookings/at-risk?date=2026-10-23", headers=own).get_json()
        assert [b["reference"] for b in mine["bookings"]] == list(rows)
        assert mine["bookings"][0]["patient"]["masked"] is False
        # Today (Thursday) by default; a practice user never sees another practice.
        assert client.get("/api/v1/me/bookings/at-risk", headers=own).get_json()["date"] == "2026-10-22"
        bad = client.get("/api/v1/practices/AR/bookings/at-risk?date=23/10/2026", headers=agent_headers)
        assert bad.status_code == 422 and bad.get_json()["error"]["code"] == "invalid_parameter"
        assert client.get("/api/v1/practices/NOPE/bookings/at-risk", headers=agent_headers).status_code == 404


def _digests(db_session):
    return [(r.recipient, r.dedupe_key, r.created_at) for r in
            db_session.scalars(select(OutboxMessage).where(OutboxMessage.dedupe_key.like("digest:%"))
                               .order_by(OutboxMessage.id))]


def test_the_digest_goes_out_once_at_local_time_in_two_zones_across_a_dst_change(app, db_session, ingest):
    start = datetime(2026, 10, 22, 18, 0, tzinfo=UTC)  # Thursday evening in London
    with frozen_at(start):
        ingest(practice("LON", tz="Europe/London"), practice("BNE", tz="Australia/Brisbane", digest_time="06:30"),
               practice("QUIET", tz="Europe/London"))
        # At risk: Friday and Monday in London; Friday and Monday in Brisbane.
        ingest(booking("L-FRI", "LON", "2026-10-23T10:00:00+01:00"), booking("L-MON", "LON", "2026-10-26T10:00:00Z"),
               booking("B-FRI", "BNE", "2026-10-23T10:00:00+10:00"), booking("B-MON", "BNE", "2026-10-26T10:00:00+10:00"))
        seen: dict[str, datetime] = {}
        for _ in range(4 * 24 * 4):  # four days in 15-minute steps
            with app.app_context():
                digest.run(db_session, utcnow(), app.config)
            for _recipient, key, _at in _digests(db_session):
                seen.setdefault(key, utcnow())
            advance(timedelta(minutes=15))
    assert seen == {
        # Brisbane (UTC+10): Friday 06:30 local is Thursday 20:30 UTC; Monday 06:30 is Sunday 20:30 UTC.
        "digest:BNE:2026-10-23:0": datetime(2026, 10, 22, 20, 30, tzinfo=UTC),
        "digest:BNE:2026-10-26:0": datetime(2026, 10, 25, 20, 30, tzinfo=UTC),
        # London: Friday 07:00 BST is 06:00 UTC; Monday 07:00 GMT (after the change) is 07:00 UTC.
        "digest:LON:2026-10-23:0": datetime(2026, 10, 23, 6, 0, tzinfo=UTC),
        "digest:LON:2026-10-26:0": datetime(2026, 10, 26, 7, 0, tzinfo=UTC),
    }
    rows = db_session.scalars(select(OutboxMessage).where(OutboxMessage.dedupe_key == "digest:LON:2026-10-23:0")).all()
    [friday] = rows
    assert friday.recipient == "front@lon.test"
    assert "L-FRI" in friday.payload["text"] and "L-MON" in friday.payload["text"]  # today and the next working day
    runs = {(r.practice_id, r.day.isoformat()): r.at_risk for r in db_session.scalars(select(DigestRun))}
    assert runs[("QUIET", "2026-10-23")] == 0  # decided once, nothing sent
    assert ("LON", "2026-10-24") not in runs  # Saturday is not a working day


def test_two_senders_never_send_a_digest_twice(app):
    engine = db.get_engine(app)
    with app.app_context():
        session = db.session()
        session.execute(delete(DigestRun))
        session.commit()
    with frozen_at(datetime(2026, 10, 23, 7, 0, tzinfo=UTC)):  # 08:00 in London
        from tests.helpdesk.factories import signed_post

        client = app.test_client()
        events = [practice("TWO", tz="Europe/London"), booking("T-1", "TWO", "2026-10-23T15:00:00+01:00")]
        events[0]["data"]["notification_settings"]["booking_emails"] = ["a@two.test", "b@two.test"]
        assert signed_post(client, events, app.config["INGEST_SECRET"]).status_code == 200
        barrier = threading.Barrier(2)
        reports: list[dict[str, int]] = []

        def sender() -> None:
            with app.app_context():
                barrier.wait()
                reports.append(digest.run(db.session(), utcnow(), app.config))
                db.session.remove()

        threads = [threading.Thread(target=sender) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
    try:
        with app.app_context():
            session = db.session()
            keys = sorted(session.scalars(select(OutboxMessage.dedupe_key).where(OutboxMessage.dedupe_key.like("digest:TWO:%"))))
            assert keys == ["digest:TWO:2026-10-23:0", "digest:TWO:2026-10-23:1"]
            assert sorted(r["sent"] for r in reports) == [0, 1]
            assert len(session.scalars(select(DigestRun).where(DigestRun.practice_id == "TWO")).all()) == 1
    finally:
        with app.app_context():
            session = db.session()
            session.execute(delete(OutboxMessage).where(OutboxMessage.dedupe_key.like("digest:TWO:%")))
            session.execute(delete(Practice).where(Practice.id == "TWO"))
            from helpdesk.bookings.models import IngestedEvent

            session.execute(delete(IngestedEvent).where(IngestedEvent.practice_id == "TWO"))
            session.commit()
        engine.dispose()


@pytest.mark.parametrize(("data", "field"), [
    ({"opening_hours": {"mon": [["08:00", "07:00"]]}}, "data.opening_hours.mon[0]"),
    ({"opening_hours": {"monday": []}}, "data.opening_hours.monday"),
    ({"opening_hours": {"tue": [["8am", "17:00"]]}}, "data.opening_hours.tue[0][0]"),
    ({"opening_hours": ["mon"]}, "data.opening_hours"),
    ({"holidays_region": "XX-YY"}, "data.holidays_region"),
    ({"holidays_region": "AU-ZZZ"}, "data.holidays_region"),
    ({"digest_time": "7am"}, "data.digest_time"),
    ({"digest_time": "24:00"}, "data.digest_time"),
])
def test_ingest_rejects_bad_practice_hours_naming_the_field(ingest, data, field):
    event = f.practice_upserted("VAL")
    event["data"].update(data)
    body = ingest(event, expect=422)
    assert body["error"]["field"] == field, body


def test_ingest_validates_closed_days_and_removals(ingest):
    bad_date = ingest(f.event("practice.closed", "VAL", {"date": "2026-02-30"}), expect=422)
    assert bad_date["error"]["field"] == "data.date"
    assert ingest(f.event("diary.removed", "VAL", {}), expect=422)["error"]["field"] == "data.reference"
    ok = f.practice_upserted("VAL")
    ok["data"].update({"opening_hours": {"mon": [["08:00", "12:00"], ["13:00", "17:30"]], "sun": []},
                       "holidays_region": "au-qld", "digest_time": "06:45"})
    assert ingest(ok, f.event("practice.closed", "VAL", {"date": "2026-12-24", "reason": "Christmas Eve"}))["accepted"] == 2
