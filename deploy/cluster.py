"""A real cluster on one machine: N ``python wsgi.py`` web processes, one ``flask worker run``
process for the background loops, and Debian's HAProxy in front (sticky by cookie, WebSockets).

Used three ways: ``make cluster`` (``python deploy/cluster.py``: foreground, Ctrl+C stops it
all), the fault tests (``tests/cluster``) and the benchmark (``bench/cluster.py``). Every
process runs in its own process group and is stopped on exit, Ctrl+C and SIGTERM.

The web processes share PostgreSQL (``--database-url``) and Redis: the Socket.IO message queue
(``HELPDESK_SOCKETIO_MESSAGE_QUEUE``) and the rate limiter's storage
(``HELPDESK_RATELIMIT_STORAGE_URI``, so limits and the login limiter count across processes).
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = Path(__file__).resolve().parent / "haproxy.cfg.template"
START_TIMEOUT = 45.0
HAPROXY = shutil.which("haproxy") or "/usr/sbin/haproxy"


def haproxy_available() -> bool:
    return Path(HAPROXY).exists()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def python() -> str:
    candidate = ROOT / ".venv" / "bin" / "python"
    return str(candidate) if candidate.exists() else sys.executable


def wait_port(port: int, process: subprocess.Popen[bytes], log: Path, timeout: float = START_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"process exited ({process.returncode}): {log.read_text()[-3000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listens on {port} after {timeout}s: {log.read_text()[-3000:]}")


class Node:
    """One child process, its port and its log."""

    def __init__(self, name: str, command: list[str], env: dict[str, str], log: Path, port: int | None) -> None:
        self.name, self.command, self.env, self.log, self.port = name, command, env, log, port
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> Node:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(self.command, cwd=ROOT, env=self.env, stdout=out, stderr=out,
                                            start_new_session=True)
        return self

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def signal(self, sig: int) -> None:
        if self.alive():
            assert self.process is not None
            os.killpg(self.process.pid, sig)

    def stop(self, timeout: float = 10) -> None:
        if self.process is None:
            return
        if self.alive():
            self.signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.signal(signal.SIGKILL)
                self.process.wait(timeout=timeout)
        self.process = None


class Cluster:
    """``size`` web processes + a worker + HAProxy on ``proxy_port``."""

    def __init__(self, database_url: str, redis_url: str, workdir: Path, size: int = 2, *,
                 channel: str = "helpdesk-cluster", ratelimit_url: str | None = None, mode: str = "eventlet",
                 env: dict[str, str] | None = None, worker: bool = True, proxy_port: int | None = None,
                 host: str = "127.0.0.1") -> None:
        self.database_url, self.redis_url, self.workdir, self.size = database_url, redis_url, workdir, size
        self.channel, self.mode, self.extra_env, self.with_worker = channel, mode, dict(env or {}), worker
        self.ratelimit_url = ratelimit_url or redis_url
        self.host = host
        self.proxy_port = proxy_port or free_port()
        self.web: list[Node] = []
        self.worker: Node | None = None
        self.proxy: Node | None = None
        workdir.mkdir(parents=True, exist_ok=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.proxy_port}"

    @staticmethod
    def node_name(index: int) -> str:
        return f"web{index + 1}"

    def pin(self, index: int) -> dict[str, str]:
        """Headers that send a client to web process ``index`` (HAProxy's sticky cookie)."""
        return {"Cookie": f"HELPDESK_NODE={self.node_name(index)}"}

    def env(self, **more: str) -> dict[str, str]:
        base = {k: v for k, v in os.environ.items() if not k.startswith("HELPDESK_") and k != "FLASK_RUN_FROM_CLI"}
        base.update({
            "HELPDESK_DATABASE_URL": self.database_url,
            "HELPDESK_INSTANCE_DIR": str(self.workdir),
            "HELPDESK_SOCKETIO_MESSAGE_QUEUE": self.redis_url,
            "HELPDESK_SOCKETIO_CHANNEL": self.channel,
            "HELPDESK_RATELIMIT_STORAGE_URI": self.ratelimit_url,
            "HELPDESK_ASYNC_MODE": self.mode,
            "HELPDESK_PUBLIC_URL": self.url,
            "HELPDESK_PROXY_FIX": "1",
            "HELPDESK_BACKGROUND_LOOPS": "false",
            "PYTHONUNBUFFERED": "1",
        })
        base.update(self.extra_env)
        base.update(more)
        return base

    def _web_node(self, index: int, port: int) -> Node:
        env = self.env(HELPDESK_PORT=str(port), HELPDESK_HOST="127.0.0.1")
        return Node(self.node_name(index), [python(), "wsgi.py"], env, self.workdir / f"{self.node_name(index)}.log", port)

    def render_proxy_config(self) -> Path:
        servers = "\n".join(f"    server {n.name} 127.0.0.1:{n.port} cookie {n.name}" for n in self.web)
        text = TEMPLATE.read_text().format(bind=f"{self.host}:{self.proxy_port}", servers=servers)
        path = self.workdir / "haproxy.cfg"
        path.write_text(text)
        return path

    def start(self) -> Cluster:
        try:
            self.web = [self._web_node(i, free_port()).start() for i in range(self.size)]
            if self.with_worker:
                worker_env = self.env(HELPDESK_BACKGROUND_LOOPS="true", HELPDESK_ASYNC_MODE="threading")
                self.worker = Node("worker", [python(), "-m", "flask", "--app", "wsgi", "worker", "run"],
                                   worker_env, self.workdir / "worker.log", None).start()
            for node in self.web:
                assert node.process is not None and node.port is not None
                wait_port(node.port, node.process, node.log)
            config = self.render_proxy_config()
            self.proxy = Node("haproxy", [HAPROXY, "-db", "-f", str(config)], os.environ.copy(),
                              self.workdir / "haproxy.log", self.proxy_port).start()
            assert self.proxy.process is not None
            wait_port(self.proxy_port, self.proxy.process, self.proxy.log)
            if self.worker is not None and not self.worker.alive():
                raise RuntimeError(f"the worker exited: {self.worker.log.read_text()[-3000:]}")
        except BaseException:
            self.stop()
            raise
        return self

    def kill(self, index: int, sig: int = signal.SIGKILL) -> None:
        node = self.web[index]
        node.signal(sig)
        if node.process is not None:
            node.process.wait(timeout=10)

    def restart_web(self, index: int) -> None:
        node = self.web[index]
        node.stop()
        node.start()
        assert node.process is not None and node.port is not None
        wait_port(node.port, node.process, node.log)

    def pids(self) -> list[int]:
        return [n.process.pid for n in self.web if n.process is not None]

    def stop(self) -> None:
        for node in [self.proxy, *self.web, self.worker]:
            if node is not None:
                node.stop()

    def __enter__(self) -> Cluster:
        return self.start()

    def __exit__(self, *_exc: Any) -> None:
        self.stop()


# --- make cluster ---------------------------------------------------------------------------

def ensure_database(url: str) -> None:
    """Create the PostgreSQL database if missing, then migrate it."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() == "postgresql":
        admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            if conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": parsed.database}).first() is None:
                conn.execute(text(f'CREATE DATABASE "{parsed.database}"'))
        admin.dispose()
    env = {k: v for k, v in os.environ.items() if k != "FLASK_RUN_FROM_CLI"}
    env["HELPDESK_DATABASE_URL"] = url
    subprocess.run([python(), "-m", "flask", "--app", "wsgi", "db", "upgrade"], cwd=ROOT, env=env, check=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", "--size", type=int, default=int(os.environ.get("N", "2")), help="web processes (2)")
    parser.add_argument("--port", type=int, default=int(os.environ.get("CLUSTER_PORT", "8080")), help="HAProxy's port")
    parser.add_argument("--database-url", default=os.environ.get(
        "HELPDESK_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/helpdesk_cluster"))
    parser.add_argument("--redis", default=os.environ.get("HELPDESK_SOCKETIO_MESSAGE_QUEUE", "redis://127.0.0.1:6379/0"))
    parser.add_argument("--mode", default=os.environ.get("HELPDESK_ASYNC_MODE", "eventlet"), choices=["eventlet", "gevent"])
    parser.add_argument("--workdir", type=Path, default=ROOT / "instance" / "cluster")
    args = parser.parse_args(argv)
    if not haproxy_available():
        print("haproxy is not installed: `apt-get install -y haproxy` (make cluster does it)", file=sys.stderr)
        return 2
    ensure_database(args.database_url)
    own = {k: v for k, v in os.environ.items() if k.startswith("HELPDESK_")}
    cluster = Cluster(args.database_url, args.redis, args.workdir, args.size, mode=args.mode, env=own,
                      proxy_port=args.port, host="0.0.0.0" if os.environ.get("CLUSTER_PUBLIC") else "127.0.0.1")
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    with cluster:
        print(f"Practice Helpdesk cluster on {cluster.url}/ : {args.size} web processes "
              f"({', '.join(str(n.port) for n in cluster.web)}), a worker, HAProxy; logs in {args.workdir}. "
              "Ctrl+C stops it all.", flush=True)
        try:
            while True:
                for node in [*cluster.web, cluster.worker, cluster.proxy]:
                    if node is not None and not node.alive():
                        print(f"{node.name} exited: see {node.log}", file=sys.stderr, flush=True)
                        return 1
                time.sleep(1)
        except KeyboardInterrupt:
            print("stopping the cluster", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
