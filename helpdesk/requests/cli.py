"""``flask --app wsgi requests ...``: the scheduler's jobs for requests."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

from helpdesk.core import db
from helpdesk.core.clock import utcnow
from helpdesk.requests import service


def requests_group() -> AppGroup:
    group = AppGroup("requests", help="Support requests (tickets).")

    @group.command("close-solved")
    @click.option("--days", type=click.IntRange(min=0), default=None,
                  help="Close requests solved this many days ago (default HELPDESK_REQUESTS_CLOSE_AFTER_DAYS).")
    def close_solved(days: int | None) -> None:
        """Close solved requests once they have stayed solved long enough (run it from cron)."""
        days = current_app.config["REQUESTS_CLOSE_AFTER_DAYS"] if days is None else days
        closed = service.close_solved(db.session(), utcnow(), days)
        db.session.commit()
        click.echo(f"closed {len(closed)} request(s) solved {days} or more days ago"
                   + (f": {', '.join(f'#{i}' for i in closed)}" if closed else ""))

    return group
