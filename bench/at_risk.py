"""Bookings at risk and the morning digest at scale (figures in docs/PERFORMANCE.md).

    .venv/bin/python bench/at_risk.py [--bookings 200000] [--practices 10000]

1. One practice with ``--bookings`` bookings over a year (about a fifth not safely in the diary):
   p50/p95 of ``at_risk_rows`` for 200 random days (target p95 <= 20 ms).
2. ``--practices`` practices with booking emails and a few bookings at risk each: one digest run
   at 07:00 local, timed (target < 60 s).
3. The cost of incident detection at ingest: the demo world's events (``--ingest-events``) applied
   in-process in batches of 500 (``ingest.parse_batch`` + ``apply_events`` + commit) on fresh
   databases, alternately with ``INCIDENT_DETECT_AT_INGEST`` on and off, three rounds each
   (target: at most +10%).
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import insert

from helpdesk import create_app
from helpdesk.bookings import atrisk, digest
from helpdesk.bookings.models import Booking, Practice
from helpdesk.core import db
from helpdesk.core.cli import alembic_config

STATUSES = ["inserted"] * 8 + ["pending", "collision", "sidebar_alerted"]
START = datetime(2026, 1, 5, tzinfo=UTC)


def practice_row(pid: str, tz: str = "Europe/London") -> dict:
    return {"id": pid, "name": pid, "name_key": pid.lower(), "timezone": tz, "integration_mode": "integrated",
            "booking_emails": [f"front@{pid.lower()}.test"], "alert_emails": [], "collision_alerts": True,
            "connection_alerts": True, "profile_known": True}


def booking_rows(pid: str, n: int, days: int, rng: random.Random, offset: int = 0) -> list[dict]:
    rows = []
    for i in range(n):
        at = START + timedelta(days=rng.randrange(days), minutes=rng.randrange(8 * 60, 18 * 60))
        rows.append({"practice_id": pid, "reference": f"{pid}-{offset + i}", "reference_key": f"{pid}-{offset + i}".lower(),
                     "created_at": at - timedelta(days=3), "appointment_at": at, "patient_first_name": "Pat",
                     "patient_last_name": "Example", "first_name_key": "pat", "last_name_key": "example",
                     "email_status": "delivered", "diary_status": rng.choice(STATUSES), "received_ways": 2,
                     "source_event_id": f"e-{pid}-{offset + i}", "details_at": at - timedelta(days=3)})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--bookings", type=int, default=200_000)
    parser.add_argument("--practices", type=int, default=10_000)
    parser.add_argument("--ingest-events", type=int, default=60_000)
    parser.add_argument("--only", choices=("at-risk", "digest", "ingest"), default=None)
    args = parser.parse_args()
    if args.only in (None, "ingest") and args.ingest_events > 0:
        ingest_overhead(args.ingest_events)
    if args.only == "ingest":
        return
    rng = random.Random(11)
    url = f"sqlite:///{tempfile.mkdtemp(prefix='bench-at-risk-')}/bench.db"
    from alembic import command

    command.upgrade(alembic_config(url), "head")
    app = create_app({"DATABASE_URL": url, "TESTING": True, "ASYNC_MODE": "threading"})
    with app.app_context():
        session = db.session()
        session.execute(insert(Practice), [practice_row("BIG")])
        for start in range(0, args.bookings, 20_000):
            session.execute(insert(Booking), booking_rows("BIG", min(20_000, args.bookings - start), 365, rng, start))
        session.commit()
        big = session.get(Practice, "BIG")
        days = [date(2026, 1, 5) + timedelta(days=rng.randrange(365)) for _ in range(200)]
        timings, sizes = [], []
        for day in days:
            t0 = time.perf_counter()
            rows = atrisk.at_risk_rows(session, big, day, START)
            timings.append((time.perf_counter() - t0) * 1000)
            sizes.append(len(rows))
        timings.sort()
        print(f"at-risk, one practice with {args.bookings:,} bookings: p50 {statistics.median(timings):.2f} ms, "
              f"p95 {timings[int(len(timings) * 0.95) - 1]:.2f} ms, max {timings[-1]:.2f} ms "
              f"({statistics.mean(sizes):.0f} bookings at risk per day on average)")

        if args.only == "at-risk":
            return
        ids = [f"D{n:05d}" for n in range(args.practices)]
        session.execute(insert(Practice), [practice_row(pid, "Europe/London" if n % 2 else "Australia/Brisbane")
                                           for n, pid in enumerate(ids)])
        day0 = date(2026, 3, 10)  # a Tuesday
        rows = []
        for pid in ids:
            for i in range(4):
                at = datetime(2026, 3, 10 + i % 2, 9, 0, tzinfo=UTC) + timedelta(hours=i)
                rows.append({**booking_rows(pid, 1, 1, rng, i)[0], "appointment_at": at,
                             "diary_status": "pending" if i % 2 else "inserted"})
        for start in range(0, len(rows), 20_000):
            session.execute(insert(Booking), rows[start:start + 20_000])
        session.commit()
        total, emails = 0.0, 0
        for moment in (datetime(2026, 3, 9, 21, 0, tzinfo=UTC), datetime(2026, 3, 10, 7, 0, tzinfo=UTC)):
            t0 = time.perf_counter()
            report = digest.run(session, moment, app.config)
            total += time.perf_counter() - t0
            emails += report["emails"]
        print(f"digest over {args.practices:,} practices (two runs: 07:00 Brisbane and 07:00 London, {day0}): "
              f"{total:.1f} s, {emails:,} emails queued")


def ingest_overhead(events: int) -> None:
    import json as _json
    from itertools import islice

    from alembic import command

    from helpdesk.bookings import ingest
    from helpdesk.bookings.demo import DemoWorld

    world = DemoWorld(bookings=events // 4 + 1000, seed=11)
    chosen = list(islice(world.events(), events))
    batches = [_json.loads(_json.dumps(chosen[i:i + 500])) for i in range(0, len(chosen), 500)]
    results: dict[bool, list[float]] = {True: [], False: []}
    for _round in range(3):
        for detect in (True, False):
            url = f"sqlite:///{tempfile.mkdtemp(prefix='bench-ingest-')}/bench.db"
            command.upgrade(alembic_config(url), "head")
            app = create_app({"DATABASE_URL": url, "TESTING": True, "ASYNC_MODE": "threading",
                              "INCIDENT_DETECT_AT_INGEST": detect})
            with app.app_context():
                session = db.session()
                t0 = time.perf_counter()
                for batch in batches:
                    ingest.apply_events(session, ingest.parse_batch(batch, 5000))
                    session.commit()
                results[detect].append(time.perf_counter() - t0)
                db.session.remove()
            db.get_engine(app).dispose()
    on, off = statistics.median(results[True]), statistics.median(results[False])
    print(f"ingest, {len(chosen):,} demo events in batches of 500, in-process: detection on {len(chosen) / on:,.0f} "
          f"events/s, off {len(chosen) / off:,.0f} events/s (median of 3 each): {100 * (on / off - 1):+.1f}%")


if __name__ == "__main__":
    main()
