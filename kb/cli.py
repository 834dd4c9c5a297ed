"""``flask --app wsgi kb ...``: import and export the knowledge base as a folder of Markdown
files with YAML front matter (see ``kb.transfer``), and rebuild the search index."""

from __future__ import annotations

from pathlib import Path

import click
from flask.cli import AppGroup
from sqlalchemy import select

from helpdesk.core import db
from helpdesk.core.agents import Agent
from helpdesk.core.errors import DomainError
from kb import search, service


def kb_group() -> AppGroup:
    group = AppGroup("kb", help="Knowledge base: import and export articles, rebuild the search index.")

    @group.command("import")
    @click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
    @click.option("--as", "as_email", default=None,
                  help="Record the changes as this editor or admin (default: System).")
    def import_command(folder: Path, as_email: str | None) -> None:
        """Create or update articles from FOLDER; importing the same folder again changes nothing."""
        session = db.session()
        actor = None
        if as_email:
            actor = session.scalar(select(Agent).where(Agent.email == as_email.strip().lower()))
            if actor is None:
                raise click.ClickException(f"no agent with email {as_email}")
        try:
            report = service.import_folder(session, folder, actor)
            session.commit()
        except DomainError as exc:
            session.rollback()
            raise click.ClickException(exc.message) from exc
        click.echo(f"Imported {folder}: {report.summary()}.")

    @group.command("export")
    @click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
    def export_command(folder: Path) -> None:
        """Write every article (with its front matter) and the category tree to FOLDER."""
        count = service.export_folder(db.session(), folder)
        click.echo(f"Exported {count} article{'s' if count != 1 else ''} to {folder}.")

    @group.command("reindex")
    def reindex_command() -> None:
        """Rebuild the full-text search index from the published articles."""
        count = search.rebuild(db.session())
        db.session.commit()
        click.echo(f"Indexed {count} published article{'s' if count != 1 else ''}.")

    return group
