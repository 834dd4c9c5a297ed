"""The cluster behind HAProxy (deploy/cluster.py) on PostgreSQL + Redis: chat throughput for 1, 2
and 4 web processes, and idle connections across the cluster.

    .venv/bin/python bench/cluster.py throughput --sizes 1 2 4 --conversations 20 --messages 50
    .venv/bin/python bench/cluster.py idle --size 2 --clients 5000

throughput  C conversations, each practice and its agent pinned to DIFFERENT web processes (so
            every delivery crosses Redis when size > 1); each practice sends M messages one
            after another (closed loop: the next after the acknowledgement). Counted: messages
            stored (acknowledged) AND delivered to the agent; p99 is send -> the agent's receipt.
idle        N raw Engine.IO v4 WebSocket clients through the proxy, spread over the processes;
            memory per connection = (sum of the web processes' RSS delta) / N.

Database: ``BENCH_DATABASE_URL`` (default postgresql+psycopg://postgres@127.0.0.1:5432/bench_cluster,
recreated); Redis: ``BENCH_REDIS_URL`` (default redis://127.0.0.1:6379/8).
"""

from __future__ import annotations

import argparse
import json
import os
import selectors
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import socketio  # noqa: E402
import websocket  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from bench.common import percentile  # noqa: E402
from deploy.cluster import Cluster  # noqa: E402
from helpdesk.core.agents import create_agent  # noqa: E402
from tests.chat.conftest import widget_token  # noqa: E402
from tests.cluster.conftest import CLUSTER_ENV  # noqa: E402
from tests.conftest import migrate  # noqa: E402

NS = "/chat"
DB = os.environ.get("BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/bench_cluster")
REDIS = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/8")


def fresh_db() -> str:
    parsed = make_url(DB)
    admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{parsed.database}"'))
    admin.dispose()
    migrate(DB)
    return DB


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def client(cluster: Cluster, token: str, node: int, on_message: Any = None) -> socketio.Client:
    sio = socketio.Client(reconnection=False)
    if on_message:
        sio.on("message", on_message, namespace=NS)
    sio.connect(cluster.url, namespaces=[NS], auth={"token": token}, transports=["websocket"],
                headers=cluster.pin(node), wait_timeout=10)
    return sio


def throughput_run(size: int, conversations: int, messages: int) -> dict[str, Any]:
    url = fresh_db()
    engine = create_engine(url)
    with tempfile.TemporaryDirectory() as tmp, Cluster(url, REDIS, Path(tmp), size, channel=f"bench-{uuid.uuid4().hex[:6]}",
                                                       env=CLUSTER_ENV, worker=False) as cluster:
        sent_at: dict[str, float] = {}
        delays: list[float] = []
        lock = threading.Lock()

        def received(data: dict[str, Any]) -> None:
            at = sent_at.get(data.get("client_id") or "")
            if at is not None:
                with lock:
                    delays.append(time.perf_counter() - at)

        pairs = []
        for c in range(conversations):
            with Session(engine) as session:
                agent = create_agent(session, f"{uuid.uuid4().hex[:10]}@bench.test", f"Agent {c}", "agent")
                session.commit()
            agent_sio = client(cluster, agent.token, c % size, received)
            agent_sio.call("presence", {"presence": "online"}, namespace=NS, timeout=10)
            practice = client(cluster, widget_token(f"P-bench-{c}", user_id=f"u{c}"), (c + 1) % size)
            cid = practice.call("start_conversation", {"body": "hi", "client_id": "start"}, namespace=NS, timeout=10)["conversation"]["id"]
            assert "error" not in agent_sio.call("accept", {"conversation_id": cid}, namespace=NS, timeout=10)
            pairs.append((agent_sio, practice, cid, c))
        errors: list[Any] = []

        def talk(practice: socketio.Client, cid: int, c: int) -> None:
            for i in range(messages):
                key = f"m{c}-{i}"
                sent_at[key] = time.perf_counter()
                answer = practice.call("send_message", {"conversation_id": cid, "client_id": key, "body": f"message {i}"},
                                       namespace=NS, timeout=20)
                if "error" in answer:
                    errors.append(answer)
        started = time.perf_counter()
        threads = [threading.Thread(target=talk, args=(p, cid, c)) for _, p, cid, c in pairs]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        total = conversations * messages
        deadline = time.monotonic() + 30
        while len(delays) < total and time.monotonic() < deadline:
            time.sleep(0.05)
        elapsed = time.perf_counter() - started
        for agent_sio, practice, _, _ in pairs:
            practice.disconnect()
            agent_sio.disconnect()
    engine.dispose()
    result = {"processes": size, "stored_and_delivered": len(delays), "expected": total, "errors": len(errors),
              "per_second": round(len(delays) / elapsed, 1), "p50_ms": round(percentile(delays, 50) * 1000, 1),
              "p99_ms": round(percentile(delays, 99) * 1000, 1)}
    print(json.dumps(result), flush=True)
    return result


class Heartbeats(threading.Thread):
    """Answers the server's pings for every idle client while the rest connect and while they are
    held, as a real client would, so that none is dropped for silence; counts the ones the server
    closed all the same."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.selector = selectors.DefaultSelector()
        self.lock = threading.Lock()
        self.running = True
        self.closed = 0

    def add(self, ws: Any) -> None:
        with self.lock:
            self.selector.register(ws.sock, selectors.EVENT_READ, ws)

    def run(self) -> None:
        while self.running:
            with self.lock:
                ready = self.selector.select(timeout=0) if self.selector.get_map() else []
                for key, _ in ready:
                    try:
                        frame = key.data.recv()
                    except (websocket.WebSocketException, OSError):
                        frame = None
                    if frame == "2":
                        key.data.send("3")
                    elif not frame:  # the server closed it
                        self.selector.unregister(key.fileobj)
                        self.closed += 1
            time.sleep(0.02 if not ready else 0)  # outside the lock: connecting goes on meanwhile

    def stop(self) -> None:
        self.running = False
        self.join(timeout=5)


def idle(size: int, clients: int, hold: float) -> dict[str, Any]:
    url = fresh_db()
    with tempfile.TemporaryDirectory() as tmp, Cluster(url, REDIS, Path(tmp), size, channel=f"bench-{uuid.uuid4().hex[:6]}",
                                                       env=CLUSTER_ENV, worker=False) as cluster:
        time.sleep(2)
        pids = cluster.pids()
        before = sum(rss_kb(p) for p in pids)
        ws_url = cluster.url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"
        sockets = []
        heartbeats = Heartbeats()
        heartbeats.start()
        started = time.perf_counter()
        for i in range(clients):
            ws = websocket.create_connection(ws_url, timeout=20, header=[cluster.pin(i % size)["Cookie"].join(["Cookie: ", ""])])
            assert ws.recv().startswith("0{")
            ws.send("40" + NS + "," + json.dumps({"token": widget_token(f"P-idle-{i % 50}", user_id=f"u{i}")}))
            answer = ws.recv()
            assert answer.startswith("40" + NS + ","), answer
            sockets.append(ws)
            heartbeats.add(ws)
        connect_s = time.perf_counter() - started
        time.sleep(hold)
        after = sum(rss_kb(p) for p in pids)
        alive = all(n.alive() for n in cluster.web)
        heartbeats.stop()
        for ws in sockets:
            ws.close(timeout=0.1)
    result = {"processes": size, "clients": clients, "connect_seconds": round(connect_s, 1), "hold_seconds": hold,
              "dropped_by_the_server": heartbeats.closed,
              "rss_before_mb": round(before / 1024, 1), "rss_after_mb": round(after / 1024, 1),
              "kb_per_connection": round((after - before) / clients, 1), "processes_alive": alive}
    print(json.dumps(result), flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="what", required=True)
    t = sub.add_parser("throughput")
    t.add_argument("--sizes", type=int, nargs="+", default=[1, 2, 4])
    t.add_argument("--conversations", type=int, default=20)
    t.add_argument("--messages", type=int, default=50)
    i = sub.add_parser("idle")
    i.add_argument("--size", type=int, default=2)
    i.add_argument("--clients", type=int, default=5000)
    i.add_argument("--hold", type=float, default=10)
    args = parser.parse_args()
    print(f"cores {os.cpu_count()}, load {Path('/proc/loadavg').read_text().split()[:3]}", flush=True)
    if args.what == "throughput":
        for size in args.sizes:
            throughput_run(size, args.conversations, args.messages)
    else:
        idle(args.size, args.clients, args.hold)


if __name__ == "__main__":
    main()
