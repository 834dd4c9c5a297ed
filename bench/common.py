"""What the benchmarks share: a real server process on 127.0.0.1, percentiles, a small HTTP client.

The server is ``wsgi.py`` itself (the production entry point, eventlet by default), started in its
own process group with the configuration in the environment, and always stopped again: on normal
exit, on an exception, on Ctrl-C and on SIGTERM.
"""

from __future__ import annotations

import atexit
import contextlib
import http.client
import json
import math
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = ROOT / "instance" / "bench"
HOST = "127.0.0.1"  # the benchmarks never talk to anything else


def python() -> str:
    """The project's venv interpreter when there is one, else the one running this script."""
    candidate = ROOT / ".venv" / "bin" / "python"
    return str(candidate) if candidate.exists() else sys.executable


def flask_cli(env: dict[str, str], *args: str, quiet: bool = True) -> None:
    """``flask --app wsgi ...`` in a child process (no monkey-patching under the CLI)."""
    command = [python(), "-m", "flask", "--app", "wsgi", *args]
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=quiet, text=True, check=False)
    if result.returncode != 0:
        output = (result.stdout or "") + (result.stderr or "")
        raise SystemExit(f"`flask --app wsgi {' '.join(args)}` failed:\n{output[-4000:]}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile (the value below which ``pct`` % of the samples fall)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


def summary_ms(samples: Sequence[float]) -> dict[str, float]:
    return {
        "n": len(samples),
        "p50": percentile(samples, 50) * 1000,
        "p95": percentile(samples, 95) * 1000,
        "p99": percentile(samples, 99) * 1000,
        "max": max(samples) * 1000 if samples else float("nan"),
    }


def base_env(database_url: str, instance_dir: Path, **settings: str) -> dict[str, str]:
    """The server's environment: this database, secrets generated for the run, loopback only."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HELPDESK_")}
    env.update({
        "HELPDESK_DATABASE_URL": database_url,
        "HELPDESK_INSTANCE_DIR": str(instance_dir),
        "HELPDESK_HOST": HOST,
        "HELPDESK_PUBLIC_URL": f"http://{HOST}",  # required with a database URL (helpdesk/core/security.py)
        "HELPDESK_RATELIMIT_ENABLED": "false",
        "PYTHONUNBUFFERED": "1",
    })
    env.update({f"HELPDESK_{k}": v for k, v in settings.items()})
    return env


class Server:
    """``python wsgi.py`` on a free loopback port, in its own process group."""

    def __init__(self, env: dict[str, str], log_path: Path, startup_timeout: float = 60,
                 script: str | None = None) -> None:
        # BENCH_SERVER_SCRIPT: measure a prototype entry point instead of wsgi.py (before/after runs).
        self.script = script or os.environ.get("BENCH_SERVER_SCRIPT", "wsgi.py")
        self.port = free_port()
        self.env = {**env, "HELPDESK_PORT": str(self.port), "HELPDESK_HOST": HOST}
        self.log_path = log_path
        self.startup_timeout = startup_timeout
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Server:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [python(), self.script], cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )
        log.close()
        atexit.register(self.stop)
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._on_signal)
        self._wait_ready()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def _on_signal(self, signum: int, _frame: Any) -> None:
        self.stop()
        raise SystemExit(128 + signum)

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise SystemExit(f"the server exited with {self.process.returncode}; see {self.log_path}")
            try:
                with contextlib.closing(http.client.HTTPConnection(HOST, self.port, timeout=2)) as conn:
                    conn.request("GET", "/api/v1/openapi.json")
                    conn.getresponse().read()
                    return
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise SystemExit(f"the server did not answer within {self.startup_timeout:.0f} s; see {self.log_path}")

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)

    @property
    def rss_mb(self) -> float | None:
        """The server's resident memory, from /proc (Linux)."""
        if self.process is None:
            return None
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        return None


class Client:
    """One keep-alive HTTP/1.1 connection to the server; times each request."""

    def __init__(self, port: int, headers: dict[str, str] | None = None, timeout: float = 60) -> None:
        self.conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
        self.headers = headers or {}

    def request(self, method: str, path: str, body: bytes | None = None,
                headers: dict[str, str] | None = None) -> tuple[int, bytes, float]:
        started = time.perf_counter()
        self.conn.request(method, path, body=body, headers={**self.headers, **(headers or {})})
        response = self.conn.getresponse()
        payload = response.read()
        elapsed = time.perf_counter() - started
        if response.getheader("Connection", "").lower() == "close":
            self.conn.close()
        return response.status, payload, elapsed

    def get_json(self, path: str) -> tuple[dict[str, Any], float]:
        status, payload, elapsed = self.request("GET", path)
        if status != 200:
            raise SystemExit(f"GET {path} answered {status}: {payload[:500]!r}")
        return json.loads(payload), elapsed

    def close(self) -> None:
        self.conn.close()


def table(rows: Sequence[Sequence[Any]], headers: Sequence[str]) -> str:
    cells = [[str(h) for h in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = []
    for index, row in enumerate(cells):
        lines.append("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths))))
        if index == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


@contextlib.contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Stop the benchmark by itself if it runs longer than ``seconds``."""

    def _expired(_signum: int, _frame: Any) -> None:
        raise SystemExit(f"the benchmark ran past its {seconds:.0f} s limit and stopped")

    previous = signal.signal(signal.SIGALRM, _expired)
    signal.alarm(int(seconds))
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def machine() -> str:
    cpus = os.cpu_count()
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return f"{cpus} CPU(s) {model}".strip() + f", Python {sys.version.split()[0]}"


def fresh_database(url: str | None) -> str:
    """An empty database migrated to head: PostgreSQL's public schema dropped and made again, or a
    new SQLite file under ``HELPDESK_INSTANCE_DIR`` when no URL is given."""
    import logging

    from alembic import command
    from sqlalchemy import create_engine

    from helpdesk.core.cli import alembic_config

    if url and url.startswith("postgresql"):
        engine = create_engine(url)
        with engine.begin() as conn:
            conn.exec_driver_sql("DROP SCHEMA IF EXISTS public CASCADE")
            conn.exec_driver_sql("CREATE SCHEMA public")
        engine.dispose()
    if not url:
        url = f"sqlite:///{os.environ['HELPDESK_INSTANCE_DIR']}/bench.db"
    logging.disable(logging.INFO)
    command.upgrade(alembic_config(url), "head")
    return url
