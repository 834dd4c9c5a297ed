"""``flask --app wsgi digest run`` / ``incidents sweep``, and the background loop that runs both
every ``WATCH_INTERVAL_SECONDS`` (registered as the ``watch`` loop: ``helpdesk.core.worker``).
"""

from __future__ import annotations

import logging
from datetime import datetime

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from helpdesk.bookings import digest, incidents
from helpdesk.core import db
from helpdesk.core.clock import utcnow

log = logging.getLogger(__name__)


def _moment(value: str | None) -> datetime:
    if not value:
        return utcnow()
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise click.BadParameter("must be an ISO 8601 date-time with an offset") from exc
    if moment.tzinfo is None:
        raise click.BadParameter("must include a UTC offset (for example 2026-11-26T07:00:00+10:00)")
    return moment


def sweep_once(app: Flask, now: datetime | None = None) -> dict[str, int]:
    session = db.session()
    report = incidents.sweep(session, now, app.config)
    session.commit()
    incidents.announce(app, session)
    return report


def groups() -> list[AppGroup]:
    digest_group = AppGroup("digest", help="The morning digest of bookings at risk.")

    @digest_group.command("run")
    @click.option("--at", "at", default=None, help="Send what is due at this moment (ISO 8601), not now.")
    def run(at: str | None) -> None:
        """Queue the digests due now (or --at); the outbox sends them."""
        report = digest.run(db.session(), _moment(at), current_app.config)
        click.echo("digest: {due} due, {sent} sent ({emails} emails), {nothing_at_risk} with nothing at risk, "
                   "{already} already decided".format(**report))

    incidents_group = AppGroup("incidents", help="Incidents the helpdesk opens by itself.")

    @incidents_group.command("sweep")
    @click.option("--at", "at", default=None, help="Judge silence at this moment (ISO 8601), not now.")
    def sweep(at: str | None) -> None:
        """Open incidents for connectors offline or silent through opening hours; resolve recovered ones."""
        report = sweep_once(current_app._get_current_object(), _moment(at))  # type: ignore[attr-defined]
        click.echo("incidents: {checked} connectors checked, {opened} opened, {resolved} resolved".format(**report))

    return [digest_group, incidents_group]


def run_forever(app: Flask, interval: float | None = None) -> None:
    from helpdesk.core.extensions import socketio

    wait = float(interval if interval is not None else app.config.get("WATCH_INTERVAL_SECONDS", 60))
    while True:
        with app.app_context():
            for name, step in (("sweep", lambda: sweep_once(app)),
                               ("digest", lambda: digest.run(db.session(), None, app.config))):
                try:
                    step()
                except Exception:
                    log.exception("watch: the %s pass failed", name)
                    db.session.rollback()
            db.session.remove()
        socketio.sleep(wait)

