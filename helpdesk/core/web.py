"""Small helpers every HTTP surface shares: query arguments that fail with a clear 400, safe
``next=`` targets, absolute URLs for links that leave the site."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from flask import current_app, request

from helpdesk.core.errors import BadInput, UnsupportedMedia

MAX_INT_DIGITS = 9
# What a date-time may be, anywhere it comes in (query strings, ingest): wide enough for any
# real appointment or birth date, narrow enough that arithmetic on it (a day later, a window
# earlier, a time zone) never leaves what Python and the databases store.
EARLIEST_MOMENT = datetime(1900, 1, 1, tzinfo=ZoneInfo("UTC"))
LATEST_MOMENT = datetime(2200, 1, 1, tzinfo=ZoneInfo("UTC"))


def storable_moment(moment: datetime) -> bool:
    """An aware datetime inside ``[EARLIEST_MOMENT, LATEST_MOMENT)``."""
    try:
        return EARLIEST_MOMENT <= moment < LATEST_MOMENT
    except (OverflowError, ValueError):
        return False


def int_arg(name: str, default: int, low: int, high: int) -> int:
    """A whole number in ``[low, high]``; empty or missing gives ``default``."""
    raw = (request.args.get(name) or "").strip()
    if raw == "":
        return default
    if not raw.isascii() or not raw.isdigit() or len(raw) > MAX_INT_DIGITS or not low <= int(raw) <= high:
        raise BadInput("invalid_parameter", f"{name} must be a whole number from {low} to {high}", field=name)
    return int(raw)


def choices_arg(name: str, allowed: tuple[str, ...]) -> tuple[str, ...]:
    """A comma-separated subset of ``allowed``."""
    values = tuple(v for v in request.args.get(name, "").split(",") if v)
    unknown = [v for v in values if v not in allowed]
    if unknown:
        raise BadInput("invalid_parameter", f"{name} must be among {', '.join(allowed)}; got {', '.join(unknown)[:200]}",
                       field=name)
    return values


def parse_moment(raw: str, name: str, tz: ZoneInfo, end_of_day: bool = False) -> datetime:
    """A date (a whole day in ``tz``) or an ISO date-time with an offset, as an aware datetime."""
    try:
        if len(raw) == 10:
            day = datetime.combine(datetime.fromisoformat(raw).date(), time.min, tz)
            moment = day + timedelta(days=1) if end_of_day else day
        else:
            moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
            if moment.tzinfo is None:
                raise BadInput("invalid_parameter", f"{name} must include a UTC offset", field=name)
        moment = moment.astimezone(ZoneInfo("UTC"))
        if not storable_moment(moment):
            raise ValueError("out of range")
        return moment
    except (ValueError, OverflowError) as exc:
        raise BadInput("invalid_parameter", f"{name} must be a date (YYYY-MM-DD) or an ISO date-time",
                       field=name) from exc


def moment_arg(name: str, tz: ZoneInfo, end_of_day: bool = False) -> datetime | None:
    raw = request.args.get(name)
    return parse_moment(raw, name, tz, end_of_day) if raw else None


def json_object() -> dict[str, Any]:
    """The request's body as a JSON object: 415 when it is not JSON (a cross-site form cannot
    send JSON), 400 when it is not an object."""
    if not request.is_json:
        raise UnsupportedMedia("json_required", "send a JSON object with Content-Type: application/json")
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise BadInput("invalid_json", "the body must be a JSON object")
    return body


def is_safe_path(target: str | None) -> bool:
    """Only a path on this site: never an open redirect to another host."""
    if not target:
        return False
    parts = urlsplit(target)
    return not (parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//")
                or "\\" in target or any(ord(ch) < 32 for ch in target))


def public_base_url() -> str:
    """Where links that leave the site point: ``PUBLIC_URL``, else the address this server binds.

    Never the request's Host header, which the caller chooses.
    """
    base = current_app.config.get("PUBLIC_URL") or f"http://{current_app.config['HOST']}:{current_app.config['PORT']}"
    return str(base).rstrip("/")


def absolute_link(path: str) -> str:
    return public_base_url() + path


def safe_next(target: str | None, default: str) -> str:
    """``target`` when it is a path on this site, else ``default``."""
    return target.rstrip("?") if target and is_safe_path(target) else default


def absolute_url(endpoint: str, **values: object) -> str:
    """A link for an email or a webhook."""
    return absolute_link(current_app.url_map.bind("localhost").build(endpoint, values))
