"""``flask --app wsgi agents deactivate EMAIL`` and ``agents tokens list|revoke``: ending access.

A deactivated agent, or a revoked token, stops working at once everywhere: the API checks on each
request, open sockets on each event (helpdesk.core.auth.session_ended), console sessions on each
page (helpdesk.core.sessions). Every change is audited under the agent concerned.
"""

from __future__ import annotations

import json

import click
from flask.cli import AppGroup
from sqlalchemy import select

from helpdesk.core import db
from helpdesk.core.agents import Agent, ApiToken
from helpdesk.core.audit import AuditAction, record_audit
from helpdesk.core.clock import utcnow
from helpdesk.core.sessions import end_all_sessions


def _agent(email: str) -> Agent:
    agent = db.session.scalar(select(Agent).where(Agent.email == email.strip().lower()))
    if agent is None:
        raise click.ClickException(f"no agent with email {email}")
    return agent


def add_commands(group: AppGroup) -> None:
    @group.command("deactivate")
    @click.argument("email")
    def deactivate(email: str) -> None:
        """Deactivate an agent: console, API tokens and open sockets stop working at once."""
        agent = _agent(email)
        agent.is_active = False
        ended = end_all_sessions(db.session(), agent.id)
        record_audit(db.session(), agent, AuditAction.AGENT_DEACTIVATED, None, target=agent.email, via="cli",
                     console_sessions_ended=ended)
        db.session.commit()
        click.echo(f"Deactivated {agent.email} ({ended} console session(s) ended)")

    @group.command("activate")
    @click.argument("email")
    def activate(email: str) -> None:
        """Let a deactivated agent sign in again (their revoked tokens stay revoked)."""
        agent = _agent(email)
        agent.is_active = True
        record_audit(db.session(), agent, AuditAction.AGENT_ACTIVATED, None, target=agent.email, via="cli")
        db.session.commit()
        click.echo(f"Activated {agent.email}")

    tokens = AppGroup("tokens", help="An agent's personal API tokens.")
    group.add_command(tokens)

    @tokens.command("list")
    @click.argument("email")
    @click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
    def list_tokens(email: str, as_json: bool) -> None:
        """The agent's tokens: id, label, created, last used, revoked (never the token itself)."""
        agent = _agent(email)
        rows = [{"id": t.id, "label": t.label, "created_at": t.created_at.isoformat(),
                 "last_used_at": t.last_used_at.isoformat() if t.last_used_at else None,
                 "revoked_at": t.revoked_at.isoformat() if t.revoked_at else None}
                for t in db.session.scalars(select(ApiToken).where(ApiToken.agent_id == agent.id).order_by(ApiToken.id))]
        if as_json:
            click.echo(json.dumps(rows))
            return
        for row in rows:
            state = f"  revoked {row['revoked_at']}" if row["revoked_at"] else ""
            click.echo(f"{row['id']:>6}  {row['label']:<20} {row['created_at']}{state}")

    @tokens.command("revoke")
    @click.argument("token_id", required=False, type=click.IntRange(1, 2**31 - 1))
    @click.option("--all", "all_of", metavar="EMAIL", default=None, help="Revoke every token of this agent.")
    def revoke(token_id: int | None, all_of: str | None) -> None:
        """Revoke one token by id (see ``tokens list``), or ``--all EMAIL``."""
        if (token_id is None) == (all_of is None):
            raise click.UsageError("give a TOKEN_ID or --all EMAIL")
        now = utcnow()
        if all_of is not None:
            agent = _agent(all_of)
            rows = list(db.session.scalars(select(ApiToken).where(ApiToken.agent_id == agent.id,
                                                                  ApiToken.revoked_at.is_(None))))
        else:
            row = db.session.get(ApiToken, token_id)
            if row is None:
                raise click.ClickException(f"no token with id {token_id}")
            if row.revoked_at is not None:
                raise click.ClickException(f"token {token_id} was already revoked at {row.revoked_at.isoformat()}")
            agent, rows = row.agent, [row]
        for row in rows:
            row.revoked_at = now
        record_audit(db.session(), agent, AuditAction.API_TOKEN_REVOKED, None, target=agent.email, via="cli",
                     token_ids=[row.id for row in rows])
        db.session.commit()
        click.echo(f"Revoked {len(rows)} token(s) of {agent.email}")
