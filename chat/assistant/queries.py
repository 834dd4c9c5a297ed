"""Read paths of the answer desk: how chats with the assistant ended, over time."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from chat.assistant.models import HANDOFF_REASONS, OUTCOMES, ChatOutcome

MAX_ROWS = 100_000


def _rates(rows: list[ChatOutcome]) -> dict[str, Any]:
    total = len(rows)
    counts = Counter(r.outcome for r in rows)
    reasons = Counter(r.handoff_reason for r in rows if r.outcome == "handed_off")
    came_back = sum(1 for r in rows if r.came_back)
    resolved = counts["resolved_confirmed"] + counts["resolved_left"]

    def rate(n: int) -> float | None:
        return round(n / total, 4) if total else None

    return {
        "chats": total,
        "counts": {o: counts[o] for o in OUTCOMES},
        "handoff_reasons": {r: reasons[r] for r in HANDOFF_REASONS},
        "came_back": came_back,
        "resolved_rate": rate(resolved),
        "handoff_rate": rate(counts["handed_off"]),
        "came_back_rate": rate(came_back),
    }


def outcome_rates(session: Session, start: datetime, end: datetime, tz: ZoneInfo) -> dict[str, Any]:
    """Totals and one bucket per local day with any chat, for chats started in [start, end)."""
    rows = list(session.scalars(select(ChatOutcome).where(ChatOutcome.started_at >= start,
                                                          ChatOutcome.started_at < end)
                                .order_by(ChatOutcome.started_at).limit(MAX_ROWS)))
    by_day: dict[str, list[ChatOutcome]] = {}
    for row in rows:
        by_day.setdefault(row.started_at.astimezone(tz).date().isoformat(), []).append(row)
    return {"from": start.isoformat(), "to": end.isoformat(), "tz": tz.key, "totals": _rates(rows),
            "days": [{"date": day, **_rates(items)} for day, items in sorted(by_day.items())]}
