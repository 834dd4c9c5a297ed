"""Live chat benchmarks against real server processes (``wsgi.py``, eventlet, SQLite default).

    .venv/bin/python bench/chat.py                 # all three, figures for docs/PERFORMANCE.md
    .venv/bin/python bench/chat.py latency --messages 2000
    .venv/bin/python bench/chat.py throughput --conversations 100 --rate 500 --seconds 20
    .venv/bin/python bench/chat.py idle --clients 2000 --hold 60
    .venv/bin/python bench/chat.py node --messages 2000 --rounds 3
    .venv/bin/python bench/chat.py store --messages 3000 --rounds 3                 # in process, no sockets
    .venv/bin/python bench/chat.py throughput --rate 700 --profile /tmp/chat.txt   # py-spy of the server meanwhile

latency     one conversation, one message at a time: send_message -> acknowledgement, measured on
            a server with Nagle's algorithm left on (HELPDESK_TCP_NODELAY=0, the stock eventlet
            server) and on one with TCP_NODELAY (the default), in the same run.
throughput  N concurrent conversations, practices sending at a fixed total rate (open loop);
            every message must be acknowledged and delivered to the conversation's agent exactly
            once; delivery latency is send -> the agent's client receiving it.
node        our send_message -> acknowledgement against the same round trip on a minimal Node
            socket.io server doing the same durable work (bench/node_chat/server.js: SQLite through
            better-sqlite3, WAL, synchronous=NORMAL, per-conversation seq, unique client_id, emit to
            the room, acknowledge), both timed by the official socket.io JavaScript client
            (bench/node_chat/roundtrip.js), alternating rounds in one run; with each server's CPU
            time per message, which other work on the machine disturbs less than wall time. A
            third server, bench/chat_floor.py (Flask-SocketIO on eventlet storing nothing), shows
            what the framework alone costs.
--profile F  (throughput) samples the server with py-spy (``pip install py-spy``) while the
            messages flow, into F as raw collapsed stacks (``-f raw``: one stack per line and its count).
            Sampling slows the server a little: take the run's figures from a run without it.
store       in process, no sockets: one practice message stored and committed as the Socket.IO
            edge does it (a LazyTransaction, no ORM session), through the ORM session, and as
            the same two statements and COMMIT through Python's sqlite3; medians, alternated.
idle        N connected, idle Socket.IO clients (raw Engine.IO v4 over WebSocket, answering the
            server's heartbeats) held for a while; the server process's resident memory.

Each scenario starts its own server on a fresh, migrated SQLite database in a temporary folder.
The load on the machine (``/proc/loadavg``) is printed with the figures.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import selectors
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import socketio  # noqa: E402
import websocket  # noqa: E402
from alembic import command  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from helpdesk.core.agents import create_agent  # noqa: E402
from helpdesk.core.cli import alembic_config  # noqa: E402
from helpdesk.core.db import make_engine  # noqa: E402
from tests.chat.conftest import START_TIMEOUT, ChatServer, free_port, widget_token  # noqa: E402

NS = "/chat"


def load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def runqueue_wait_seconds(pid: int) -> float:
    """Time the process's threads spent runnable but waiting for a CPU (``/proc/PID/schedstat``):
    how much other work on the machine held the server back."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        total += int((task / "schedstat").read_text().split()[1])
    return total / 1e9


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class World:
    """A fresh database, agents, and a server process on it."""

    nice: int | None = None  # --server-nice: the server's scheduling priority (root only for < 0)
    async_mode = "eventlet"  # --async-mode: the server's green threads
    callgrind: str | None = None  # --callgrind: the server runs under valgrind, its counts into this prefix

    def __init__(self, agents: int = 1, **env: str) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="bench-chat-"))
        self.url = f"sqlite:///{self.tmp / 'chat.db'}"
        command.upgrade(alembic_config(self.url), "head")
        engine = make_engine(self.url)
        with Session(engine, expire_on_commit=False) as session:
            self.agent_tokens = [create_agent(session, f"bench{i}@helpdesk.test", f"Agent {i}").token for i in range(agents)]
            session.commit()
        engine.dispose()
        # The benchmark's practices send faster than anyone types: lift the per-connection limit.
        env.setdefault("HELPDESK_CHAT_MESSAGES_PER_SECOND", "0")
        launcher = ("valgrind", "--tool=callgrind", "--instr-atstart=no",
                    f"--callgrind-out-file={World.callgrind}.%p") if World.callgrind else ()
        self.server = ChatServer(self.url, self.tmp, World.async_mode, launcher=launcher,
                                 start_timeout=900 if launcher else START_TIMEOUT, **env).start()
        if World.nice is not None:
            os.setpriority(os.PRIO_PROCESS, self.server.process.pid, World.nice)  # type: ignore[union-attr]

    def client(self, token: str, on_message: Any = None) -> socketio.Client:
        sio = socketio.Client(reconnection=False)
        if on_message:
            sio.on("message", on_message, namespace=NS)
        sio.connect(self.server.url, namespaces=[NS], auth={"token": token}, transports=["websocket"], wait_timeout=10)
        return sio

    def close(self) -> None:
        self.server.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)


def call(sio: socketio.Client, event: str, data: dict[str, Any]) -> Any:
    answer = sio.call(event, data, namespace=NS, timeout=10)
    if isinstance(answer, dict) and "error" in answer:
        raise RuntimeError(f"{event}: {answer['error']}")
    return answer


def open_chat(world: World, agent: socketio.Client, practice_id: str) -> tuple[socketio.Client, int]:
    practice = world.client(widget_token(practice_id, user_id="u"))
    conversation_id = call(practice, "start_conversation", {"body": "hello", "client_id": "start"})["conversation"]["id"]
    call(agent, "accept", {"conversation_id": conversation_id})
    return practice, conversation_id


# --- latency -----------------------------------------------------------------------------------

def latency_run(messages: int, nodelay: bool) -> dict[str, Any]:
    world = World(HELPDESK_TCP_NODELAY="1" if nodelay else "0")
    try:
        agent = world.client(world.agent_tokens[0])
        call(agent, "presence", {"presence": "online"})
        practice, conversation_id = open_chat(world, agent, "P-latency")
        for i in range(100):  # warm up
            call(practice, "send_message", {"conversation_id": conversation_id, "client_id": f"w{i}", "body": "warm"})
        times = []
        for i in range(messages):
            started = time.perf_counter()
            call(practice, "send_message", {"conversation_id": conversation_id, "client_id": f"m{i}", "body": f"message {i}"})
            times.append((time.perf_counter() - started) * 1000)
        practice.disconnect()
        agent.disconnect()
        return {"nodelay": nodelay, "messages": messages, "p50_ms": round(pct(times, 50), 2),
                "p99_ms": round(pct(times, 99), 2), "mean_ms": round(statistics.mean(times), 2)}
    finally:
        world.close()


def latency(args: argparse.Namespace) -> list[dict[str, Any]]:
    results = [latency_run(args.messages, nodelay=False), latency_run(args.messages, nodelay=True)]
    for r in results:
        label = "TCP_NODELAY (default)" if r["nodelay"] else "Nagle on (stock eventlet)"
        print(f"latency  {label:28} send->ack p50 {r['p50_ms']:7.2f} ms  p99 {r['p99_ms']:7.2f} ms"
              f"  mean {r['mean_ms']:6.2f} ms  ({r['messages']} messages)", flush=True)
    return results


# --- node: the same round trip against a Node socket.io server ---------------------------------

NODE_DIR = ROOT / "bench" / "node_chat"


def node_ready() -> None:
    """Install the reference's packages from its lock file once (npm registry; better-sqlite3 builds)."""
    if not (NODE_DIR / "node_modules" / "better-sqlite3").exists():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=NODE_DIR, check=True)


def js_roundtrips(url: str, token: str, conversation_id: int, messages: int, join: bool) -> list[float]:
    argv = ["node", "roundtrip.js", url, token, str(conversation_id), str(messages), "200"] + (["join"] if join else [])
    done = subprocess.run(argv, cwd=NODE_DIR, check=True, capture_output=True, text=True, timeout=600)
    return json.loads(done.stdout)["times"]


def summary(name: str, times: list[float], cpu: float) -> dict[str, Any]:
    return {"server": name, "messages": len(times), "p50_ms": round(pct(times, 50), 3),
            "p99_ms": round(pct(times, 99), 3), "cpu_ms_per_message": round(cpu * 1000 / len(times), 3)}


def ours_round(messages: int) -> dict[str, Any]:
    world = World()
    try:
        agent = world.client(world.agent_tokens[0])
        call(agent, "presence", {"presence": "online"})
        practice, conversation_id = open_chat(world, agent, "P-node")
        pid = world.server.process.pid  # type: ignore[union-attr]
        cpu = cpu_seconds(pid)
        times = js_roundtrips(world.server.url, widget_token("P-node", user_id="u"), conversation_id, messages, join=False)
        cpu = cpu_seconds(pid) - cpu
        practice.disconnect()
        agent.disconnect()
        return summary("ours", times, cpu)
    finally:
        world.close()


def reference_round(name: str, argv: list[str], messages: int) -> dict[str, Any]:
    """One round against a reference server (``argv`` + a port; it prints "listening" when ready)."""
    tmp = Path(tempfile.mkdtemp(prefix=f"bench-{name}-"))
    port = free_port()
    server = subprocess.Popen([*argv, str(port), *([str(tmp / "chat.db"), "bench"] if name == "node" else [])],
                              cwd=NODE_DIR if name == "node" else ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None and server.stdout.readline().startswith("listening")
        url = f"http://127.0.0.1:{port}"
        listener = socketio.Client(reconnection=False)  # the agent's side of the room
        listener.connect(url, namespaces=[NS], auth={"token": "bench"}, transports=["websocket"], wait_timeout=10)
        call(listener, "join", {"conversation_id": 1})
        cpu = cpu_seconds(server.pid)
        times = js_roundtrips(url, "bench", 1, messages, join=True)
        cpu = cpu_seconds(server.pid) - cpu
        listener.disconnect()
        return summary(name, times, cpu)
    finally:
        server.terminate()
        server.wait(timeout=10)
        shutil.rmtree(tmp, ignore_errors=True)


def node_round(messages: int) -> dict[str, Any]:
    return reference_round("node", ["node", "server.js"], messages)


def floor_round(messages: int) -> dict[str, Any]:
    return reference_round("floor", [sys.executable, str(ROOT / "bench" / "chat_floor.py")], messages)


def node(args: argparse.Namespace) -> dict[str, Any]:
    node_ready()
    rounds = [run(args.messages) for _ in range(args.rounds) for run in (ours_round, node_round, floor_round)]
    for r in rounds:
        print(f"node     {r['server']:5} send->ack p50 {r['p50_ms']:7.3f} ms  p99 {r['p99_ms']:7.3f} ms"
              f"  server CPU {r['cpu_ms_per_message']:6.3f} ms/message ({r['messages']} messages)", flush=True)
    best = {name: min((r for r in rounds if r["server"] == name), key=lambda r: r["p50_ms"])
            for name in ("ours", "node", "floor")}
    ratio = {key: round(best["ours"][key] / best["node"][key], 2) for key in ("p50_ms", "p99_ms", "cpu_ms_per_message")}
    floor = {key: round(best["floor"][key] / best["node"][key], 2) for key in ("p50_ms", "cpu_ms_per_message")}
    print(f"node     ours / node (best round of each): p50 {ratio['p50_ms']}x  p99 {ratio['p99_ms']}x"
          f"  CPU per message {ratio['cpu_ms_per_message']}x; floor / node: p50 {floor['p50_ms']}x"
          f"  CPU {floor['cpu_ms_per_message']}x; load {load()}", flush=True)
    return {"rounds": rounds, "ratio": ratio, "floor_ratio": floor}


# --- throughput --------------------------------------------------------------------------------

class RawClient:
    """A Socket.IO v5 client on ``/chat`` written against the wire protocol (Engine.IO v4 over
    WebSocket), so that hundreds of them run in one thread around one selector: no thread per
    client and no lock convoy in the measuring process, which would otherwise add its own delays
    to the figures."""

    def __init__(self, world: World, token: str) -> None:
        ws_url = world.server.url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"
        self.ws = websocket.create_connection(ws_url, timeout=10, origin=world.server.url)
        assert self.ws.recv().startswith("0{")
        self.ws.send("40" + NS + "," + json.dumps({"token": token}))
        answer = self.ws.recv()
        while answer.startswith("42" + NS + ","):  # events sent while connecting (an agent's queue)
            answer = self.ws.recv()
        assert answer.startswith("40" + NS + ","), answer
        self.next_id = 0
        self.on_event: Any = None
        self.on_ack: Any = None

    def emit(self, event: str, data: dict[str, Any]) -> int:
        self.next_id += 1
        self.ws.send(f"42{NS},{self.next_id}" + json.dumps([event, data]))
        return self.next_id

    def call(self, event: str, data: dict[str, Any]) -> Any:
        """Blocking: for setting up, before the measurement."""
        wanted = self.emit(event, data)
        while True:
            kind, number, payload = self.read()
            if kind == "ack" and number == wanted:
                if isinstance(payload, dict) and "error" in payload:
                    raise RuntimeError(f"{event}: {payload['error']}")
                return payload

    def read(self) -> tuple[str, int | None, Any]:
        frame = self.ws.recv()
        if frame == "2":
            self.ws.send("3")
            return "ping", None, None
        head = "4" + "2" + NS + ","
        if frame.startswith(head):  # an event: 42/chat,["name",{...}]
            name, payload = json.loads(frame[len(head):])
            return "event", None, (name, payload)
        ack = "43" + NS + ","
        if frame.startswith(ack):  # an acknowledgement: 43/chat,<id>[{...}]
            body = frame[len(ack):]
            split = body.index("[")
            return "ack", int(body[:split]), json.loads(body[split:])[0]
        return "other", None, frame

    def close(self) -> None:
        with contextlib.suppress(Exception):  # closing a socket the server may have dropped
            self.ws.close(timeout=0.1)


def start_profiler(pid: int, out: str) -> subprocess.Popen[bytes]:
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(spy).exists():
        raise SystemExit("--profile needs py-spy: .venv/bin/pip install py-spy")
    return subprocess.Popen([spy, "record", "-p", str(pid), "-f", "raw", "-r", "400", "--nonblocking", "-o", out],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def callgrind_counting(pid: int, on: bool) -> None:
    """Switch the server's instruction counting on or off (``valgrind --instr-atstart=no``)."""
    subprocess.run(["callgrind_control", "--instr=" + ("on" if on else "off"), str(pid)], check=True,
                   stdout=subprocess.DEVNULL)


def callgrind_instructions(pid: int) -> int:
    """What the server executed while counting was on: its profile dumped now, the totals added up."""
    subprocess.run(["callgrind_control", "--dump", str(pid)], check=True, stdout=subprocess.DEVNULL)
    prefix = Path(str(World.callgrind))
    return sum(int(line.split()[1]) for dump in prefix.parent.glob(f"{prefix.name}.{pid}*")
               for line in dump.read_text().splitlines() if line.startswith("totals:"))


def stop_profiler(profiler: subprocess.Popen[bytes], out: str, top: int = 30) -> None:
    """Stop py-spy and print the functions the server spent the most samples in (inclusive)."""
    profiler.send_signal(signal.SIGINT)  # py-spy writes what it sampled when interrupted
    profiler.wait(timeout=30)
    inclusive: Counter[str] = Counter()
    total = 0
    for line in Path(out).read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        total += int(count)
        for frame in {re.sub(r":\d+\)$", ")", frame) for frame in stack.split(";")}:  # a function once per stack
            inclusive[frame] += int(count)
    print(f"throughput  py-spy: {total} samples of the server in {out}; inclusive share of the top {top}:", flush=True)
    for frame, count in inclusive.most_common(top):
        print(f"  {count / max(total, 1):6.1%}  {frame}", flush=True)


def worst_by_tenth(sent_at: dict[str, float], delivered: dict[str, float], started: float) -> list[tuple[float, float]]:
    """The slowest delivery of the messages sent in each tenth of a second: a steady queue shows
    in every tenth, a stall of the server (a WAL checkpoint, a collection) in a few."""
    worst: dict[float, float] = {}
    for client_id, at in delivered.items():
        tenth = int((sent_at[client_id] - started) * 10) / 10
        worst[tenth] = max(worst.get(tenth, 0.0), (at - sent_at[client_id]) * 1000)
    return sorted(worst.items())


def throughput(args: argparse.Namespace) -> dict[str, Any]:
    per_agent = 20
    n_agents = -(-args.conversations // per_agent)
    world = World(agents=n_agents)
    clients: list[RawClient] = []
    try:
        agents = [RawClient(world, token) for token in world.agent_tokens]
        clients += agents
        for agent in agents:
            agent.call("presence", {"presence": "online", "capacity": per_agent})
        chats: list[tuple[RawClient, int]] = []
        for i in range(args.conversations):
            practice = RawClient(world, widget_token(f"P-tp-{i}", user_id="u"))
            clients.append(practice)
            started = practice.call("start_conversation", {"body": "hello", "client_id": "start"})
            agents[i // per_agent].call("accept", {"conversation_id": started["conversation"]["id"]})
            chats.append((practice, started["conversation"]["id"]))
        for client in clients:  # drop what setting up left unread
            client.ws.sock.setblocking(False)
            while True:
                try:
                    client.ws.recv()
                except (BlockingIOError, websocket.WebSocketException, OSError):
                    break
            client.ws.sock.setblocking(True)

        total = int(args.rate * args.seconds)
        sent_at: dict[str, float] = {}
        pending_ack: dict[tuple[int, int], str] = {}
        acked: dict[str, float] = {}
        delivered: dict[str, float] = {}
        duplicates = 0
        selector = selectors.DefaultSelector()
        for index, client in enumerate(clients):
            selector.register(client.ws.sock, selectors.EVENT_READ, (index, client))
        print(f"throughput: {args.conversations} conversations, {n_agents} agents, {args.rate:g}/s for {args.seconds:g}s "
              f"({total} messages); load {load()}", flush=True)
        server_pid = world.server.process.pid  # type: ignore[union-attr]
        server_cpu, own_cpu = cpu_seconds(server_pid), time.process_time()
        server_waited = runqueue_wait_seconds(server_pid)
        profiler = start_profiler(server_pid, args.profile) if args.profile else None
        if World.callgrind:
            callgrind_counting(server_pid, True)
        started = time.perf_counter()
        i = 0
        deadline = started + args.seconds + 30
        while (len(delivered) < total or len(acked) < total) and time.perf_counter() < deadline:
            now = time.perf_counter()
            while i < total and started + i / args.rate <= now:  # open loop: send what is due
                practice, conversation_id = chats[i % len(chats)]
                client_id = f"t{i}"
                sent_at[client_id] = time.perf_counter()
                ack_id = practice.emit("send_message", {"conversation_id": conversation_id, "client_id": client_id,
                                                        "body": f"message {i}"})
                pending_ack[(id(practice), ack_id)] = client_id
                i += 1
            wait = max(0.0, started + i / args.rate - time.perf_counter()) if i < total else 0.05
            for key, _ in selector.select(timeout=wait):
                index, client = key.data
                kind, number, payload = client.read()
                at = time.perf_counter()
                if kind == "ack":
                    client_id = pending_ack.pop((id(client), number), None)
                    if client_id and isinstance(payload, dict) and "message" in payload:
                        acked[client_id] = at
                elif kind == "event" and payload[0] == "message" and index < len(agents):
                    client_id = payload[1].get("client_id") or ""
                    if client_id.startswith("t"):
                        if client_id in delivered:
                            duplicates += 1
                        else:
                            delivered[client_id] = at
        finished = max([*delivered.values(), *acked.values()]) - started
        if profiler:
            stop_profiler(profiler, args.profile)
        if World.callgrind:
            callgrind_counting(server_pid, False)
            instructions = callgrind_instructions(server_pid)
            print(f"throughput  callgrind: the server executed {instructions / 1e9:.3f} G instructions, "
                  f"{instructions / max(len(delivered), 1) / 1e3:.0f} k a message delivered", flush=True)
        server_cpu, own_cpu = cpu_seconds(server_pid) - server_cpu, time.process_time() - own_cpu
        server_waited = runqueue_wait_seconds(server_pid) - server_waited
        latencies = [(delivered[c] - sent_at[c]) * 1000 for c in delivered]
        ack_latencies = [(acked[c] - sent_at[c]) * 1000 for c in acked]
        result = {
            "conversations": args.conversations, "target_rate": args.rate, "messages": total,
            "acked": len(acked), "delivered": len(delivered), "lost": total - len(delivered), "duplicates": duplicates,
            "achieved_rate": round(len(delivered) / finished, 1),
            "delivery_p50_ms": round(pct(latencies, 50), 2), "delivery_p99_ms": round(pct(latencies, 99), 2),
            "delivery_max_ms": round(max(latencies), 1),
            "ack_p50_ms": round(pct(ack_latencies, 50), 2), "ack_p99_ms": round(pct(ack_latencies, 99), 2),
            "server_cpu_ms_per_message": round(server_cpu / total * 1000, 3),
            "server_cpu_share": round(server_cpu / finished, 2), "bench_cpu_share": round(own_cpu / finished, 2),
            "server_waited_for_cpu_s": round(server_waited, 2),
            "worst_by_tenth_ms": worst_by_tenth(sent_at, delivered, started),
        }
        print(f"throughput  stored+delivered {result['delivered']}/{total} at {result['achieved_rate']}/s, "
              f"lost {result['lost']}, duplicates {duplicates}; delivery p50 {result['delivery_p50_ms']} ms "
              f"p99 {result['delivery_p99_ms']} ms (max {result['delivery_max_ms']}); ack p50 {result['ack_p50_ms']} ms "
              f"p99 {result['ack_p99_ms']} ms; server CPU {result['server_cpu_ms_per_message']} ms/message "
              f"({result['server_cpu_share']:.0%} of a core), bench client {result['bench_cpu_share']:.0%} of a core; "
              f"the server waited {server_waited:.2f}s for a CPU", flush=True)
        tenths = result["worst_by_tenth_ms"]
        slow = [tenth for tenth in tenths if tenth[1] > 50]
        worst = sorted(slow, key=lambda tenth: -tenth[1])[:5]
        print(f"throughput  {len(slow)} of {len(tenths)} tenths of a second sent a message delivered in over "
              f"50 ms (a queue shows in most, a stall in a few); the worst, sent at: "
              + (", ".join(f"{at:.1f} s ({ms:.0f} ms)" for at, ms in worst) or "none"), flush=True)
        return result
    finally:
        for client in clients:
            client.close()
        world.close()


# --- idle connections --------------------------------------------------------------------------

def idle(args: argparse.Namespace) -> dict[str, Any]:
    """Raw Engine.IO v4 clients: one thread, a selector, answering every ping with a pong."""
    world = World()
    pid = world.server.process.pid  # type: ignore[union-attr]
    ws_url = world.server.url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"
    selector = selectors.DefaultSelector()
    sockets: list[websocket.WebSocket] = []
    pongs = 0
    try:
        time.sleep(1)
        baseline = rss_mb(pid)
        started = time.perf_counter()
        for i in range(args.clients):
            ws = websocket.create_connection(ws_url, timeout=10, origin=world.server.url)
            opened = ws.recv()
            assert opened.startswith("0{"), opened
            ws.send("40" + NS + "," + json.dumps({"token": widget_token(f"P-idle-{i % 50}", user_id=f"u{i}")}))
            connected = ws.recv()
            assert connected.startswith("40" + NS + ","), connected
            ws.sock.setblocking(True)
            selector.register(ws.sock, selectors.EVENT_READ, ws)
            sockets.append(ws)
        connect_seconds = time.perf_counter() - started
        connected_rss = rss_mb(pid)
        print(f"idle: {len(sockets)} clients connected in {connect_seconds:.1f}s; server RSS {connected_rss:.1f} MB "
              f"(baseline {baseline:.1f} MB); holding {args.hold}s with heartbeats; load {load()}", flush=True)
        until = time.perf_counter() + args.hold
        peak = connected_rss
        closed = 0
        while time.perf_counter() < until:
            for key, _ in selector.select(timeout=1):
                ws = key.data
                try:
                    frame = ws.recv()
                except Exception:
                    selector.unregister(key.fileobj)
                    closed += 1
                    continue
                if frame == "2":
                    ws.send("3")
                    pongs += 1
            peak = max(peak, rss_mb(pid))
        held_rss = rss_mb(pid)
        result = {"clients": len(sockets), "still_connected": len(sockets) - closed, "pongs": pongs,
                  "baseline_rss_mb": round(baseline, 1), "connected_rss_mb": round(connected_rss, 1),
                  "held_rss_mb": round(held_rss, 1), "peak_rss_mb": round(peak, 1), "hold_seconds": args.hold}
        print(f"idle  {result['still_connected']}/{result['clients']} still connected after {args.hold}s, "
              f"{pongs} heartbeats answered; server RSS now {held_rss:.1f} MB, peak {peak:.1f} MB", flush=True)
        return result
    finally:
        for ws in sockets:
            with contextlib.suppress(Exception):
                ws.close(timeout=0.1)
        world.close()


def store(args: argparse.Namespace) -> dict[str, Any]:
    """In process, one practice message stored and committed, three ways alternated: as the
    Socket.IO edge stores it (``chat.events._store_message``: a ``LazyTransaction``, no ORM
    session), the same verb through the ORM session, and the same two statements and COMMIT
    through Python's ``sqlite3`` (the floor)."""
    from chat import service
    from chat.models import Conversation
    from helpdesk import create_app
    from helpdesk.core import db
    from helpdesk.core.auth import PracticeUser
    from helpdesk.core.clock import utcnow
    from helpdesk.core.db import LazyTransaction
    from tests.conftest import TEST_SECRETS

    tmp = Path(tempfile.mkdtemp(prefix="bench-store-"))
    url = f"sqlite:///{tmp / 'store.db'}"
    command.upgrade(alembic_config(url), "head")
    app = create_app({"DATABASE_URL": url, "ASYNC_MODE": "threading", "SOCKETIO_MESSAGE_QUEUE": None, **TEST_SECRETS})
    user = PracticeUser(user_id="u", practice_id="P-store", name="Pat", email="pat@practice.test")
    with app.app_context():
        conversation = Conversation(practice_id="P-store", requester_id="u", requester_name="Pat",
                                    requester_email="pat@practice.test", status="active", created_at=utcnow(), last_seq=0)
        db.session.add(conversation)
        db.session.commit()
        conversation_id = conversation.id
    floor = sqlite3.connect(tmp / "store.db", isolation_level=None)
    for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON"):
        floor.execute(f"PRAGMA {pragma}")

    def edge(client_id: str) -> None:
        with app.app_context():
            with LazyTransaction() as writer:
                service.send_message(db.session, user, conversation_id, client_id, "a message", utcnow(), writer)
                writer.commit()

    def session(client_id: str) -> None:
        with app.app_context():
            service.send_message(db.session(), user, conversation_id, client_id, "a message", utcnow())
            db.session.commit()

    def sqlite(client_id: str) -> None:
        now = utcnow().isoformat(" ")
        floor.execute("BEGIN IMMEDIATE")
        (seq,) = floor.execute("UPDATE chat_conversations SET last_seq = last_seq + 1, last_message_at = ?,"
                               " practice_read_seq = last_seq + 1 WHERE id = ? AND practice_id = ? AND status != 'closed'"
                               " AND requester_id = ? RETURNING last_seq", (now, conversation_id, "P-store", "u")).fetchone()
        floor.execute("INSERT INTO chat_messages (conversation_id, seq, client_id, kind, author_type, author_id,"
                      " author_name, body, data, created_at) VALUES (?, ?, ?, 'text', 'practice', 'u', 'Pat', ?, '{}', ?)"
                      " RETURNING id", (conversation_id, seq, client_id, "a message", now)).fetchone()
        floor.execute("COMMIT")

    medians: dict[str, list[float]] = {"edge": [], "session": [], "sqlite": []}
    ways = {"edge": edge, "session": session, "sqlite": sqlite}
    try:
        for round_number in range(args.rounds):
            for name, way in ways.items():
                times = []
                for i in range(args.messages):
                    started = time.perf_counter()
                    way(f"{name}-{round_number}-{i}")
                    times.append((time.perf_counter() - started) * 1e6)
                medians[name].append(round(statistics.median(times), 1))
                print(f"store    {name:8} round {round_number + 1}: median {medians[name][-1]:7.1f} µs "
                      f"({args.messages} messages)", flush=True)
    finally:
        floor.close()
        db.get_engine(app).dispose()
        shutil.rmtree(tmp, ignore_errors=True)
    return {"medians_us": medians, "messages": args.messages}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("scenario", nargs="?", default="all", choices=["all", "latency", "throughput", "idle", "node", "store"])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--conversations", type=int, default=100)
    parser.add_argument("--rate", type=float, default=500)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--clients", type=int, default=2000)
    parser.add_argument("--hold", type=float, default=60)
    parser.add_argument("--rounds", type=int, default=3, help="node: alternating rounds of each server")
    parser.add_argument("--profile", default=None, help="throughput: py-spy the server into this file (raw stacks)")
    parser.add_argument("--server-nice", type=int, default=None,
                        help="renice the server process (e.g. -10): on a shared machine, keeps other work from preempting it")
    parser.add_argument("--callgrind", default=None, metavar="PREFIX",
                        help="throughput: run the server under valgrind's callgrind (at a low --rate: ~50x slower) and "
                             "count its instructions a message, repeatable where CPU seconds are not; profiles go to PREFIX.PID")
    parser.add_argument("--async-mode", default="eventlet", choices=("eventlet", "gevent"),
                        help="the server's async mode (wsgi.py's HELPDESK_ASYNC_MODE)")
    args = parser.parse_args()
    World.nice, World.async_mode, World.callgrind = args.server_nice, args.async_mode, args.callgrind
    print(f"bench/chat.py {args.scenario}; {args.async_mode}; cores {os.cpu_count()}; load {load()}"
          + (f"; server nice {args.server_nice}" if args.server_nice is not None else ""), flush=True)
    results: dict[str, Any] = {}
    if args.scenario in ("all", "latency"):
        results["latency"] = latency(args)
    if args.scenario in ("all", "throughput"):
        results["throughput"] = throughput(args)
    if args.scenario in ("all", "idle"):
        results["idle"] = idle(args)
    if args.scenario == "node":
        results["node"] = node(args)
    if args.scenario == "store":
        results["store"] = store(args)
    print(json.dumps({"load_after": load(), **results}))


if __name__ == "__main__":
    main()
