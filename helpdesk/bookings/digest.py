"""The morning digest: on each working day, at the practice's local ``digest_time`` (default
``DIGEST_DEFAULT_TIME``), one email to its booking addresses listing today's and the next working
day's bookings at risk; none when nothing is at risk.

Decided once per practice and local day: a ``DigestRun`` row (unique on practice and day) is
inserted in a savepoint before the emails are queued, so a second sender (another process, or
the same one again) fails that insert and queues nothing; the outbox ``dedupe_key``
(``digest:<practice>:<day>:<n>``) is a second lock on the emails themselves.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from helpdesk.bookings import atrisk
from helpdesk.bookings.hours import Hours, hours_for, parse_clock
from helpdesk.bookings.models import ClosedDay, DigestRun, Practice
from helpdesk.core.clock import utcnow
from helpdesk.outbox.service import enqueue_email

TEMPLATE = "bookings/email/digest"
CHUNK = 500


def due_time(practice: Practice, config: Mapping[str, Any]) -> time:
    return parse_clock(practice.digest_time or str(config.get("DIGEST_DEFAULT_TIME", "07:00")), "digest_time")


def is_due(calendar: Hours, digest_at: time, now: datetime, catch_up: timedelta = timedelta(hours=3)) -> date | None:
    """The local day whose digest is due at ``now`` (a working day, from its time to ``catch_up``
    later, so a server down at 07:00 still sends at 08:00, but not an evening "morning" digest)."""
    local = now.astimezone(calendar.tz)
    if not calendar.is_working_day(local.date()):
        return None
    at = datetime.combine(local.date(), digest_at, calendar.tz)
    if not at <= local < at + catch_up:
        return None
    return local.date()


def _label(day: date, today: date) -> str:
    return ("Today" if day == today else "Next working day") + f", {day:%A %d %B}"


def run(session: Session, now: datetime | None = None, config: Mapping[str, Any] | None = None) -> dict[str, int]:
    """Queue the digests due at ``now``. Commits per chunk of practices (it is an edge: CLI, loop)."""
    from flask import current_app

    now = now or utcnow()
    config = config if config is not None else current_app.config
    catch_up = timedelta(minutes=float(config.get("DIGEST_CATCH_UP_MINUTES", 180)))
    report = {"due": 0, "sent": 0, "nothing_at_risk": 0, "already": 0, "emails": 0}
    practices = list(session.scalars(
        select(Practice).where(Practice.profile_known.is_(True)).order_by(Practice.id)
    ))
    for start in range(0, len(practices), CHUNK):
        chunk = [p for p in practices[start:start + CHUNK] if p.booking_emails]
        ids = [p.id for p in chunk]
        closed: dict[str, set[date]] = {}
        for pid, day in session.execute(select(ClosedDay.practice_id, ClosedDay.day).where(
                ClosedDay.practice_id.in_(ids), ClosedDay.day >= now.date() - timedelta(days=2))):
            closed.setdefault(pid, set()).add(day)
        due: list[tuple[Practice, Hours, date]] = []
        for practice in chunk:
            calendar = hours_for(practice, closed.get(practice.id, ()))
            day = is_due(calendar, due_time(practice, config), now, catch_up)
            if day is not None:
                due.append((practice, calendar, day))
        if not due:
            continue
        decided = {(r.practice_id, r.day) for r in session.execute(
            select(DigestRun.practice_id, DigestRun.day).where(
                DigestRun.practice_id.in_([p.id for p, _, _ in due]),
                DigestRun.day.in_(sorted({d for _, _, d in due}))))}
        todo = []
        for practice, calendar, day in due:
            report["due"] += 1
            if (practice.id, day) in decided:
                report["already"] += 1
            else:
                todo.append((practice, calendar, day))
        days = {p.id: _days(calendar, day) for p, calendar, day in todo}
        rows = atrisk.at_risk_many(session, [(p, days[p.id]) for p, _, _ in todo], now, reveal=True)
        try:
            with session.begin_nested():  # the whole chunk at once; a race with another sender redoes it one by one
                outcomes = [_decide(session, p, day, days[p.id], rows) for p, _, day in todo]
        except IntegrityError:
            outcomes = []
            for p, _, day in todo:
                try:
                    with session.begin_nested():
                        outcomes.append(_decide(session, p, day, days[p.id], rows))
                except IntegrityError:
                    outcomes.append(None)
        for outcome in outcomes:
            if outcome is None:
                report["already"] += 1
            elif outcome == 0:
                report["nothing_at_risk"] += 1
            else:
                report["sent"] += 1
                report["emails"] += outcome
        session.commit()
    return report


def _days(calendar: Hours, today: date) -> list[date]:
    following = calendar.next_working_day(today)
    return [today] if following is None else [today, following]


def _decide(session: Session, practice: Practice, today: date, days: list[date],
            rows: dict[tuple[str, date], list[dict[str, Any]]]) -> int:
    """Record the practice's day and queue its emails (the number queued); IntegrityError if already decided."""
    sections = [{"day": d.isoformat(), "label": _label(d, today), "bookings": rows[(practice.id, d)]}
                for d in days if rows.get((practice.id, d))]
    total = sum(len(s["bookings"]) for s in sections)
    recipients = list(dict.fromkeys(practice.booking_emails)) if total else []
    session.add(DigestRun(practice_id=practice.id, day=today, at_risk=total, emails=len(recipients)))
    session.flush()
    for n, address in enumerate(recipients):
        row = enqueue_email(
            session, address, f"{total} booking(s) at risk: {practice.name}, {today:%a %d %b}", TEMPLATE,
            {"practice": practice, "days": sections, "link": None},
            dedupe_key=f"digest:{practice.id}:{today.isoformat()}:{n}",
        )
        if row is None:
            raise IntegrityError("digest already queued", None, Exception("dedupe"))
    session.flush()
    return len(recipients)
