"""Shared fixtures: a migrated test database, the app, one rolled-back transaction per test,
a live server with a browser, and the external services (Redis).

The test database is ``HELPDESK_TEST_DATABASE_URL`` (PostgreSQL, its ``public`` schema dropped
and recreated) or a fresh SQLite file; either way it is built by the Alembic migrations, never
by ``create_all``. Something the suite needs that is missing (Chromium, Redis) skips the test
locally, and fails it under ``CI=true``: CI never passes by skipping.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import re
import shutil
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

# helpdesk.config fixes INSTANCE_DIR when imported: point it away from the real instance/ first.
_INSTANCE_DIR = tempfile.mkdtemp(prefix="helpdesk-test-instance-")
atexit.register(shutil.rmtree, _INSTANCE_DIR, True)
os.environ.setdefault("HELPDESK_INSTANCE_DIR", _INSTANCE_DIR)

import pytest  # noqa: E402
from alembic import command  # noqa: E402
from flask import Flask  # noqa: E402
from flask.testing import FlaskClient, FlaskCliRunner  # noqa: E402
from sqlalchemy import create_engine  # noqa: E402
from sqlalchemy.engine import Connection, make_url  # noqa: E402
from sqlalchemy.exc import OperationalError  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402
from werkzeug.serving import make_server  # noqa: E402

from helpdesk import create_app
from helpdesk.core import db  # noqa: E402
from helpdesk.core.cli import alembic_config  # noqa: E402

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
EXIT_STATUS = pytest.StashKey[int]()
TEST_SECRETS = {
    "SECRET_KEY": "test-secret-key-0123456789abcdef0123456789",
    "INGEST_SECRET": "test-ingest-secret-0123456789abcdef012345",
    "WIDGET_SECRET": "test-widget-secret-0123456789abcdef012345",
}


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def unavailable(reason: str) -> NoReturn:
    """Skip with the reason locally; under CI a missing dependency is a failure."""
    if in_ci():
        pytest.fail(f"{reason} (CI=true: this must not be skipped)", pytrace=False)
    pytest.skip(reason)


def migrate(url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


def _reset_postgres(url: str) -> None:
    """A clean slate each session: drop everything the last run left."""
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql("DROP SCHEMA IF EXISTS public CASCADE")
            conn.exec_driver_sql("CREATE SCHEMA public")
    except OperationalError as exc:
        shown = make_url(url).render_as_string(hide_password=True)
        pytest.fail(f"HELPDESK_TEST_DATABASE_URL={shown} is not reachable: {exc}", pytrace=False)
    finally:
        engine.dispose()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    session.config.stash[EXIT_STATUS] = int(exitstatus)


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    """Under faketime (``make test-shifted``) a timed wait that nothing wakes never ends, so the
    interpreter would wait forever at exit for timer threads (the rate limiter's): leave at once,
    with the session's own exit status, once pytest has said everything."""
    if os.environ.get("FAKETIME") and EXIT_STATUS in config.stash:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(config.stash[EXIT_STATUS])


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test that drives the browser is a browser test, marked or not (``-m 'not browser'``)."""
    for item in items:
        if {"browser", "page"} & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.browser)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Remember each phase's report, so the ``page`` fixture knows whether to keep a screenshot."""
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


# --- database and app -----------------------------------------------------------------------


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The session's database, migrated to head."""
    url = os.environ.get("HELPDESK_TEST_DATABASE_URL")
    if url and make_url(url).get_backend_name() == "postgresql":
        _reset_postgres(url)
    elif not url:
        url = sqlite_url(tmp_path_factory.mktemp("db") / "test.db")
    migrate(url)
    return url


@pytest.fixture
def app_config(database_url: str) -> dict[str, Any]:
    """Overrides for ``create_app``; override this fixture to change them for a module."""
    return {
        "DATABASE_URL": database_url,
        "TESTING": True,
        "ASYNC_MODE": "threading",
        "SOCKETIO_MESSAGE_QUEUE": None,
        **TEST_SECRETS,
    }


class BufferedClient(FlaskClient):
    """Reads each response whole and closes it, so no file behind a response is left open."""

    def open(self, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("buffered", True)
        return super().open(*args, **kwargs)


@pytest.fixture
def app(app_config: dict[str, Any]) -> Iterator[Flask]:
    """A fresh app per test (so rate limits and extensions hold no state from another test)."""
    application = create_app(app_config)
    application.test_client_class = BufferedClient
    yield application
    db.session.remove()
    db.get_engine(application).dispose()


@pytest.fixture
def app_context(app: Flask) -> Iterator[None]:
    with app.app_context():
        yield


@pytest.fixture
def db_connection(app: Flask) -> Iterator[Connection]:
    """A connection inside one transaction that is rolled back after the test."""
    connection = db.get_engine(app).connect()
    transaction = connection.begin()
    try:
        yield connection
    finally:
        transaction.rollback()
        connection.close()


@pytest.fixture
def db_session(app: Flask, db_connection: Connection) -> Iterator[Session]:
    """``helpdesk.db.session``, bound to ``db_connection``: nothing a test writes outlives it.

    Code under test may commit: with ``create_savepoint`` a commit only releases a savepoint.
    Requests from ``client`` run in this thread, so they use this same session and close it
    at teardown (objects become detached, savepoints opened on it end); for a savepoint that
    spans requests use ``db_connection.begin_nested()``.
    """
    db.session.remove()
    app.extensions["db_bind"] = db_connection  # what request handlers' sessions bind to
    db.session.configure(fallback_bind=db_connection)  # and test code outside any request
    try:
        yield db.session()
    finally:
        db.session.remove()
        db.session.configure(fallback_bind=None)
        app.extensions["db_bind"] = db.get_engine(app)


@pytest.fixture
def client(app: Flask, db_session: Session) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def cli_runner(app: Flask, db_session: Session) -> FlaskCliRunner:
    return app.test_cli_runner()


# --- live server and browser -----------------------------------------------------------------


@pytest.fixture(scope="session")
def live_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    """The app behind ``live_server``, on its own SQLite file (committed data, no rollback).

    Seed it with ``Session(helpdesk.db.get_engine(live_app))``.
    """
    url = sqlite_url(tmp_path_factory.mktemp("live") / "live.db")
    migrate(url)
    config = {"DATABASE_URL": url, "TESTING": True, "ASYNC_MODE": "threading", "SOCKETIO_MESSAGE_QUEUE": None}
    application = create_app({**config, **TEST_SECRETS})
    yield application
    db.get_engine(application).dispose()


@pytest.fixture(scope="session")
def live_server(live_app: Flask) -> Iterator[str]:
    """The base URL of the live app, served by werkzeug in a background thread."""
    server = make_server("127.0.0.1", 0, live_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """Debian's Chromium through Playwright (Playwright's own browser downloads are not used)."""
    if not os.access(CHROMIUM, os.X_OK):
        unavailable(f"{CHROMIUM} is missing: `make test-deps` installs Debian's chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield instance
        finally:
            instance.close()


@pytest.fixture
def page(browser: Browser, live_server: str, request: pytest.FixtureRequest) -> Iterator[Page]:
    """A fresh browser context on the live server (``page.goto("/path")``); a screenshot on failure."""
    context = browser.new_context(base_url=live_server)
    context.set_default_timeout(10_000)
    tab = context.new_page()
    try:
        yield tab
    finally:
        report = getattr(request.node, "rep_call", None)
        if report is not None and report.failed:
            ARTIFACTS.mkdir(exist_ok=True)
            name = re.sub(r"[^\w.-]+", "_", request.node.nodeid)
            with contextlib.suppress(Exception):  # never hide the test's own failure
                tab.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
        context.close()


# --- external services -----------------------------------------------------------------------


@pytest.fixture(scope="session")
def redis_url() -> str:
    """A reachable Redis (``HELPDESK_TEST_REDIS_URL``, default the standard loopback port)."""
    import redis

    url = os.environ.get("HELPDESK_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
    client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
    try:
        client.ping()
    except redis.RedisError as exc:
        unavailable(f"Redis at {url} is not reachable ({exc}); .ci/run starts it")
    finally:
        client.close()
    return url
