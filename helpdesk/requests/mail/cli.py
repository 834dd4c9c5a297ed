"""``flask --app wsgi mail serve``: run the SMTP receiver on HELPDESK_MAIL_LISTEN."""

from __future__ import annotations

import contextlib
import imaplib
import threading
import time

import click
from flask import current_app
from flask.cli import AppGroup

from helpdesk.requests.mail import tokens


def mail_group() -> AppGroup:
    group = AppGroup("mail", help="The email channel (inbound mail).")

    @group.command("serve")
    @click.option("--listen", default=None, help="HOST:PORT (default HELPDESK_MAIL_LISTEN).")
    @click.option("--workers", type=click.IntRange(min=1, max=64), default=4, show_default=True,
                  help="Threads that store messages.")
    def serve(listen: str | None, workers: int) -> None:
        """Receive email over SMTP until interrupted."""
        from helpdesk.requests.mail.server import make_controller

        app = current_app._get_current_object()  # type: ignore[attr-defined]
        controller = make_controller(app, listen, workers)
        controller.start()
        click.echo(f"mail: receiving for {tokens.support_address()} on {controller.hostname}:{controller.port} "
                   "(Ctrl+C stops)")
        try:
            with contextlib.suppress(KeyboardInterrupt):  # Ctrl+C is how it stops
                threading.Event().wait()
        finally:
            controller.stop()

    @group.command("poll")
    @click.option("--once", is_flag=True, help="One pass, then exit.")
    @click.option("--interval", type=click.FloatRange(min=1), default=None,
                  help="Seconds between passes (default HELPDESK_IMAP_INTERVAL_SECONDS).")
    def poll(once: bool, interval: float | None) -> None:
        """Fetch unseen mail from HELPDESK_IMAP_URL (a hosted mailbox) into the helpdesk."""
        from helpdesk.requests.mail import imap

        app = current_app._get_current_object()  # type: ignore[attr-defined]
        if not app.config.get("IMAP_URL"):
            raise click.UsageError("HELPDESK_IMAP_URL is not set")
        wait = interval or float(app.config.get("IMAP_INTERVAL_SECONDS") or 60)
        while True:
            try:
                report = imap.poll_once(app)
                click.echo(f"mail: {report.stored} stored, {report.refused} refused, {report.retry} to retry")
            except (OSError, imaplib.IMAP4.error) as exc:
                if once:
                    raise click.ClickException(f"cannot poll the mailbox: {exc}") from exc
                click.echo(f"mail: cannot poll the mailbox: {exc}", err=True)
            if once:
                return
            time.sleep(wait)

    return group
