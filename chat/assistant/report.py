"""The assistant's report for the agents' reports page: how the chats it met ended, by day."""

from __future__ import annotations

from sqlalchemy.orm import Session

from chat.assistant.queries import outcome_rates
from helpdesk.workspace.reports import Period, Report, Table


def _percent(rate: float | None) -> float | None:
    return None if rate is None else round(rate * 100, 1)


def assistant_outcomes(session: Session, period: Period) -> Report:
    rates = outcome_rates(session, period.start, period.end, period.zone)
    totals = rates["totals"]
    by_day = Table("Chats the assistant met, by day", ["day", "chats", "resolved %", "handed off %", "came back %"], [
        [day["date"], day["chats"], _percent(day["resolved_rate"]), _percent(day["handoff_rate"]),
         _percent(day["came_back_rate"])]
        for day in rates["days"]
    ])
    reasons = Table("Why it handed off", ["reason", "chats"],
                    [[reason, count] for reason, count in totals["handoff_reasons"].items() if count])
    return Report("assistant", "Answered by the assistant", {
        "chats": totals["chats"], "resolved_share": totals["resolved_rate"], "handoff_share": totals["handoff_rate"],
        "came_back_share": totals["came_back_rate"],
    }, {"by_day": by_day, "handoff_reasons": reasons},
        [{"kind": "bars", "table": "by_day", "x": "day", "y": ["resolved %", "handed off %"]},
         {"kind": "bars", "table": "handoff_reasons", "x": "reason", "y": ["chats"]}])
