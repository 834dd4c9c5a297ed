"""Alembic environment: the schema is ``helpdesk.core.db.Base.metadata``, filled by each package's models.

The URL comes from the caller (``config.attributes["url"]``, as ``helpdesk.cli`` and the tests
pass it), else from ``HELPDESK_DATABASE_URL`` through ``helpdesk.config.Config``. A caller may
also hand over an open ``config.attributes["connection"]``.
"""

from __future__ import annotations

import importlib
import logging
from logging.config import fileConfig
from typing import Any

from alembic import context
from sqlalchemy.engine import Connection
from sqlalchemy.types import TypeDecorator

from helpdesk.core.db import Base, make_engine

# Every package that owns tables; the ones not written yet are skipped.
MODEL_MODULES = ("helpdesk.core.agents", "helpdesk.core.audit", "helpdesk.core.canned", "helpdesk.core.sessions", "helpdesk.bookings.models", "helpdesk.requests.models", "helpdesk.requests.mail.models", "helpdesk.outbox.models", "chat.models", "chat.assistant.models", "kb.models", "helpdesk.workspace.models")

config = context.config

# Inside the app or pytest, logging is already set up: leave it alone.
if config.config_file_name and not logging.getLogger().handlers:
    fileConfig(config.config_file_name, disable_existing_loggers=False)


def _import_models() -> None:
    for name in MODEL_MODULES:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name not in (name, name.partition(".")[0]):
                raise


def _database_url() -> str:
    url = config.attributes.get("url")
    if url:
        return str(url)
    from helpdesk.core.config import Config

    return Config().DATABASE_URL


def render_item(type_: str, obj: Any, autogen_context: Any) -> str | bool:
    """Render our TypeDecorators (UTCDateTime) as their plain type, so migrations never import helpdesk."""
    if type_ == "type" and isinstance(obj, TypeDecorator):
        return f"sa.{obj.impl!r}"
    return False


def include_object(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    """Leave out tables that a migration makes by hand and no model describes, listed by their
    package in ``Base.metadata.info["unmanaged_tables"]`` (e.g. kb's full-text search index)."""
    return not (type_ == "table" and reflected and compare_to is None
                and name in target_metadata.info.get("unmanaged_tables", ()))


_import_models()
target_metadata = Base.metadata
CONFIGURE_OPTS: dict[str, Any] = {
    "target_metadata": target_metadata,
    "include_object": include_object,
    "compare_type": True,
    # Batch mode always: a migration generated on PostgreSQL must still run on SQLite.
    "render_as_batch": True,
    "render_item": render_item,
}


def _run(connection: Connection, **extra: Any) -> None:
    context.configure(connection=connection, **CONFIGURE_OPTS, **extra)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_offline() -> None:
    context.configure(url=_database_url(), literal_binds=True, **CONFIGURE_OPTS)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    given: Connection | None = config.attributes.get("connection")
    if given is not None:
        _run(given)
        return
    engine = make_engine(_database_url())
    try:
        with engine.connect() as connection:
            sqlite = connection.dialect.name == "sqlite"
            if sqlite:
                # Batch mode copies and drops tables; with foreign keys on, dropping a parent
                # would cascade into its children. The pragma only works outside a transaction.
                connection.connection.driver_connection.execute("PRAGMA foreign_keys=OFF")
            # make_engine's SQLite really begins transactions, so DDL can be all-or-nothing there too.
            _run(connection, transactional_ddl=True)
            if sqlite:
                broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                connection.rollback()
                if broken:
                    raise RuntimeError(f"migration left rows with broken foreign keys: {broken[:5]}")
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
