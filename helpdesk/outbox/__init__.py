"""The outbox: every outgoing email and webhook is a row written in the caller's transaction,
delivered later by ``sender`` (``flask --app wsgi outbox send``, or the server's background loop).
Other domains add their own queues with ``sender.register_feeder``.
"""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from helpdesk.core.worker import register_loop
    from helpdesk.outbox import cli, sender

    app.cli.add_command(cli.outbox_group())
    register_loop(app, "outbox", sender.run_forever, "OUTBOX_LOOP")
