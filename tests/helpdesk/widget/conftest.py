"""Fixtures for the widget's browser journeys: the demo world in its own database, served by the
production entry point (``wsgi.py`` on eventlet, as the chat tests do: Socket.IO needs a real
server), and a TCP proxy in front of it that a test can cut to take a browser offline for real
(Chromium's offline emulation leaves open WebSockets alone)."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from helpdesk import create_app
from helpdesk.bookings.demo import DemoWorld, load_world
from helpdesk.bookings.models import Booking
from helpdesk.core import db
from helpdesk.core.agents import NewAgent, create_agent
from tests.chat.conftest import ChatServer
from tests.conftest import TEST_SECRETS, migrate, sqlite_url

DEMO_BOOKINGS = 400


class Proxy:
    """A TCP relay to the server. ``cut()`` drops every open connection and refuses new ones
    (the network is gone); ``restore()`` lets connections through again."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(128)
        self.port = int(self.listener.getsockname()[1])
        self.up = True
        self.closed = False
        self.sockets: set[socket.socket] = set()
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, name="widget-proxy", daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _accept(self) -> None:
        while not self.closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if not self.up:
                client.close()
                continue
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=5)
                upstream.settimeout(None)
            except OSError:
                client.close()
                continue
            with self.lock:
                self.sockets.update((client, upstream))
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(src, dst), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            with contextlib.suppress(OSError):  # the proxy was cut: the other side is gone
                while chunk := src.recv(65536):
                    dst.sendall(chunk)
        finally:
            for s in (src, dst):
                self._drop(s)

    def _drop(self, s: socket.socket) -> None:
        with self.lock:
            self.sockets.discard(s)
        with contextlib.suppress(OSError):
            s.shutdown(socket.SHUT_RDWR)
        s.close()

    def cut(self) -> None:
        self.up = False
        with self.lock:
            open_now = list(self.sockets)
        for s in open_now:
            self._drop(s)

    def restore(self) -> None:
        self.up = True

    def close(self) -> None:
        self.closed = True
        self.cut()
        self.listener.close()


@dataclass
class WidgetWorld:
    server: ChatServer
    proxy: Proxy
    database_url: str
    collision_reference: str
    collision_patient: str
    agent: NewAgent


@pytest.fixture(scope="session")
def widget_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WidgetWorld]:
    """The demo world (practices, bookings with every failure, Help Center articles) behind a real server."""
    folder: Path = tmp_path_factory.mktemp("widget")
    url = sqlite_url(folder / "widget.db")
    migrate(url)
    app = create_app({"DATABASE_URL": url, "TESTING": True, "ASYNC_MODE": "threading", **TEST_SECRETS})
    with app.app_context():
        session = db.session()
        load_world(session, DemoWorld(bookings=DEMO_BOOKINGS))
        from kb.service import import_folder
        from kb.transfer import CONTENT_FOLDER

        import_folder(session, CONTENT_FOLDER, None)
        session.commit()
        booking = session.scalars(select(Booking).where(
            Booking.practice_id == "riverside-dental", Booking.diary_status == "collision", Booking.cancelled_at.is_(None),
        ).order_by(Booking.created_at.desc()).limit(1)).one()
        reference, patient = booking.reference, f"{booking.patient_first_name} {booking.patient_last_name}"
    with Session(db.get_engine(app), expire_on_commit=False) as session:
        agent = create_agent(session, "widget.agent@helpdesk.test", "Wendy Agent")
        session.commit()
    db.get_engine(app).dispose()
    server = ChatServer(url, folder, HELPDESK_DEMO_PORTAL="1").start()
    proxy = Proxy(server.port)
    try:
        yield WidgetWorld(server, proxy, url, reference, patient, agent)
    finally:
        proxy.close()
        server.stop()
