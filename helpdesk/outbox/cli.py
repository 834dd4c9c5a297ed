"""``flask --app wsgi outbox ...``: send the outbox (once or in a loop), show it, retry failures."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import func, select, update

from helpdesk.core import db
from helpdesk.core.clock import utcnow
from helpdesk.outbox import sender
from helpdesk.outbox.models import OutboxMessage


def outbox_group() -> AppGroup:
    group = AppGroup("outbox", help="Outgoing email and webhooks.")

    @group.command("send")
    @click.option("--loop", is_flag=True, help="Keep sending until interrupted.")
    @click.option("--interval", type=click.FloatRange(min=0.1), default=None,
                  help="Seconds between passes with --loop (default HELPDESK_OUTBOX_INTERVAL_SECONDS).")
    @click.option("--limit", type=click.IntRange(min=1, max=10_000), default=100, show_default=True,
                  help="Rows per pass.")
    def send(loop: bool, interval: float | None, limit: int) -> None:
        """Deliver what is due: one pass, or forever with --loop."""
        if loop:
            click.echo("outbox: sending until interrupted (Ctrl+C)")
            sender.run_forever(current_app._get_current_object(), interval, sleep=__import__("time").sleep)  # type: ignore[attr-defined]
            return
        if not current_app.config.get("SMTP_URL"):
            click.echo("outbox: HELPDESK_SMTP_URL is not set, emails stay queued", err=True)
        report = sender.send_pending(db.session(), current_app.config, limit=limit)
        for line in report.errors:
            click.echo(f"  {line}", err=True)
        click.echo(f"outbox: {report.sent} sent, {report.retrying} to retry, {report.failed} failed")

    @group.command("status")
    def status() -> None:
        """Count the rows by kind and status."""
        rows = db.session.execute(
            select(OutboxMessage.kind, OutboxMessage.status, func.count())
            .group_by(OutboxMessage.kind, OutboxMessage.status).order_by(OutboxMessage.kind, OutboxMessage.status)
        ).all()
        if not rows:
            click.echo("outbox: empty")
        for kind, state, count in rows:
            click.echo(f"{kind:<8} {state:<8} {count}")

    @group.command("retry")
    @click.argument("ids", nargs=-1, type=int)
    @click.option("--failed", "all_failed", is_flag=True, help="Queue every failed row again.")
    def retry(ids: tuple[int, ...], all_failed: bool) -> None:
        """Queue failed rows (by id, or all with --failed) to be sent again now."""
        if not ids and not all_failed:
            raise click.UsageError("name row ids or pass --failed")
        query = update(OutboxMessage).where(OutboxMessage.status == "failed")
        if ids:
            query = query.where(OutboxMessage.id.in_(ids))
        result = db.session.execute(query.values(status="pending", attempts=0, next_attempt_at=utcnow()))
        db.session.commit()
        click.echo(f"outbox: {result.rowcount} row(s) queued again")  # type: ignore[attr-defined]

    return group
