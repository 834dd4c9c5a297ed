"""Support figures over a period, in the reader's time zone: volumes, response times and SLA,
satisfaction, and what only this helpdesk knows (diagnosis causes, diary inserts, outages, alerts).

Each report is a function ``(session, period) -> Report`` in ``REPORTS``; another package adds its
own with ``register_report`` (the assistant's resolved share, ``"assistant"``, is added that way).
Counting and bucketing by local day or hour run in SQL (dialect helpers below); percentiles of
durations too: SQL hands back only the value at each rank, read in order from an index.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Float, String, and_, case, cast, func, or_, select, values
from sqlalchemy import column as column_
from sqlalchemy.orm import Session

from chat.models import Conversation
from helpdesk.bookings.diagnosis import DIARY_FAILURES
from helpdesk.bookings.models import AlertEmail, Booking, IntegrationEvent, Practice
from helpdesk.core.db import UTCDateTime
from helpdesk.core.errors import BadInput, NotFound
from helpdesk.requests.models import Request

MAX_DAYS = 400
DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
FIRST_REPLY_HOURS = {"urgent": 1, "high": 4, "normal": 8, "low": 24}  # as helpdesk.requests.service
DIARY_OK = ("inserted", "sidebar_transferred")
ALERTED_REASONS = ("collision", "connection_lost")


@dataclass(frozen=True)
class Period:
    start: datetime  # aware, UTC
    end: datetime  # exclusive
    tz: str
    now: datetime

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.tz)

    def days(self) -> list[str]:
        first = self.start.astimezone(self.zone).date()
        last = (self.end - timedelta(microseconds=1)).astimezone(self.zone).date()
        return [(first + timedelta(days=n)).isoformat() for n in range((last - first).days + 1)]

    def day_bounds(self) -> list[tuple[str, datetime, datetime]]:
        """Each local day of the period with its UTC start and end (DST included)."""
        bounds = []
        for day in self.days():
            local = date.fromisoformat(day)
            start = datetime.combine(local, time.min, self.zone).astimezone(ZoneInfo("UTC"))
            end = datetime.combine(local + timedelta(days=1), time.min, self.zone).astimezone(ZoneInfo("UTC"))
            bounds.append((day, start, end))
        return bounds

    def naive(self) -> tuple[datetime, datetime]:
        """The bounds for comparing with the (UTC-aware) columns."""
        return self.start, self.end


def make_period(start_day: date, end_day: date, tz: str, now: datetime) -> Period:
    """Whole local days ``start_day`` .. ``end_day`` (inclusive) in ``tz``."""
    if end_day < start_day:
        raise BadInput("invalid_parameter", "to must not be before from", field="to")
    if (end_day - start_day).days + 1 > MAX_DAYS:
        raise BadInput("invalid_parameter", f"a report covers at most {MAX_DAYS} days", field="to")
    zone = ZoneInfo(tz)
    start = datetime.combine(start_day, time.min, zone).astimezone(ZoneInfo("UTC"))
    end = datetime.combine(end_day + timedelta(days=1), time.min, zone).astimezone(ZoneInfo("UTC"))
    return Period(start, end, tz, now)


@dataclass
class Table:
    title: str
    columns: list[str]
    rows: list[list[Any]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {"title": self.title, "columns": self.columns, "rows": self.rows}


@dataclass
class Report:
    name: str
    title: str
    summary: dict[str, Any]
    tables: dict[str, Table]
    charts: list[dict[str, Any]] = field(default_factory=list)  # {"kind", "table", "x", "y"[, ...]}

    def as_json(self, period: Period) -> dict[str, Any]:
        return {
            "report": self.name, "title": self.title,
            "from": period.start.astimezone(period.zone).date().isoformat(),
            "to": (period.end - timedelta(microseconds=1)).astimezone(period.zone).date().isoformat(),
            "tz": period.tz, "summary": self.summary,
            "tables": {name: t.as_json() for name, t in self.tables.items()},
        }


# --- SQL helpers per dialect ---------------------------------------------------------------------

def _is_pg(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _sqlite_offset(period: Period) -> str:
    """SQLite has no zone rules: the zone's offset at the period's start (DST shifts an hour at most)."""
    offset = period.start.astimezone(period.zone).utcoffset() or timedelta(0)
    return f"{int(offset.total_seconds() // 60):+d} minutes"


def local_day(session: Session, column: Any, period: Period) -> Any:
    if _is_pg(session):
        return func.to_char(func.timezone(period.tz, func.timezone("UTC", column)), "YYYY-MM-DD")
    return func.strftime("%Y-%m-%d", column, _sqlite_offset(period))


def local_weekday_hour(session: Session, column: Any, period: Period) -> tuple[Any, Any]:
    """Weekday (0 = Sunday, as both dialects count) and hour, in the period's zone."""
    if _is_pg(session):
        local = func.timezone(period.tz, func.timezone("UTC", column))
        return cast(func.extract("dow", local), Float), cast(func.extract("hour", local), Float)
    return (cast(func.strftime("%w", column, _sqlite_offset(period)), Float),
            cast(func.strftime("%H", column, _sqlite_offset(period)), Float))


SHARES = (0.5, 0.9)  # the median and p90 the response report shows
INTEGER_RANGE = (-(2**31), 2**31 - 1)  # every value an Integer column holds


def nearest_rank(count: int, share: float) -> int | None:
    """The 1-based rank of the nearest-rank percentile among ``count`` values (the median of
    [1, 2, 3, 4] is the 2nd), None when there are none."""
    return max(1, math.ceil(share * count)) if count else None


def _ranked_value(column: Any, where: Sequence[Any], rank: int) -> Any:
    """The ``rank``-th smallest value of ``column`` among the rows ``where`` selects.

    Read in value order from the index that leads with the column (migration 0014), so nothing is
    sorted: SQLite has no hashed GROUP BY, and sorting a year of chats was most of the report. The
    range over every Integer is "not null" in a form the planner weighs against the period's range
    on created_at; as two ranges cost the same, it takes the index that already gives the order.
    """
    return (select(column).where(*where, column.between(*INTEGER_RANGE))
            .order_by(column).limit(1).offset(rank - 1).scalar_subquery())


@dataclass(frozen=True)
class Measure:
    """A column of stored whole seconds, the rows it is measured over, and how many have one."""

    column: Any
    where: Sequence[Any]
    count: int


def _percentiles(session: Session, measures: Sequence[Measure]) -> list[dict[float, float | None]]:
    """Per measure, its nearest-rank percentile (seconds) for each share; one statement for all."""
    lookups = {(n, share): _ranked_value(m.column, m.where, rank) for n, m in enumerate(measures)
               for share in SHARES if (rank := nearest_rank(m.count, share)) is not None}
    found: list[dict[float, float | None]] = [dict.fromkeys(SHARES) for _ in measures]
    if lookups:
        ranked = session.execute(select(*lookups.values())).one()
        for (n, share), value in zip(lookups, ranked, strict=True):
            found[n][share] = float(value)
    return found


def _minutes(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds / 60.0, 1)


def utc_bucket(session: Session, column: Any, period: Period) -> Any:
    """The UTC hour (or 10 minutes, for a zone with a half-hour offset) as text: a cheap string
    operation in SQL, turned into local days and hours in Python (exact, DST included)."""
    offsets = {(period.start.astimezone(period.zone).utcoffset() or timedelta(0)).total_seconds(),
               (period.end.astimezone(period.zone).utcoffset() or timedelta(0)).total_seconds()}
    fine = any(o % 3600 for o in offsets)
    if _is_pg(session):
        return func.to_char(column, "YYYY-MM-DD HH24:MI" if fine else "YYYY-MM-DD HH24")
    return func.substr(column, 1, 15 if fine else 13)


def _local(bucket: str, zone: ZoneInfo) -> datetime:
    minute = int(bucket[14:16].ljust(2, "0")) if len(bucket) > 13 else 0
    moment = datetime(int(bucket[0:4]), int(bucket[5:7]), int(bucket[8:10]), int(bucket[11:13]), minute,
                      tzinfo=ZoneInfo("UTC"))
    return moment.astimezone(zone)


def _buckets(session: Session, column: Any, period: Period, *where: Any) -> list[tuple[datetime, int, str]]:
    """(local moment of the bucket, count, status-or-empty) for rows in the period."""
    start, end = period.naive()
    bucket = utc_bucket(session, column, period)
    rows = session.execute(select(bucket, func.count()).where(column >= start, column < end, *where).group_by(bucket))
    zone = period.zone
    return [(_local(str(b), zone), int(n), "") for b, n in rows]


def _by_day(session: Session, column: Any, period: Period, *where: Any) -> dict[str, int]:
    days: Counter[str] = Counter()
    for moment, n, _ in _buckets(session, column, period, *where):
        days[moment.date().isoformat()] += n
    return dict(days)


def _heatmap(session: Session, column: Any, period: Period) -> list[list[int]]:
    """7 x 24 counts, Monday first."""
    grid = [[0] * 24 for _ in range(7)]
    for moment, n, _ in _buckets(session, column, period):
        grid[moment.weekday()][moment.hour] += n
    return grid


def _volume_both(session: Session, column: Any, period: Period) -> tuple[dict[str, int], list[list[int]]]:
    days: Counter[str] = Counter()
    grid = [[0] * 24 for _ in range(7)]
    for moment, n, _ in _buckets(session, column, period):
        days[moment.date().isoformat()] += n
        grid[moment.weekday()][moment.hour] += n
    return dict(days), grid


# --- the reports -------------------------------------------------------------------------------

def volume(session: Session, period: Period) -> Report:
    chats, chat_grid = _volume_both(session, Conversation.created_at, period)
    requests, request_grid = _volume_both(session, Request.created_at, period)
    days = Table("Chats and requests by day", ["day", "chats", "requests"],
                 [[d, chats.get(d, 0), requests.get(d, 0)] for d in period.days()])
    heat = {}
    for name, grid in (("chats", chat_grid), ("requests", request_grid)):
        heat[f"{name}_by_hour"] = Table(f"{name.capitalize()} by hour of the week", ["weekday", *[f"{h:02d}" for h in range(24)]],
                                        [[DAY_NAMES[i], *grid[i]] for i in range(7)])
    return Report("volume", "Chats and requests", {"chats": sum(chats.values()), "requests": sum(requests.values())},
                  {"by_day": days, **heat},
                  [{"kind": "bars", "table": "by_day", "x": "day", "y": ["chats", "requests"]},
                   {"kind": "heatmap", "table": "chats_by_hour"}, {"kind": "heatmap", "table": "requests_by_hour"}])


def _duration_row(label: str, measure: Measure, percentiles: dict[float, float | None]) -> list[Any]:
    return [label, measure.count, *(_minutes(percentiles[share]) for share in SHARES)]


def _chat_counts(session: Session, in_period: Sequence[Any]) -> tuple[int, int, int]:
    """Chats with a first response, with a resolution, and ended without ever being accepted."""
    never_accepted = and_(Conversation.first_response_seconds.is_(None), Conversation.closed_at.is_not(None))
    answered, resolved, missed = session.execute(select(
        func.count(Conversation.first_response_seconds), func.count(Conversation.resolution_seconds),
        func.sum(case((never_accepted, 1), else_=0))).where(*in_period)).one()
    return int(answered), int(resolved), int(missed or 0)


@dataclass(frozen=True)
class RequestCounts:
    by_priority: dict[str, tuple[int, int]]  # requests, and those past their first-reply deadline
    replied: int
    resolved: int


def _request_counts(session: Session, now: datetime, req_in: Sequence[Any]) -> RequestCounts:
    """Per priority: requests, and those answered late or still unanswered past the deadline;
    with how many were replied to and resolved (one pass over the covering index)."""
    late = or_(*(and_(Request.priority == priority, or_(
        Request.first_reply_seconds > hours * 3600,
        and_(Request.first_reply_seconds.is_(None), Request.created_at < now - timedelta(hours=hours)),
    )) for priority, hours in FIRST_REPLY_HOURS.items()))
    rows = session.execute(select(Request.priority, func.count(), func.sum(case((late, 1), else_=0)),
                                  func.count(Request.first_reply_seconds), func.count(Request.resolution_seconds))
                           .where(*req_in).group_by(Request.priority)).all()
    return RequestCounts({priority: (int(n), int(breached or 0)) for priority, n, breached, _, _ in rows},
                         sum(int(row[3]) for row in rows), sum(int(row[4]) for row in rows))


def response(session: Session, period: Period) -> Report:
    start, end = period.naive()
    in_period = (Conversation.created_at >= start, Conversation.created_at < end)
    req_in = (Request.created_at >= start, Request.created_at < end)
    answered, resolved, chats_missed = _chat_counts(session, in_period)
    requests = _request_counts(session, period.now, req_in)
    measures = {
        "chat first response": Measure(Conversation.first_response_seconds, in_period, answered),
        "chat resolution": Measure(Conversation.resolution_seconds, in_period, resolved),
        "request first reply": Measure(Request.first_reply_seconds, req_in, requests.replied),
        "request resolution": Measure(Request.resolution_seconds, req_in, requests.resolved),
    }
    found = dict(zip(measures, _percentiles(session, list(measures.values())), strict=True))
    breaches = {priority: requests.by_priority.get(priority, (0, 0))[1] for priority in FIRST_REPLY_HOURS}
    times = Table("Response and resolution time (minutes)", ["measure", "count", "median", "p90"],
                  [_duration_row(label, measure, found[label]) for label, measure in measures.items()])
    sla = Table("First-reply SLA breaches by priority", ["priority", "hours allowed", "requests", "breached"])
    for priority, hours in FIRST_REPLY_HOURS.items():
        sla.rows.append([priority, hours, requests.by_priority.get(priority, (0, 0))[0], breaches[priority]])
    chat_first, req_first = found["chat first response"], found["request first reply"]
    summary = {"chat_first_response_median_min": _minutes(chat_first[0.5]),
               "chat_first_response_p90_min": _minutes(chat_first[0.9]),
               "request_first_reply_median_min": _minutes(req_first[0.5]),
               "request_first_reply_p90_min": _minutes(req_first[0.9]),
               "sla_breaches": sum(breaches.values()), "chats_never_accepted": chats_missed}
    return Report("response", "Response times and SLA", summary, {"times": times, "sla": sla},
                  [{"kind": "bars", "table": "times", "x": "measure", "y": ["median", "p90"]}])


def csat(session: Session, period: Period) -> Report:
    start, end = period.naive()
    rated = (Conversation.rated_at >= start, Conversation.rated_at < end, Conversation.rating.is_not(None))
    counts = Counter({int(r): int(n) for r, n in session.execute(
        select(Conversation.rating, func.count()).where(*rated).group_by(Conversation.rating))})
    total = sum(counts.values())
    satisfied = counts[4] + counts[5]
    distribution = Table("Ratings", ["rating", "chats"], [[n, counts.get(n, 0)] for n in range(1, 6)])
    commented = session.execute(
        select(Conversation.id, Conversation.practice_id, Conversation.rating, Conversation.rated_at, Conversation.rating_comment)
        .where(*rated, Conversation.rating_comment.is_not(None), Conversation.rating_comment != "")
        .order_by(Conversation.rated_at.desc()).limit(200)).all()
    comments = Table("Comments", ["chat", "practice", "rating", "rated", "comment"], [
        [r.id, r.practice_id, r.rating, r.rated_at.astimezone(period.zone).strftime("%Y-%m-%d %H:%M"), r.rating_comment]
        for r in commented if (r.rating_comment or "").strip()])
    summary = {"ratings": total, "average": round(sum(k * v for k, v in counts.items()) / total, 2) if total else None,
               "csat_percent": round(100.0 * satisfied / total, 1) if total else None}
    return Report("csat", "Satisfaction (CSAT)", summary, {"ratings": distribution, "comments": comments},
                  [{"kind": "bars", "table": "ratings", "x": "rating", "y": ["chats"]}])


def _week_start(day: str) -> str:
    d = date.fromisoformat(day)
    return (d - timedelta(days=d.weekday())).isoformat()


def diagnosis(session: Session, period: Period) -> Report:
    start, end = period.naive()
    bucket = utc_bucket(session, Booking.created_at, period)
    rows = session.execute(
        select(bucket, Booking.practice_id, Booking.diary_status, func.count())
        .where(Booking.created_at >= start, Booking.created_at < end, Booking.diary_status.in_(DIARY_FAILURES))
        .group_by(bucket, Booking.practice_id, Booking.diary_status)).all()
    practices = {p.id: p for p in session.scalars(select(Practice).where(Practice.id.in_({r[1] for r in rows})))} if rows else {}
    by_week: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    by_practice: dict[str, Counter[str]] = defaultdict(Counter)
    for d, practice_id, cause, n in rows:
        software = (practices[practice_id].pms_software if practice_id in practices else None) or "unknown"
        by_week[(_week_start(_local(str(d), period.zone).date().isoformat()), software)][cause] += int(n)
        by_practice[practice_id][cause] += int(n)
    causes = list(DIARY_FAILURES)
    weekly = Table("Diary failure causes by week and practice software", ["week", "software", *causes, "total"],
                   [[w, s, *[c[k] for k in causes], sum(c.values())] for (w, s), c in sorted(by_week.items())])
    ranked = sorted(by_practice.items(), key=lambda item: (-sum(item[1].values()), item[0]))
    per_practice = Table("Diary failure causes by practice", ["practice", "name", *causes, "total"],
                         [[pid, practices[pid].name if pid in practices else pid, *[c[k] for k in causes], sum(c.values())]
                          for pid, c in ranked[:50]])
    totals = Counter()
    for c in by_practice.values():
        totals.update(c)
    return Report("diagnosis", "Diagnosis causes", {"failures": sum(totals.values()), **{k: totals[k] for k in causes}},
                  {"by_week": weekly, "by_practice": per_practice},
                  [{"kind": "stacked", "table": "by_week", "x": "week", "y": causes}])


def _daily_counts(session: Session, period: Period, column: Any, *kinds: Sequence[Any]) -> dict[str, list[int]]:
    """Per local day, how many rows ``column`` dates to that day meet each condition in ``kinds``.

    One count per day and condition, each an index range (a VALUES list of the days' bounds, and
    correlated counts): nothing is grouped, so a year of a million bookings is never sorted.
    """
    days = values(column_("day", String()), column_("day_start", UTCDateTime()), column_("day_end", UTCDateTime()),
                  name="days").data(period.day_bounds()).cte("days")
    counts = [select(func.count()).where(column >= days.c.day_start, column < days.c.day_end, *where).scalar_subquery()
              for where in kinds]
    return {str(day): [int(n) for n in row] for day, *row in session.execute(select(days.c.day, *counts))}


def diary(session: Session, period: Period) -> Report:
    by_day = _daily_counts(session, period, Booking.created_at, (Booking.diary_status.in_(DIARY_OK),),
                           (Booking.diary_status.in_(DIARY_FAILURES),))
    table = Table("Diary insert success by day", ["day", "inserted", "failed", "success_percent"])
    for d in period.days():
        ok, failed = by_day.get(d, [0, 0])
        tried = ok + failed
        table.rows.append([d, ok, failed, round(100.0 * ok / tried, 1) if tried else None])
    inserted, failed = sum(row[1] for row in table.rows), sum(row[2] for row in table.rows)
    tried = inserted + failed
    return Report("diary", "Diary insert success rate", {
        "inserted": inserted, "failed": failed,
        "success_percent": round(100.0 * inserted / tried, 1) if tried else None,
    }, {"by_day": table}, [{"kind": "line", "table": "by_day", "x": "day", "y": ["success_percent"]}])


def _episodes(session: Session, period: Period) -> list[tuple[str, datetime, datetime]]:
    """Each connector outage overlapping the period, clipped to it: (practice, lost, restored or end)."""
    start, end = period.naive()
    now = min(period.now, end)
    events = session.execute(
        select(IntegrationEvent.practice_id, IntegrationEvent.kind, IntegrationEvent.occurred_at)
        .where(IntegrationEvent.kind.in_(("connection_lost", "connection_restored")),
               IntegrationEvent.occurred_at < end, IntegrationEvent.occurred_at >= start - timedelta(days=30))
        .order_by(IntegrationEvent.practice_id, IntegrationEvent.occurred_at, IntegrationEvent.id)).all()
    episodes: list[tuple[str, datetime, datetime]] = []
    down: dict[str, datetime] = {}
    for practice_id, kind, at in events:
        if kind == "connection_lost":
            down.setdefault(practice_id, at)
        elif practice_id in down:
            lost = down.pop(practice_id)
            if at > start:
                episodes.append((practice_id, max(lost, start), min(at, end)))
    for practice_id, lost in down.items():
        if now > max(lost, start):
            episodes.append((practice_id, max(lost, start), now))
    return episodes


def outages(session: Session, period: Period) -> Report:
    minutes: Counter[str] = Counter()
    count: Counter[str] = Counter()
    for practice_id, lost, restored in _episodes(session, period):
        minutes[practice_id] += (restored - lost).total_seconds() / 60.0
        count[practice_id] += 1
    names = dict(session.execute(select(Practice.id, Practice.name).where(Practice.id.in_(set(minutes)))).all()) if minutes else {}
    table = Table("Connector outage minutes by practice", ["practice", "name", "outages", "minutes"],
                  [[p, names.get(p, p), count[p], round(m, 1)] for p, m in sorted(minutes.items(), key=lambda i: (-i[1], i[0]))])
    return Report("outages", "Outage minutes", {"outages": sum(count.values()), "minutes": round(sum(minutes.values()), 1),
                                                 "practices": len(minutes)},
                  {"by_practice": table}, [{"kind": "bars", "table": "by_practice", "x": "practice", "y": ["minutes"]}])


def alerts(session: Session, period: Period) -> Report:
    """Failures the practice should have been told of, with no alert email on record."""
    start, end = period.naive()
    failures = session.execute(
        select(IntegrationEvent.practice_id, IntegrationEvent.reference, IntegrationEvent.reason, IntegrationEvent.occurred_at)
        .where(IntegrationEvent.kind == "diary_failed", IntegrationEvent.reason == "collision",
               IntegrationEvent.occurred_at >= start, IntegrationEvent.occurred_at < end)).all()
    alerted = {(p, r) for p, r in session.execute(
        select(AlertEmail.practice_id, AlertEmail.reference).where(AlertEmail.kind == "collision",
                                                                   AlertEmail.occurred_at >= start - timedelta(days=1)))}
    missing = [("collision", p, ref, at) for p, ref, _reason, at in failures if (p, ref) not in alerted]
    lost_alerts = session.execute(select(AlertEmail.practice_id, AlertEmail.occurred_at)
                                  .where(AlertEmail.kind == "connection_lost", AlertEmail.occurred_at >= start - timedelta(days=1),
                                         AlertEmail.occurred_at < end + timedelta(days=1))).all()
    by_practice: dict[str, list[datetime]] = defaultdict(list)
    for p, at in lost_alerts:
        by_practice[p].append(at)
    episodes = _episodes(session, period)
    for practice_id, lost, restored in episodes:
        if not any(lost - timedelta(minutes=5) <= at <= restored + timedelta(minutes=5) for at in by_practice.get(practice_id, ())):
            missing.append(("connection_lost", practice_id, None, lost))
    zone = period.zone
    table = Table("Alerts not sent", ["kind", "practice", "reference", "at"], [
        [kind, p, ref, at.astimezone(zone).strftime("%Y-%m-%d %H:%M")]
        for kind, p, ref, at in sorted(missing, key=lambda m: m[3])])
    kinds = Counter(m[0] for m in missing)
    return Report("alerts", "Alerts not sent", {
        "not_sent": len(missing), "collision": kinds["collision"], "connection_lost": kinds["connection_lost"],
        "collisions_checked": len(failures), "outages_checked": len(episodes),
    }, {"not_sent": table})


ReportFn = Callable[[Session, Period], Report]
REPORTS: dict[str, ReportFn] = {
    "volume": volume, "response": response, "csat": csat, "diagnosis": diagnosis,
    "diary": diary, "outages": outages, "alerts": alerts,
}


def register_report(name: str, build: ReportFn) -> None:
    """The hook for other packages: e.g. the assistant registers ``"assistant"`` (its resolved share)."""
    REPORTS[name] = build


def build_report(session: Session, name: str, period: Period) -> Report:
    build = REPORTS.get(name)
    if build is None:
        raise NotFound("no_such_report", f"there is no report {name[:40]!r}; reports: {', '.join(REPORTS)}")
    return build(session, period)
