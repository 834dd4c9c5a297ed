"""``flask --app wsgi widget-token``: mint a widget identity token, as the platform would."""

from __future__ import annotations

from datetime import timedelta

import click
from flask.cli import with_appcontext

from helpdesk.bookings.models import Practice
from helpdesk.core import db
from helpdesk.core.auth import mint_widget_token


@click.command("widget-token")
@click.option("--practice", "practice_id", required=True, help="The platform's practice id.")
@click.option("--user", "user_id", required=True, help="The practice user's id on the platform.")
@click.option("--name", default="", help="The user's display name.")
@click.option("--email", default="", help="The user's email address.")
@click.option("--ttl-minutes", type=click.IntRange(min=1), default=60, show_default=True)
@click.option("--admin", is_flag=True, help="Mark the user as a practice admin.")
@with_appcontext
def widget_token_command(practice_id: str, user_id: str, name: str, email: str, ttl_minutes: int, admin: bool) -> None:
    """Mint a widget identity token (as the platform would), for demos and tests."""
    if db.session.get(Practice, practice_id) is None:
        click.echo(f"warning: no practice {practice_id} is known yet", err=True)
    click.echo(mint_widget_token(practice_id, user_id, name, email, timedelta(minutes=ttl_minutes), admin))
