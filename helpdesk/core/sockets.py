"""The guard on every Socket.IO packet a client sends, in one place (the packet JSON codec).

python-socketio decodes a packet's JSON before any handler runs (with :class:`GuardedPacket`, the
server's ``serializer``), so a payload nested thousands
deep, one holding a NUL or a lone surrogate, an event whose name is not a string, or one named
like a reserved event (``connect``, ``disconnect``: the server would run its connect handler
again with the client's data) never reaches an application handler. It becomes the event
:data:`INVALID_EVENT`, whose handler (:func:`invalid_event`, registered by each namespace)
acknowledges with the error, so the client always gets an answer, never silence.

Also the edge's other pieces every namespace shares: events served in an app context only
(:func:`on_event_in_app_context`), WebSockets without permessage-deflate, and the unmasking
``wsgi.py`` gives eventlet.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from flask import Flask
from socketio import packet

from helpdesk.core.errors import DomainError
from helpdesk.core.guard import compact_json, parse_json

INVALID_EVENT = "invalid_payload"
RESERVED_EVENTS = frozenset({"connect", "connect_error", "disconnect", "__disconnect_final"})


def _invalid(code: str, message: str) -> list[Any]:
    return [INVALID_EVENT, {"code": code, "message": message}]


class _GuardedJson:
    @staticmethod
    def dumps(obj: Any, **_: Any) -> str:
        """Every packet the server sends (python-socketio asks for compact separators anyway)."""
        return compact_json(obj)

    @staticmethod
    def loads(data: str | bytes, **_: Any) -> Any:
        return parse_json(data, allow_nul=True)  # BadInput: too deep, a lone surrogate, a number beyond 64 bits


class GuardedPacket(packet.Packet):
    """The Socket.IO server's ``serializer``: decodes what clients send, through the guard.

    Only the server uses it (python-socketio's own ``Packet``, which clients in the same process
    use, is left alone)."""

    json = _GuardedJson

    def decode(self, encoded_packet: Any) -> int:
        try:
            attachments = int(super().decode(encoded_packet))
        except DomainError as exc:  # the header (type, namespace, ack id) was read before the JSON
            self.data = self._refused(exc.code, exc.message)
            return 0
        if self.packet_type in (packet.EVENT, packet.BINARY_EVENT):
            value = self.data
            if not isinstance(value, list) or not value or not isinstance(value[0], str):
                self.data = _invalid("invalid_event", "an event needs a name")
            elif value[0] in RESERVED_EVENTS or value[0] == INVALID_EVENT:
                self.data = _invalid("reserved_event", f"{value[0][:60]!r} is reserved and cannot be sent")
        return attachments

    @classmethod
    def data_is_binary(cls, data: Any) -> bool:
        """python-socketio's own question (is there bytes anywhere in it?), asked of every packet
        the server sends, answered without building a list of answers at every level: 4 µs, not 9,
        for a chat message."""
        pending = [data]
        while pending:
            value = pending.pop()
            if isinstance(value, (bytes, bytearray)):
                return True
            if isinstance(value, list):
                pending.extend(value)
            elif isinstance(value, dict):
                pending.extend(value.values())
        return False

    def _refused(self, code: str, message: str) -> Any:
        if self.packet_type in (packet.EVENT, packet.BINARY_EVENT):
            return _invalid(code, message)
        if self.packet_type in (packet.ACK, packet.BINARY_ACK):
            return []
        return None  # CONNECT: no auth object, so the connection is refused


def invalid_event(error: Any = None, *_args: Any) -> dict[str, Any]:
    """The acknowledgement of a refused packet."""
    if not isinstance(error, dict):
        error = {"code": "invalid_payload", "message": "the payload was refused"}
    return {"error": error}


def on_event_in_app_context(server: Any, app: Flask, namespace: str, event: str, handler: Callable[..., Any]) -> None:
    """Register ``handler(sid, *args)`` on python-socketio's server itself, run in an app context.

    Flask-SocketIO runs every event inside a request context rebuilt from the connection's
    handshake (a request object, URL matching, the session cookie opened again): about an eighth
    of a chat message's server CPU (docs/PERFORMANCE.md, "Live chat"). A handler that is given
    the sid and needs only the app (its config, the database session) does not pay for it. Connect
    stays with Flask-SocketIO: its request is the handshake, whose headers and address it reads.
    """

    def run(sid: str, *args: Any) -> Any:
        with app.app_context():
            return handler(sid, *args)

    run.__name__ = getattr(handler, "__name__", event)
    server.on(event, run, namespace=namespace)


def apply_websocket_mask(data: bytes, mask: Sequence[int], length: int | None = None, offset: int = 0) -> bytes:
    """RFC 6455's masking (each byte XORed with the key's byte at its position modulo 4), for
    ``length`` bytes of ``data`` that begin ``offset`` bytes into the frame's payload.

    eventlet does it in Python one byte at a time, on every frame a client sends; as one XOR of
    two big integers it is a few operations whatever the length. ``wsgi.py`` installs it in
    eventlet's WebSocket (the signature is eventlet's ``_apply_mask``).
    """
    if length is None:
        length = len(data)
    if not length:
        return b""
    key = bytes(mask[(offset + i) % 4] for i in range(4))
    stream = (key * (length // 4 + 1))[:length]
    return (int.from_bytes(data[:length], "little") ^ int.from_bytes(stream, "little")).to_bytes(length, "little")


WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def without_websocket_compression(wsgi_app: WsgiApp) -> WsgiApp:
    """Serve WebSockets without permessage-deflate, as Node's socket.io does by default.

    Browsers and the official client offer it, and eventlet and simple-websocket (gevent) accept
    whatever is offered. Chat frames are a few hundred bytes: compressing each one saves a few
    dozen bytes and costs both ends a zlib pass, the client's on a thread pool. It was about half
    of a message's round trip (docs/PERFORMANCE.md, "Live chat"). Not offering the extension to the
    server is the one way that works for both drivers.
    """

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        environ.pop("HTTP_SEC_WEBSOCKET_EXTENSIONS", None)
        return wsgi_app(environ, start_response)

    return app
