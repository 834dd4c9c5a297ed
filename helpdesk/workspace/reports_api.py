"""``GET /api/v1/reports/<name>?from=&to=&tz=`` (agents): JSON, or CSV with ``Accept: text/csv``
or ``format=csv`` (one table: ``table=``, default the report's first)."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta
from typing import Any
from zoneinfo import available_timezones

from flask import Blueprint, Response, g, request

from helpdesk.core import db
from helpdesk.core.auth import api_agent_required
from helpdesk.core.clock import utcnow
from helpdesk.core.errors import BadInput
from helpdesk.workspace import reports
from helpdesk.workspace.profile import preferences_for

bp = Blueprint("workspace_reports_api", __name__, url_prefix="/api/v1/reports")
DEFAULT_DAYS = 30


def _day(name: str, default: date) -> date:
    raw = (request.args.get(name) or "").strip()
    if not raw:
        return default
    try:
        return date.fromisoformat(raw[:10]) if len(raw) == 10 else _bad(name)
    except ValueError:
        return _bad(name)


def _bad(name: str) -> date:
    raise BadInput("invalid_parameter", f"{name} must be a date (YYYY-MM-DD)", field=name)


def period_from_request() -> reports.Period:
    tz = (request.args.get("tz") or "").strip() or preferences_for(db.session(), g.agent).timezone
    if tz not in available_timezones():
        raise BadInput("invalid_parameter", f"tz must be a time zone such as Europe/London, not {tz[:64]!r}", field="tz")
    now = utcnow()
    from zoneinfo import ZoneInfo

    today = now.astimezone(ZoneInfo(tz)).date()
    end = _day("to", today)
    start = _day("from", end - timedelta(days=DEFAULT_DAYS - 1))
    return reports.make_period(start, end, tz, now)


def wants_csv() -> bool:
    fmt = (request.args.get("format") or "").strip().lower()
    if fmt and fmt not in ("csv", "json"):
        raise BadInput("invalid_parameter", "format must be csv or json", field="format")
    if fmt:
        return fmt == "csv"
    best = request.accept_mimetypes.best_match(["application/json", "text/csv"])
    return best == "text/csv" and request.accept_mimetypes["text/csv"] > request.accept_mimetypes["application/json"]


def as_csv(report: reports.Report, table_name: str | None) -> Response:
    name = table_name or next(iter(report.tables))
    table = report.tables.get(name)
    if table is None:
        raise BadInput("invalid_parameter", f"table must be one of {', '.join(report.tables)}", field="table")
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(table.columns)
    writer.writerows([["" if v is None else v for v in row] for row in table.rows])
    response = Response(out.getvalue(), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{report.name}-{name}.csv"'
    return response


@bp.get("/<name>")
@api_agent_required
def report(name: str) -> Any:
    period = period_from_request()
    built = reports.build_report(db.session(), name, period)
    if wants_csv():
        return as_csv(built, request.args.get("table") or None)
    return built.as_json(period)


@bp.get("")
@api_agent_required
def index() -> dict[str, Any]:
    return {"reports": sorted(reports.REPORTS)}
