"""WebSockets are served without permessage-deflate, whatever the client offers, on both drivers.

Browsers and the official socket.io client offer the extension on every handshake; compressing
each small chat frame doubled a message's round trip (docs/PERFORMANCE.md, "Live chat").
``HELPDESK_WEBSOCKET_COMPRESSION=1`` turns it back on.
"""

from __future__ import annotations

import base64
import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.chat.conftest import ChatServer

OFFER = "permessage-deflate; client_max_window_bits"


def handshake(server: ChatServer, extensions: str | None = OFFER) -> tuple[str, dict[str, str]]:
    """A raw WebSocket upgrade to Engine.IO, as a browser sends it: the status line and headers."""
    host, port = server.url.removeprefix("http://").split(":")
    key = base64.b64encode(os.urandom(16)).decode()
    lines = [
        "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1", f"Host: {host}:{port}", "Upgrade: websocket",
        "Connection: Upgrade", f"Sec-WebSocket-Key: {key}", "Sec-WebSocket-Version: 13",
    ]
    if extensions is not None:
        lines.append(f"Sec-WebSocket-Extensions: {extensions}")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        answer = b""
        while b"\r\n\r\n" not in answer:
            chunk = sock.recv(4096)
            assert chunk, f"the server closed the handshake: {answer!r}"
            answer += chunk
    status, *header_lines = answer.split(b"\r\n\r\n")[0].decode().split("\r\n")
    headers = {name.strip().lower(): value.strip() for name, _, value in (line.partition(":") for line in header_lines)}
    return status, headers


@pytest.fixture(scope="module")
def compressing_server(chat_database_url: str, chat_instance: Path) -> Iterator[ChatServer]:
    server = ChatServer(chat_database_url, chat_instance, HELPDESK_WEBSOCKET_COMPRESSION="1").start()
    yield server
    server.stop()


@pytest.mark.parametrize("driver", ["chat_server", "gevent_server"])
def test_an_offered_deflate_is_not_taken(driver: str, request: pytest.FixtureRequest) -> None:
    status, headers = handshake(request.getfixturevalue(driver))
    assert " 101 " in status
    assert headers["upgrade"].lower() == "websocket"
    assert "sec-websocket-extensions" not in headers


def test_a_handshake_without_an_offer_still_upgrades(chat_server: ChatServer) -> None:
    status, headers = handshake(chat_server, extensions=None)
    assert " 101 " in status and "sec-websocket-extensions" not in headers


def test_the_setting_turns_deflate_back_on(compressing_server: ChatServer) -> None:
    status, headers = handshake(compressing_server)
    assert " 101 " in status
    assert headers["sec-websocket-extensions"].startswith("permessage-deflate")
