"""Fixtures for live chat: real server processes (``wsgi.py``) on a real database, and real
Socket.IO clients (python-socketio over WebSocket) talking to them.

The chat database is its own: a fresh SQLite file, or (with ``HELPDESK_TEST_DATABASE_URL`` on
PostgreSQL) a separate database next to the test one, so the servers' committed data never
meets the rest of the suite's rolled-back tests. Every chat table is emptied before each test.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jwt
import pytest
import socketio
from sqlalchemy import create_engine, delete, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session

from chat.models import AgentConnection, AgentStatus, Conversation, Message
from helpdesk.core.agents import NewAgent, create_agent
from helpdesk.core.canned import CannedReply
from tests.conftest import TEST_SECRETS, migrate, sqlite_url

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page

ROOT = Path(__file__).resolve().parents[2]
NAMESPACE = "/chat"
START_TIMEOUT = 45


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ChatServer:
    """``python wsgi.py`` in a subprocess: the production entry point, as deployed."""

    def __init__(self, database_url: str, instance_dir: Path, mode: str = "eventlet",
                 message_queue: str | None = None, launcher: tuple[str, ...] = (),
                 start_timeout: float = START_TIMEOUT, **env: str) -> None:
        """``launcher`` goes before the interpreter (bench/chat.py's ``valgrind ...``)."""
        self.launcher, self.start_timeout = launcher, start_timeout
        self.database_url = database_url
        self.instance_dir = instance_dir
        self.mode = mode
        self.message_queue = message_queue
        self.extra_env = env
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = instance_dir / f"server-{self.port}.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ChatServer:
        env = {k: v for k, v in os.environ.items() if not k.startswith("HELPDESK_") and k != "FLASK_RUN_FROM_CLI"}
        env.update({
            "HELPDESK_DATABASE_URL": self.database_url,
            "HELPDESK_INSTANCE_DIR": str(self.instance_dir),
            "HELPDESK_PORT": str(self.port),
            "HELPDESK_PUBLIC_URL": self.url,
            "HELPDESK_ASYNC_MODE": self.mode,
            "HELPDESK_OUTBOX_LOOP": "0",
            "HELPDESK_RATELIMIT_ENABLED": "0",
            **{f"HELPDESK_{k}": v for k, v in TEST_SECRETS.items()},
            **self.extra_env,
        })
        if self.message_queue:
            env["HELPDESK_SOCKETIO_MESSAGE_QUEUE"] = self.message_queue
        with self.log_path.open("ab") as log:  # the child keeps its own descriptor
            self.process = subprocess.Popen([*self.launcher, sys.executable, "wsgi.py"], cwd=ROOT, env=env,
                                            stdout=log, stderr=log)
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited: {self.log_path.read_text()[-3000:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return self
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"the server did not start in {self.start_timeout}s: {self.log_path.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()


class Peer:
    """A real Socket.IO client on ``/chat`` that records every event it receives."""

    def __init__(self, url: str, token: str, last_seq: dict[int, int] | None = None,
                 headers: dict[str, str] | None = None) -> None:
        self.events: list[tuple[str, Any]] = []
        self._changed = threading.Condition()
        self.sio = socketio.Client(reconnection=False)
        self.sio.on("*", self._record, namespace=NAMESPACE)
        auth: dict[str, Any] = {"token": token}
        if last_seq is not None:
            auth["last_seq"] = {str(k): v for k, v in last_seq.items()}
        self.sio.connect(url, namespaces=[NAMESPACE], auth=auth, transports=["websocket"], wait_timeout=10,
                         headers=headers or {})

    def _record(self, event: str, data: Any = None) -> None:
        with self._changed:
            self.events.append((event, data))
            self._changed.notify_all()

    def call(self, event: str, data: Any = None, timeout: float = 10) -> Any:
        return self.sio.call(event, data if data is not None else {}, namespace=NAMESPACE, timeout=timeout)

    def ok(self, event: str, data: Any = None) -> Any:
        answer = self.call(event, data)
        assert isinstance(answer, dict) and "error" not in answer, answer
        return answer

    def wait_for(self, event: str, match: Callable[[Any], bool] = lambda _: True, timeout: float = 5) -> Any:
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for name, data in self.events:
                    if name == event and match(data):
                        return data
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no {event!r} event matched within {timeout}s; got {[e for e, _ in self.events]}")
                self._changed.wait(left)

    def received(self, event: str) -> list[Any]:
        with self._changed:
            return [data for name, data in self.events if name == event]

    def messages(self, conversation_id: int) -> list[dict[str, Any]]:
        return [m for m in self.received("message") if m["conversation_id"] == conversation_id]

    def seqs(self, conversation_id: int) -> list[int]:
        return [m["seq"] for m in self.messages(conversation_id)]

    def close(self) -> None:
        if self.sio.connected:
            self.sio.disconnect()


# --- database --------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def chat_database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    base = os.environ.get("HELPDESK_TEST_DATABASE_URL")
    if base and make_url(base).get_backend_name() == "postgresql":
        parsed = make_url(base)
        name = f"{parsed.database}_chat"
        admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        url = parsed.set(database=name).render_as_string(hide_password=False)
    else:
        url = sqlite_url(tmp_path_factory.mktemp("chat") / "chat.db")
    migrate(url)
    yield url


@pytest.fixture(scope="session")
def chat_engine(chat_database_url: str) -> Iterator[Engine]:
    from helpdesk.core.db import make_engine

    engine = make_engine(chat_database_url)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def chat_instance(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("chat-instance")


@pytest.fixture(scope="session")
def chat_server(chat_database_url: str, chat_instance: Path) -> Iterator[ChatServer]:
    """One eventlet server process for the module's tests (the production mode)."""
    server = ChatServer(chat_database_url, chat_instance).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def gevent_server(chat_database_url: str, chat_instance: Path) -> Iterator[ChatServer]:
    server = ChatServer(chat_database_url, chat_instance, mode="gevent").start()
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def _clean_chat_tables(request: pytest.FixtureRequest) -> None:
    """Each test starts with no conversations, no presence and no canned replies."""
    if "chat_engine" not in request.fixturenames:
        return
    engine: Engine = request.getfixturevalue("chat_engine")
    with Session(engine) as session:
        for model in (Message, Conversation, AgentConnection, AgentStatus, CannedReply):
            session.execute(delete(model))
        session.commit()


# --- people ----------------------------------------------------------------------------------


@pytest.fixture
def make_agent(chat_engine: Engine) -> Callable[..., NewAgent]:
    def make(name: str = "Ada Agent", role: str = "agent") -> NewAgent:
        with Session(chat_engine, expire_on_commit=False) as session:
            created = create_agent(session, f"{uuid.uuid4().hex[:10]}@helpdesk.test", name, role)
            session.commit()
            return created

    return make


def widget_token(practice_id: str, user_id: str = "u-1", name: str = "Pat Staff", email: str = "pat@practice.test",
                 ttl: timedelta = timedelta(hours=1), **claims: Any) -> str:
    payload = {"sub": user_id, "practice": practice_id, "name": name, "email": email,
               "exp": datetime.now(timezone.utc) + ttl, **claims}
    return jwt.encode(payload, TEST_SECRETS["WIDGET_SECRET"], algorithm="HS256")


@pytest.fixture
def practice_id() -> str:
    """A practice id no other test uses (the chat database outlives single tests)."""
    return f"P-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def peers() -> Iterator[Callable[..., Peer]]:
    """Open Peers; all closed after the test."""
    opened: list[Peer] = []

    def connect(url: str, token: str, **kw: Any) -> Peer:
        peer = Peer(url, token, **kw)
        opened.append(peer)
        return peer

    yield connect
    for peer in opened:
        peer.close()


@pytest.fixture
def online_agent(chat_server: ChatServer, make_agent: Callable[..., NewAgent],
                 peers: Callable[..., Peer]) -> tuple[NewAgent, Peer]:
    """An agent connected to ``chat_server`` with presence online."""
    agent = make_agent()
    peer = peers(chat_server.url, agent.token)
    peer.ok("presence", {"presence": "online"})
    return agent, peer


@pytest.fixture
def contexts(browser: Browser, chat_server: ChatServer) -> Iterator[Callable[[], BrowserContext]]:
    """Fresh browser contexts on the chat server (one per person in the test), closed afterwards."""
    opened: list[BrowserContext] = []

    def new() -> BrowserContext:
        context = browser.new_context(base_url=chat_server.url)
        context.set_default_timeout(10_000)
        opened.append(context)
        return context

    yield new
    for context in opened:
        context.close()


def console_page(contexts: Callable[[], BrowserContext], created: NewAgent) -> Page:
    """The agent signed in, on the chat console, connected (browser tests)."""
    from playwright.sync_api import expect

    page = contexts().new_page()
    page.goto("/console/login?next=/console/chat")
    page.get_by_label("Email").fill(created.agent.email)
    page.get_by_label("Password").fill(created.password)
    page.get_by_role("button", name="Log in").click()
    expect(page.locator("#connection")).to_have_text("Connected")
    return page


def go_online(page: Page) -> None:
    """Online, and stored so: the server counts the agent online once the console says it saved it."""
    from playwright.sync_api import expect

    page.get_by_label("My status").select_option("online")
    expect(page.locator("#presence-saved")).to_contain_text("Saved: Online")
