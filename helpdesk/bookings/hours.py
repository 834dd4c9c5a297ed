"""Practice hours: the opening week, public holidays (the ``holidays`` package) and one-off closed days.

Pure functions over a :class:`Hours` value, so the incident sweep, the digest and the at-risk
list all judge "is the practice open?" the same way, in the practice's own time zone.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

import holidays as holidays_lib

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# Without opening hours from the platform: a working week.
DEFAULT_WEEK: dict[str, list[list[str]]] = {
    **{day: [["08:00", "18:00"]] for day in DAYS[:5]}, "sat": [], "sun": [],
}
MAX_INTERVALS = 6


class HoursError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def parse_clock(value: Any, field: str) -> time:
    """``"HH:MM"`` (24-hour; ``"24:00"`` only as an end) to a time."""
    if not isinstance(value, str) or len(value) != 5 or value[2] != ":" or not (value[:2] + value[3:]).isdigit():
        raise HoursError(field, 'must be a time "HH:MM"')
    hour, minute = int(value[:2]), int(value[3:])
    if value == "24:00":
        return time.max
    if hour > 23 or minute > 59:
        raise HoursError(field, 'must be a time "HH:MM" between 00:00 and 24:00')
    return time(hour, minute)


def validate_time_of_day(value: Any, field: str) -> str:
    """``"HH:MM"`` strictly inside a day (``digest_time``)."""
    if parse_clock(value, field) == time.max:
        raise HoursError(field, "must be a time of day before 24:00")
    return str(value)


def validate_week(value: Any, field: str = "data.opening_hours") -> dict[str, list[list[str]]]:
    """``{"mon": [["08:00", "17:30"]], ..., "sun": []}``; a day left out is a closed day."""
    if not isinstance(value, dict):
        raise HoursError(field, 'must be an object such as {"mon": [["08:00", "17:30"]], "sun": []}')
    unknown = sorted(set(value) - set(DAYS))
    if unknown:
        raise HoursError(f"{field}.{unknown[0]}", f"is not a day: use {', '.join(DAYS)}")
    week: dict[str, list[list[str]]] = {}
    for day in DAYS:
        intervals = value.get(day, [])
        where = f"{field}.{day}"
        if not isinstance(intervals, list) or len(intervals) > MAX_INTERVALS:
            raise HoursError(where, f"must be a list of at most {MAX_INTERVALS} [open, close] pairs")
        cleaned: list[list[str]] = []
        previous_end: time | None = None
        for i, pair in enumerate(intervals):
            if not isinstance(pair, list) or len(pair) != 2:
                raise HoursError(f"{where}[{i}]", 'must be a pair ["HH:MM", "HH:MM"]')
            start, end = parse_clock(pair[0], f"{where}[{i}][0]"), parse_clock(pair[1], f"{where}[{i}][1]")
            if start == time.max:
                raise HoursError(f"{where}[{i}][0]", "cannot open at 24:00")
            if end <= start:
                raise HoursError(f"{where}[{i}]", "must close after it opens")
            if previous_end is not None and start < previous_end:
                raise HoursError(f"{where}[{i}]", "must start after the previous interval ends, in order")
            previous_end = end
            cleaned.append([pair[0], pair[1]])
        week[day] = cleaned
    return week


def _split_region(region: str) -> tuple[str, str | None]:
    country, _, subdivision = region.partition("-")
    return country, subdivision or None


def validate_region(value: Any, field: str = "data.holidays_region") -> str:
    """A country code with an optional subdivision known to the ``holidays`` package: ``AU-QLD``, ``GB``."""
    if not isinstance(value, str) or not 2 <= len(value) <= 16:
        raise HoursError(field, "must be a region code such as AU-QLD or GB")
    region = value.strip().upper()
    country, subdivision = _split_region(region)
    supported = holidays_lib.list_supported_countries()
    if country not in supported:
        raise HoursError(field, f"{country!r} is not a country the holiday calendar knows")
    if subdivision is not None and subdivision not in supported[country]:
        raise HoursError(field, f"{subdivision!r} is not a subdivision of {country} the holiday calendar knows")
    return region


@lru_cache(maxsize=4096)
def _holiday_calendar(region: str, year: int) -> Mapping[date, str]:
    country, subdivision = _split_region(region)
    return dict(holidays_lib.country_holidays(country, subdiv=subdivision, years=year))


def holiday_name(region: str | None, day: date) -> str | None:
    if not region:
        return None
    return _holiday_calendar(region, day.year).get(day)


@lru_cache(maxsize=1024)
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


@dataclass(frozen=True)
class Hours:
    """One practice's calendar: its zone, its week, its holiday region and its closed days."""

    timezone: str = "UTC"
    week: Mapping[str, Any] | None = None  # None: DEFAULT_WEEK
    region: str | None = None
    closed: frozenset[date] = field(default_factory=frozenset)

    @property
    def tz(self) -> ZoneInfo:
        return zone(self.timezone)

    def intervals(self, day: date) -> list[tuple[time, time]]:
        week = self.week if self.week is not None else DEFAULT_WEEK
        return [(parse_clock(a, ""), parse_clock(b, "")) for a, b in week.get(DAYS[day.weekday()], [])]

    def closed_reason(self, day: date) -> str | None:
        """Why the practice is shut all of ``day`` (local), or None on a working day."""
        if day in self.closed:
            return "closed"
        holiday = holiday_name(self.region, day)
        if holiday:
            return f"holiday: {holiday}"
        if not self.intervals(day):
            return "not a working day"
        return None

    def is_working_day(self, day: date) -> bool:
        return self.closed_reason(day) is None

    def local_day(self, moment: datetime) -> date:
        return moment.astimezone(self.tz).date()

    def open_spans(self, day: date) -> list[tuple[datetime, datetime]]:
        """The day's opening intervals as aware UTC-comparable datetimes (empty when closed)."""
        if not self.is_working_day(day):
            return []
        spans = []
        for start, end in self.intervals(day):
            opens = datetime.combine(day, start, self.tz)
            closes = (datetime.combine(day + timedelta(days=1), time(0), self.tz) if end == time.max
                      else datetime.combine(day, end, self.tz))
            spans.append((opens, closes))
        return spans

    def is_open(self, moment: datetime) -> bool:
        return any(opens <= moment < closes for opens, closes in self.open_spans(self.local_day(moment)))

    def open_time_between(self, start: datetime, end: datetime, max_days: int = 14) -> timedelta:
        """How much of ``[start, end)`` falls inside opening hours (looking back at most ``max_days``)."""
        if end <= start:
            return timedelta(0)
        start = max(start, end - timedelta(days=max_days))
        total = timedelta(0)
        day = self.local_day(start)
        last = self.local_day(end)
        while day <= last:
            for opens, closes in self.open_spans(day):
                overlap = min(closes, end) - max(opens, start)
                if overlap > timedelta(0):
                    total += overlap
            day += timedelta(days=1)
        return total

    def next_working_day(self, after: date, horizon: int = 31) -> date | None:
        day = after + timedelta(days=1)
        for _ in range(horizon):
            if self.is_working_day(day):
                return day
            day += timedelta(days=1)
        return None


def hours_for(practice: Any, closed: Iterable[date] = ()) -> Hours:
    """The :class:`Hours` of a ``Practice`` row (and its closed days, loaded by the caller)."""
    return Hours(practice.timezone or "UTC", practice.opening_hours, practice.holidays_region, frozenset(closed))


def day_bounds(day: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """A local day as [start, end) instants."""
    return datetime.combine(day, time(0), tz), datetime.combine(day + timedelta(days=1), time(0), tz)
