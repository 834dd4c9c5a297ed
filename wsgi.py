"""Entry point: monkey-patches for the async server, creates the app, serves Socket.IO.

This is the only module that imports eventlet (or gevent). Under the ``flask`` CLI
(``flask --app wsgi db upgrade``) nothing is patched and the app runs in threading mode,
so commands never start a green-thread hub.
"""

from __future__ import annotations

import gc
import os

FROM_FLASK_CLI = os.environ.get("FLASK_RUN_FROM_CLI") == "true"
ASYNC_MODE = os.environ.get("HELPDESK_ASYNC_MODE", "eventlet")

if not FROM_FLASK_CLI:
    # Patch before anything else imports socket, threading or ssl.
    if ASYNC_MODE == "eventlet":
        import warnings

        # Chosen knowingly (see DESIGN.md: one setting switches the server); don't nag at every start.
        warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")
        import eventlet

        eventlet.monkey_patch()
        # psycopg waits for PostgreSQL in C unless it sees gevent's patches: under eventlet that
        # wait froze the hub, so every query stalled every connection of the process, and two
        # ingest batches in flight took turns. Its select-based wait goes through eventlet's
        # patched select and lets the others run (docs/PERFORMANCE.md, "PostgreSQL waits").
        os.environ.setdefault("PSYCOPG_WAIT_FUNC", "wait_select")
    elif ASYNC_MODE == "gevent":
        from gevent import monkey

        monkey.patch_all()

from helpdesk import create_app  # noqa: E402
from helpdesk.core.extensions import socketio  # noqa: E402
from helpdesk.core.worker import start_in_server  # noqa: E402

app = create_app({"ASYNC_MODE": "threading"} if FROM_FLASK_CLI else None)

if not FROM_FLASK_CLI and ASYNC_MODE == "eventlet":
    import eventlet.websocket

    from helpdesk.core.sockets import apply_websocket_mask

    # Unmask what clients send as one integer XOR, not byte by byte in Python (docs/PERFORMANCE.md).
    eventlet.websocket.RFC6455WebSocket._apply_mask = staticmethod(apply_websocket_mask)  # type: ignore[method-assign]


def serve_eventlet(host: str, port: int, nodelay: bool, max_connections: int) -> None:
    """``socketio.run`` for eventlet, but with TCP_NODELAY on every accepted connection.

    A Socket.IO handler that emits an event and then returns an acknowledgement writes two small
    WebSocket frames back to back. With Nagle's algorithm on, the kernel holds the second frame
    until the client ACKs the first, and the client delays that ACK (~40 ms on Linux): each such
    round trip took ~44 ms. Linux hands TCP_NODELAY down from the listening socket to accepted
    ones; it is also set on each accepted socket, for kernels that do not. docs/PERFORMANCE.md
    ("Live chat") has the before/after figures; HELPDESK_TCP_NODELAY=0 serves the stock way.

    Every open WebSocket holds one green thread: eventlet's default cap (1,024) would refuse the
    1,025th connected client, so the cap is HELPDESK_MAX_CONNECTIONS. It also keeps its HTTP
    handler, with a 16 KiB write buffer and an 8 KiB read buffer it never uses again: smaller
    buffers save ~22 KiB per connected client (2,000 idle clients: ~44 MB).
    """
    import socket

    import eventlet.wsgi

    class Protocol(eventlet.wsgi.HttpProtocol):
        wbufsize = 1024
        rbufsize = 2048

    listener = eventlet.listen((host, port), backlog=1024)
    if nodelay:
        listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        accept = listener.accept

        def accept_nodelay():  # type: ignore[no-untyped-def]
            client, address = accept()
            client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            return client, address

        listener.accept = accept_nodelay  # type: ignore[method-assign]
    eventlet.wsgi.server(listener, app, log_output=False, max_size=max_connections, protocol=Protocol)


def serve_gevent(host: str, port: int, nodelay: bool) -> None:
    """gevent's WSGI server; WebSockets through simple-websocket (Engine.IO's gevent driver uses it
    when gevent-websocket is absent). TCP_NODELAY as for eventlet (accepted sockets inherit it)."""
    import socket

    from gevent import pywsgi

    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if nodelay:
        listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    listener.bind((host, port))
    listener.listen(1024)
    pywsgi.WSGIServer(listener, app, log=None).serve_forever()


if __name__ == "__main__":
    host, port, mode = app.config["HOST"], app.config["PORT"], app.config["ASYNC_MODE"]
    print(f"Practice Helpdesk on http://{host}:{port}/ ({mode})", flush=True)
    # The outbox sender, the incident sweep and digest (each its own *_LOOP setting); none of them
    # with HELPDESK_BACKGROUND_LOOPS=false, where `flask --app wsgi worker run` runs them instead.
    start_in_server(app)
    # Everything loaded so far (modules, the app: ~150,000 objects) lives as long as the process: move it
    # out of the garbage collector's sight. Otherwise each full collection walks all of it and
    # stops every green thread for ~200 ms, every few seconds under chat load (docs/PERFORMANCE.md).
    gc.collect()
    gc.freeze()
    if mode == "eventlet":
        serve_eventlet(host, port, app.config["TCP_NODELAY"], app.config["MAX_CONNECTIONS"])
        raise SystemExit(0)
    if mode == "gevent":
        serve_gevent(host, port, app.config["TCP_NODELAY"])
        raise SystemExit(0)
    socketio.run(
        app,
        host=host,
        port=port,
        # Werkzeug's server is the threading mode's server; eventlet and gevent ignore this.
        allow_unsafe_werkzeug=mode == "threading",
    )
