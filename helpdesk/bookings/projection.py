"""The projection loop: applies the events of bulk batches that the ingest API queued.

It runs where the other background loops run (``helpdesk.core.worker``): inside a single
server, or in the cluster's worker process, where it has a core of its own. ``flask --app wsgi
ingest project`` applies the whole queue at once (after a bulk load, or to see it drained).
"""

from __future__ import annotations

import logging

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from helpdesk.bookings import ingest
from helpdesk.core import db
from helpdesk.core.clock import utcnow

log = logging.getLogger(__name__)
RETRY_SECONDS = 5.0  # after a failed chunk (the database gone, a bug): not a log line every poll


def project_chunk(app: Flask) -> int:
    """Apply one chunk of the queue, commit it, and tell the live views: the events applied."""
    session = db.session()
    result = ingest.project_queued(session, app.config["INGEST_PROJECTION_CHUNK"])
    session.commit()
    if result.practice_ids:
        ingest.events_ingested.send(app, practice_ids=result.practice_ids)
    return result.accepted


def project_due(app: Flask) -> int:
    """One chunk if the queue is due (see ``ingest.projection_due``), else nothing."""
    config = app.config
    due = ingest.projection_due(db.session(), utcnow(), config["INGEST_PROJECTION_QUIET_SECONDS"],
                                config["INGEST_PROJECTION_MAX_LAG_SECONDS"])
    db.session.rollback()  # on PostgreSQL the check ran in the session's transaction: no snapshot kept while waiting
    return project_chunk(app) if due else 0


def drain(app: Flask) -> int:
    total = 0
    while projected := project_chunk(app):
        total += projected
    return total


def run_forever(app: Flask) -> None:
    from helpdesk.core.extensions import socketio

    poll = float(app.config["INGEST_PROJECTION_POLL_SECONDS"])
    while True:
        wait = poll
        with app.app_context():
            try:
                wait = 0 if project_due(app) else poll  # between chunks, the server's requests go first
            except Exception:
                log.exception("projection: a chunk failed; it stays queued, tried again in %.0f s", RETRY_SECONDS)
                db.session.rollback()
                wait = RETRY_SECONDS
            db.session.remove()
        socketio.sleep(wait)


def group() -> AppGroup:
    ingest_group = AppGroup("ingest", help="The queue of bulk ingest batches.")

    @ingest_group.command("project")
    def project() -> None:
        """Apply every queued event now."""
        app = current_app._get_current_object()  # type: ignore[attr-defined]
        click.echo(f"ingest: {drain(app)} queued events projected")

    return ingest_group
