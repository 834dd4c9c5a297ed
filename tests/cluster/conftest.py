"""The cluster behind a real proxy (deploy/cluster.py): N ``wsgi.py`` processes on PostgreSQL,
Redis as the Socket.IO message queue, a worker, Debian's HAProxy in front.

Its own PostgreSQL database (``test_cluster``, next to ``HELPDESK_TEST_DATABASE_URL``'s server, or
the local one), its own Redis db number (7) and Socket.IO channel; the faults that restart Redis
or PostgreSQL use private instances (``servers.py``), never the machine's shared ones.
Missing haproxy, PostgreSQL or Redis skips locally and fails under CI=true.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from deploy.cluster import haproxy_available
from helpdesk.core.agents import NewAgent, create_agent
from tests.conftest import TEST_SECRETS, migrate, unavailable

CLUSTER_DB = "test_cluster"
CLUSTER_REDIS_DB = 7
# What every cluster process gets besides deploy/cluster.py's own settings.
CLUSTER_ENV = {
    **{f"HELPDESK_{k}": v for k, v in TEST_SECRETS.items()},
    "HELPDESK_CHAT_MESSAGES_PER_SECOND": "0",
    "HELPDESK_RATELIMIT_ENABLED": "0",
    "HELPDESK_OUTBOX_INTERVAL_SECONDS": "1",
}


def postgres_server_url() -> str:
    base = os.environ.get("HELPDESK_TEST_DATABASE_URL", "")
    if base and make_url(base).get_backend_name() == "postgresql":
        return make_url(base).set(database="postgres").render_as_string(hide_password=False)
    return "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def fresh_database(server_url: str, name: str) -> str:
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except OperationalError as exc:
        unavailable(f"PostgreSQL at {make_url(server_url).render_as_string()} is not reachable ({exc})")
    finally:
        admin.dispose()
    url = make_url(server_url).set(database=name).render_as_string(hide_password=False)
    migrate(url)
    return url


@pytest.fixture(scope="session")
def haproxy() -> None:
    if not haproxy_available():
        unavailable("haproxy is not installed (`make test-deps` installs it)")


@pytest.fixture(scope="session")
def cluster_database_url(haproxy: None) -> str:
    return fresh_database(postgres_server_url(), CLUSTER_DB)


@pytest.fixture(scope="session")
def cluster_redis_url(redis_url: str) -> str:
    return urlsplit(redis_url)._replace(path=f"/{CLUSTER_REDIS_DB}").geturl()


@pytest.fixture(scope="session")
def cluster_engine(cluster_database_url: str) -> Iterator[Engine]:
    engine = create_engine(cluster_database_url, pool_pre_ping=True)
    yield engine
    engine.dispose()


@pytest.fixture
def channel() -> str:
    return f"helpdesk-test-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    return tmp_path / "cluster"


def agent_maker(engine: Engine) -> Callable[..., NewAgent]:
    def make(name: str = "Ada Agent") -> NewAgent:
        with Session(engine, expire_on_commit=False) as session:
            created = create_agent(session, f"{uuid.uuid4().hex[:10]}@helpdesk.test", name, "agent")
            session.commit()
            return created

    return make
