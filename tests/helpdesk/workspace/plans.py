"""SQLite's query plans for what a request ran: how the report tests check an index is used."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection, event


def sqlite_plans(connection: Connection, run: Callable[[], Any]) -> list[tuple[str, str]]:
    """``(statement, plan)`` for each statement ``run`` executes on ``connection``."""
    statements: list[tuple[str, Any]] = []

    def remember(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_args: Any) -> None:
        statements.append((statement, parameters))

    event.listen(connection, "before_cursor_execute", remember)
    try:
        run()
    finally:
        event.remove(connection, "before_cursor_execute", remember)
    return [(statement, " | ".join(str(row[-1]) for row in connection.exec_driver_sql(
        f"EXPLAIN QUERY PLAN {statement}", parameters))) for statement, parameters in statements]
