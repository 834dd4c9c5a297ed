"""A database outage: the receiver answers 451 (try again later), and the retry is stored.

A real outage, not a mock: the receiver runs on a PostgreSQL database of its own, which the test
closes to connections (and whose connections it terminates), then opens again.
"""

from __future__ import annotations

import os
import smtplib
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from helpdesk import create_app
from helpdesk.core import db
from helpdesk.requests.mail.models import MailMessage
from helpdesk.requests.mail.server import make_controller
from helpdesk.requests.models import Request, RequestComment
from tests.conftest import TEST_SECRETS, migrate, unavailable
from tests.helpdesk.outbox.servers import free_port
from tests.helpdesk.requests.mail.conftest import Receiver, mail

ADMIN_URL = os.environ.get("HELPDESK_TEST_POSTGRES_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


@pytest.fixture
def outage_database() -> Iterator[tuple[str, Engine]]:
    """A migrated PostgreSQL database of this test's own, and an admin engine that can close it."""
    name = f"helpdesk_mail_outage_{os.getpid()}"
    admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except OperationalError as exc:
        admin.dispose()
        unavailable(f"PostgreSQL at {ADMIN_URL} is not reachable ({exc.orig}); the outage test needs one")
    url = make_url(ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    try:
        migrate(url)
        yield url, admin
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true'))
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _set_outage(admin: Engine, name: str, down: bool) -> None:
    with admin.connect() as conn:
        conn.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS {"false" if down else "true"}'))
        if down:
            conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                              "WHERE datname = :name AND pid <> pg_backend_pid()"), {"name": name})


def test_a_database_outage_is_answered_451_and_the_retry_is_stored(outage_database: tuple[str, Engine]) -> None:
    url, admin = outage_database
    name = make_url(url).database
    assert name
    app = create_app({"DATABASE_URL": url, "TESTING": True, "ASYNC_MODE": "threading",
                      "SOCKETIO_MESSAGE_QUEUE": None, "MAIL_FROM": "Practice Helpdesk <support@help.test>",
                      **TEST_SECRETS})
    port = free_port()
    controller = make_controller(app, f"127.0.0.1:{port}", workers=2)
    controller.start()
    receiver = Receiver("127.0.0.1", port)
    try:
        assert receiver.send(mail("sam@example.test", "Before", "The database is up."))[0] == 250

        _set_outage(admin, name, down=True)
        during = mail("sam@example.test", "During", "Sent while the database is down.")
        with pytest.raises(smtplib.SMTPDataError) as refused:
            receiver.send(during)
        assert refused.value.smtp_code == 451  # temporary: the sending server keeps it and retries

        _set_outage(admin, name, down=False)
        code, reply = receiver.send(during)  # the retry
        assert code == 250 and "stored in request" in reply
        code, reply = receiver.send(during)  # and a second retry (a lost 250) is not stored twice
        assert code == 250 and "already received" in reply
    finally:
        controller.stop()
        controller.handler.executor.shutdown(wait=True)
        db.get_engine(app).dispose()

    engine = create_engine(url)
    try:
        with Session(engine) as session:
            subjects = list(session.scalars(select(Request.subject).order_by(Request.id)))
            assert subjects == ["Before", "During"]
            assert session.scalar(select(func.count()).select_from(RequestComment)) == 2
            assert session.scalar(select(func.count()).select_from(MailMessage)
                                  .where(MailMessage.direction == "in")) == 2
    finally:
        engine.dispose()


