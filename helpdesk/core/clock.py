"""The one clock: every "now" in the application comes from here.

Tests move it (``frozen_at``, ``advance``) to walk through days without waiting; in production
it is the system's UTC time.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone

_frozen: datetime | None = None


def utcnow() -> datetime:
    """Now, as an aware UTC datetime."""
    return _frozen if _frozen is not None else datetime.now(timezone.utc)


def elapsed_seconds(start: datetime, end: datetime) -> int:
    """Whole seconds from ``start`` to ``end``, as the reports store durations."""
    return round((end - start).total_seconds())


def unix_now() -> float:
    """Now, as unix seconds (for signatures and session expiries)."""
    return _frozen.timestamp() if _frozen is not None else time.time()


@contextmanager
def frozen_at(moment: datetime) -> Iterator[None]:
    """Hold the clock at ``moment`` (aware) inside the block."""
    global _frozen
    if moment.tzinfo is None:
        raise ValueError("the clock needs an aware datetime")
    previous, _frozen = _frozen, moment.astimezone(timezone.utc)
    try:
        yield
    finally:
        _frozen = previous


def advance(delta: timedelta) -> None:
    """Move a frozen clock on (only inside ``frozen_at``)."""
    global _frozen
    if _frozen is None:
        raise RuntimeError("advance() moves a frozen clock: use frozen_at() first")
    _frozen = _frozen + delta
