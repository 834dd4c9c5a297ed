"""The floor under our chat round trip, for ``bench/chat.py node``: Flask-SocketIO on eventlet,
served as ``wsgi.py`` serves (TCP_NODELAY, no permessage-deflate), whose ``send_message`` stores nothing, checks nothing,
emits the message to the room and acknowledges. What is left between this and our server is our
own work (authentication, the database, the payload); what is between this and the Node server
is the framework's.

    .venv/bin/python bench/chat_floor.py PORT
"""

import eventlet

eventlet.monkey_patch()

import socket  # noqa: E402
import sys  # noqa: E402
from itertools import count  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import eventlet.wsgi  # noqa: E402
from flask import Flask  # noqa: E402
from flask_socketio import SocketIO, join_room  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from helpdesk.core.sockets import without_websocket_compression  # noqa: E402

NS = "/chat"
app = Flask(__name__)
socketio = SocketIO(app, async_mode="eventlet")
app.wsgi_app = without_websocket_compression(app.wsgi_app)  # type: ignore[method-assign]  # as wsgi.py serves
serial = count(1)


@socketio.on("join", namespace=NS)
def join(data: Any) -> dict[str, Any]:
    join_room(f"conversation:{data['conversation_id']}", namespace=NS)
    return {"ok": True}


@socketio.on("send_message", namespace=NS)
def send_message(data: Any) -> dict[str, Any]:
    number = next(serial)
    message = {"id": number, "seq": number, "conversation_id": data["conversation_id"],
               "client_id": data["client_id"], "body": data["body"]}
    socketio.emit("message", message, to=f"conversation:{data['conversation_id']}", namespace=NS)
    return {"message": message}


if __name__ == "__main__":
    listener = eventlet.listen(("127.0.0.1", int(sys.argv[1])))
    listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    print("listening", flush=True)
    eventlet.wsgi.server(listener, app, log_output=False)
