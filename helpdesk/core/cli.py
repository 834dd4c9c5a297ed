"""Command-line interface: ``flask --app wsgi <group> ...``.

Each command group is its own function below and is registered in ``init_app``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import ParamSpec, TypeVar

import click
from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from flask import Flask, current_app
from flask.cli import AppGroup
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from helpdesk.core import db
from helpdesk.core.agents import AGENT_ROLES, Agent, create_agent, issue_api_token
from helpdesk.core.errors import DomainError

P = ParamSpec("P")
R = TypeVar("R")

# The repository root: alembic.ini and migrations/ sit beside the helpdesk package.
PROJECT_ROOT = Path(__file__).resolve().parents[2]


def init_app(app: Flask) -> None:
    app.cli.add_command(db_group())
    app.cli.add_command(agents_group())


def alembic_config(url: str) -> AlembicConfig:
    """An Alembic config for the repository's migrations, aimed at ``url`` (not at alembic.ini)."""
    # stdout looked up now, not at import, so click's and pytest's capture see the output.
    cfg = AlembicConfig(str(PROJECT_ROOT / "alembic.ini"), stdout=sys.stdout)
    cfg.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    cfg.attributes["url"] = url
    return cfg


def next_revision_id(cfg: AlembicConfig) -> str:
    """Sequential ids (0001, 0002, ...) so the history reads in order."""
    heads = ScriptDirectory.from_config(cfg).get_heads()
    numbers = [int(head) for head in heads if head.isdigit()]
    return f"{max(numbers, default=0) + 1:04d}"


def _alembic_errors(fn: Callable[P, R]) -> Callable[P, R]:
    """Alembic failures (including drift found by ``check``) become a message and exit code 1."""

    @wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except CommandError as exc:
            raise click.ClickException(str(exc)) from exc

    return wrapper


def _config() -> AlembicConfig:
    return alembic_config(current_app.config["DATABASE_URL"])


def db_group() -> AppGroup:
    group = AppGroup("db", help="Database migrations (Alembic), on the app's HELPDESK_DATABASE_URL.")

    @group.command("upgrade")
    @click.argument("revision", default="head")
    @_alembic_errors
    def upgrade(revision: str) -> None:
        """Migrate up to REVISION (default: head)."""
        command.upgrade(_config(), revision)

    @group.command("downgrade")
    @click.argument("revision")
    @_alembic_errors
    def downgrade(revision: str) -> None:
        """Migrate down to REVISION (e.g. -1, base)."""
        command.downgrade(_config(), revision)

    @group.command("revision")
    @click.option("-m", "--message", required=True, help="What the migration does.")
    @click.option("--autogenerate", is_flag=True, help="Diff the models against the database.")
    @click.option("--rev-id", default=None, help="Revision id (default: the next number).")
    @_alembic_errors
    def revision(message: str, autogenerate: bool, rev_id: str | None) -> None:
        """Write a new migration file in migrations/versions/."""
        cfg = _config()
        command.revision(cfg, message=message, autogenerate=autogenerate, rev_id=rev_id or next_revision_id(cfg))

    @group.command("check")
    @_alembic_errors
    def check() -> None:
        """Fail if the models and the migrated database disagree."""
        command.check(_config())
        click.echo("Models and migrations agree.")

    @group.command("current")
    @_alembic_errors
    def current() -> None:
        """Show the database's revision."""
        command.current(_config(), verbose=False)

    return group


# --- agents and widget tokens ----------------------------------------------------------------


def _echo_json(payload: dict[str, object]) -> None:
    click.echo(json.dumps(payload))


def agents_group() -> AppGroup:
    group = AppGroup("agents", help="Support agents: console logins and personal API tokens.")

    @group.command("create")
    @click.argument("email")
    @click.option("--name", required=True, help="The agent's display name.")
    @click.option("--role", type=click.Choice(AGENT_ROLES), default="agent", show_default=True)
    @click.option("--password", default=None, help="Set this password instead of generating one.")
    @click.option("--json", "as_json", is_flag=True, help="Print one JSON object (email, password, token, name, role).")
    def create(email: str, name: str, role: str, password: str | None, as_json: bool) -> None:
        """Create an agent; prints the password and an API token, which are shown only once."""
        try:
            created = create_agent(db.session(), email, name, role, password)
            db.session.commit()
        except (DomainError, IntegrityError) as exc:
            db.session.rollback()
            message = exc.message if isinstance(exc, DomainError) else f"an agent with email {email} already exists"
            raise click.ClickException(message) from exc
        agent = created.agent
        if as_json:
            _echo_json({"email": agent.email, "password": created.password, "token": created.token,
                        "name": agent.name, "role": agent.role})
            return
        click.echo(f"Created {agent.role} {agent.name} <{agent.email}>")
        click.echo(f"  password:  {created.password}")
        click.echo(f"  API token: {created.token}")
        click.echo("Keep them now: neither is shown again.")

    @group.command("token")
    @click.argument("email")
    @click.option("--label", default="cli", show_default=True, help="What the token is for.")
    @click.option("--json", "as_json", is_flag=True, help="Print one JSON object (email, token, label).")
    def token(email: str, label: str, as_json: bool) -> None:
        """Issue another personal API token for an agent."""
        agent = db.session.scalar(select(Agent).where(Agent.email == email.strip().lower()))
        if agent is None:
            raise click.ClickException(f"no agent with email {email}")
        issued = issue_api_token(db.session(), agent, label)
        db.session.commit()
        if as_json:
            _echo_json({"email": agent.email, "token": issued, "label": label})
        else:
            click.echo(issued)

    @group.command("list")
    @click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
    def list_agents(as_json: bool) -> None:
        """List the agents."""
        agents = db.session.scalars(select(Agent).order_by(Agent.email)).all()
        rows = [{"email": a.email, "name": a.name, "role": a.role, "active": a.is_active,
                 "last_login_at": a.last_login_at.isoformat() if a.last_login_at else None} for a in agents]
        if as_json:
            click.echo(json.dumps(rows))
            return
        for row in rows:
            state = "" if row["active"] else "  (inactive)"
            click.echo(f"{row['email']:<40} {row['role']:<7} {row['name']}{state}")

    from helpdesk.core.cli_access import add_commands

    add_commands(group)  # deactivate, activate, tokens list|revoke
    return group
