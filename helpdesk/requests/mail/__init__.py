"""The email channel: practices write in and reply by email.

``tokens`` (signed reply addresses), ``outgoing`` (what our notifications carry), ``parse`` (read a
received email), ``inbound`` (the verb: one email into a request), ``server`` (the aiosmtpd
receiver, an edge that commits once per message), ``cli`` (``flask --app wsgi mail serve``).
"""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from helpdesk.requests.mail import cli

    app.cli.add_command(cli.mail_group())
