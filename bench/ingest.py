"""Ingest throughput through the real HTTP endpoint: signed batches to ``POST /api/v1/ingest/events``.

Starts ``wsgi.py`` (the production entry point) on a fresh database, migrated with
``flask --app wsgi db upgrade``, and sends the demo world's events (booking.created, email and
diary outcomes, sidebar alerts, failures, connector events, alert emails: the realistic mix) in
signed batches of 500, one request after another on a keep-alive connection. The events are
generated and serialised before the clock starts; signing happens per request, as a sender would.

    .venv/bin/python bench/ingest.py                       # SQLite, 100,000 events
    .venv/bin/python bench/ingest.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/helpdesk_bench --reset-database
    .venv/bin/python bench/ingest.py --in-process --events 25000     # Flask's test client, no server
    valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file=/tmp/cg.%p \
        .venv/bin/python bench/ingest.py --in-process --events 5000 --callgrind  # instructions, repeatable

A batch of more than ``INGEST_INLINE_MAX_EVENTS`` (100) is queued: stored, answered, and projected
by the projection loop once the batches pause. The run times both: when the last batch was
answered (accepted), and when the queue was empty again (projected). ``--worker`` runs the loop in
a separate process (``flask worker run --only projection``, the cluster's layout: a core of its
own) instead of inside the server; ``--batch 100`` measures the inline path.

Target: at least 3,000 events/s on the SQLite default. The same run then inserts the same events
as rows through Python's ``sqlite3`` in one transaction (parsing the same JSON, one row per event
with its payload; no validation, no projection, no HTTP): the floor that the API is compared with.
On SQLite it then inserts the rows the API stored, as they are, into a freshly migrated database
(every index), a transaction per batch: the database's own share, without Python building them.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import secrets
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from itertools import islice
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (  # noqa: E402
    BENCH_DIR,
    HOST,
    Client,
    Server,
    base_env,
    deadline,
    flask_cli,
    machine,
    summary_ms,
    table,
)

TARGET_EVENTS_PER_SECOND = 3000


def build_batches(events: int, batch_size: int, seed: int) -> list[bytes]:
    from helpdesk.bookings.demo import DemoWorld

    # About 4.3 events per booking in the demo world: ask for enough bookings, then cut.
    world = DemoWorld(bookings=events // 4 + 1000, seed=seed)
    chosen = list(islice(world.events(), events))
    bodies = [json.dumps(chosen[i:i + batch_size], separators=(",", ":")).encode()
              for i in range(0, len(chosen), batch_size)]
    return bodies


def event_mix(bodies: list[bytes]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for body in bodies:
        for event in json.loads(body):
            counts[event["type"]] = counts.get(event["type"], 0) + 1
    return dict(sorted(counts.items(), key=lambda kv: -kv[1]))


def raw_sqlite_seconds(bodies: list[bytes], folder: Path) -> float:
    """The same events as plain rows through ``sqlite3``: one transaction, WAL, synchronous=NORMAL."""
    connection = sqlite3.connect(folder / "raw.sqlite", isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=NORMAL")
    connection.execute("CREATE TABLE events (id TEXT PRIMARY KEY, type TEXT NOT NULL, occurred_at TEXT NOT NULL, "
                       "practice_id TEXT NOT NULL, data TEXT NOT NULL)")
    started = time.perf_counter()
    connection.execute("BEGIN IMMEDIATE")
    for body in bodies:
        connection.executemany("INSERT INTO events VALUES (?, ?, ?, ?, ?)", [
            (e["id"], e["type"], e["occurred_at"], e["practice_id"], json.dumps(e["data"])) for e in json.loads(body)])
    connection.execute("COMMIT")
    seconds = time.perf_counter() - started
    connection.close()
    return seconds


# What a batch leaves in the database, table by table (the rest of the schema is untouched by it).
STORED_TABLES = ("practices", "practice_settings", "practice_closed_days", "ingested_events", "booking_facts",
                 "integration_events", "alert_emails", "bookings")


def schema_floor_seconds(api_db: Path, batches: int, env: dict[str, str], folder: Path) -> tuple[float, int]:
    """The rows the API stored, inserted again through ``sqlite3`` into a freshly migrated database
    (every index the reads need), one transaction per batch as the API commits, with the app's
    pragmas: the database's own share of an ingest, without Python building the rows."""
    schema_db = folder / "schema.sqlite"
    flask_cli({**env, "HELPDESK_DATABASE_URL": f"sqlite:///{schema_db}"}, "db", "upgrade")
    source = sqlite3.connect(f"file:{api_db}?mode=ro", uri=True)
    tables = {}
    for name in STORED_TABLES:
        cursor = source.execute(f"SELECT * FROM {name}")  # noqa: S608 (our own table names)
        columns = [d[0] for d in cursor.description]
        tables[name] = (columns, cursor.fetchall())
    source.close()
    target = sqlite3.connect(schema_db, isolation_level=None)
    for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON", "temp_store=MEMORY",
                   "cache_size=-65536", "wal_autocheckpoint=20000"):
        target.execute(f"PRAGMA {pragma}")
    rows = sum(len(r) for _, r in tables.values())
    spent = dict.fromkeys([*tables, "COMMIT"], 0.0)
    started = time.perf_counter()
    for index in range(batches):
        target.execute("BEGIN IMMEDIATE")
        for name, (columns, all_rows) in tables.items():
            # The practices (a few dozen) all come first: every other row names one.
            size = len(all_rows) if name == "practices" else -(-len(all_rows) // batches)
            chunk = all_rows[index * size:(index + 1) * size]
            if chunk:
                step = time.perf_counter()
                target.executemany(f"INSERT INTO {name} ({', '.join(columns)}) VALUES "  # noqa: S608
                                   f"({', '.join('?' * len(columns))})", chunk)
                spent[name] += time.perf_counter() - step
        step = time.perf_counter()
        target.execute("COMMIT")
        spent["COMMIT"] += time.perf_counter() - step
    seconds = time.perf_counter() - started
    target.close()
    print("  of which: " + ", ".join(f"{name} {value:.2f} s ({len(tables[name][1]):,} rows)" if name in tables
                                     else f"{name} {value:.2f} s" for name, value in spent.items() if value >= 0.005))
    return seconds, rows


@contextlib.contextmanager
def projection_worker(wanted: bool, env: dict[str, str], run_dir: Path) -> Iterator[subprocess.Popen[bytes] | None]:
    """``flask --app wsgi worker run --only projection``, as the cluster's worker runs it."""
    if not wanted:
        yield None
        return
    with (run_dir / "worker.log").open("wb") as log:
        worker = subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "worker", "run", "--only", "projection"],
                                  cwd=Path(__file__).resolve().parent.parent, stdout=log, stderr=subprocess.STDOUT,
                                  env={**env, "HELPDESK_BACKGROUND_LOOPS": "true", "HELPDESK_ASYNC_MODE": "threading"})
    try:
        yield worker
    finally:
        worker.terminate()
        worker.wait(timeout=30)


def wait_for_empty_queue(url: str, worker: subprocess.Popen[bytes] | None) -> float:
    """When no queued event was left: the projection's end (polled every 20 ms)."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            while connection.execute(text("SELECT count(*) FROM ingest_queue")).scalar():
                connection.rollback()  # a fresh snapshot each time
                if worker is not None and worker.poll() is not None:
                    raise SystemExit("the projection worker exited; see worker.log")
                time.sleep(0.02)
            return time.perf_counter()
    finally:
        engine.dispose()


def reset_postgres(url: str) -> None:
    from sqlalchemy import create_engine

    engine = create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP SCHEMA IF EXISTS public CASCADE")
        conn.exec_driver_sql("CREATE SCHEMA public")
    engine.dispose()


def postgres_is_empty(url: str) -> bool:
    from sqlalchemy import create_engine, inspect

    engine = create_engine(url)
    try:
        return not inspect(engine).get_table_names()
    finally:
        engine.dispose()


def in_process(args: argparse.Namespace, url: str, run_dir: Path) -> None:
    """The same batches through Flask's test client, in this process: no HTTP server, no client.

    For comparing code before and after a change with less noise than the server run (and, under
    ``valgrind --tool=callgrind --instr-atstart=no``, with ``--callgrind``: the instructions of the
    measured batches only, which other work on the machine does not disturb).
    """
    import gc
    import os

    os.environ["HELPDESK_INSTANCE_DIR"] = str(run_dir)  # before helpdesk is imported
    from alembic import command

    from helpdesk import create_app
    from helpdesk.core.cli import alembic_config
    from helpdesk.core.signing import sign

    command.upgrade(alembic_config(url), "head")
    secret = secrets.token_urlsafe(32)
    app = create_app({"DATABASE_URL": url, "INGEST_SECRET": secret, "SECRET_KEY": secrets.token_urlsafe(32),
                      "WIDGET_SECRET": secrets.token_urlsafe(32), "RATELIMIT_ENABLED": False,
                      "INGEST_MAX_BATCH": max(args.batch, 500)})
    bodies = build_batches(args.warmup + args.events, args.batch, args.seed)
    warm = args.warmup // args.batch
    client = app.test_client()

    def send(body: bytes) -> None:
        timestamp = str(int(time.time()))
        response = client.post("/api/v1/ingest/events", data=body, headers={
            "Content-Type": "application/json", "X-Helpdesk-Timestamp": timestamp,
            "X-Helpdesk-Signature": sign(secret, timestamp, body)})
        if response.status_code != 200 or response.get_json()["duplicates"]:
            raise SystemExit(f"a batch answered {response.status_code}: {response.data[:300]!r}")

    from helpdesk.bookings import projection

    def drain() -> int:
        with app.app_context():
            return projection.drain(app)

    for body in bodies[:warm]:
        send(body)
    drain()
    gc.collect()
    gc.freeze()  # as wsgi.py does before serving
    if args.callgrind:
        subprocess.run(["callgrind_control", "-i", "on", str(os.getpid())], check=True, capture_output=True)
    wall, cpu = time.perf_counter(), time.process_time()
    for body in bodies[warm:]:
        send(body)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    if args.callgrind:  # the answering's instructions in one part, the projection's in the next
        subprocess.run(["callgrind_control", "-d", "accepted", str(os.getpid())], check=True, capture_output=True)
    project_wall = time.perf_counter()
    projected = drain()
    project_wall = time.perf_counter() - project_wall
    if args.callgrind:
        subprocess.run(["callgrind_control", "-i", "off", str(os.getpid())], check=True, capture_output=True)
    events = sum(body.count(b'"type":') for body in bodies[warm:])
    backend = url.split(":", 1)[0].split("+")[0]
    print(f"in process ({backend}, {events:,} events after {args.warmup:,} to warm up, {machine()}): "
          f"answered in {wall:.2f} s, CPU {cpu:.2f} s, {events / wall:,.0f} events/s, {1e6 * wall / events:.0f} us an event; "
          f"then {projected:,} queued events projected in {project_wall:.2f} s "
          f"({1e6 * project_wall / events:.0f} us an event; both {events / (wall + project_wall):,.0f} events/s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=100_000, help="events to send (default 100,000)")
    parser.add_argument("--batch", type=int, default=500, help="events per request (default 500)")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--concurrency", type=int, default=1,
                        help="batches in flight at once, each sender on its own connection (default 1)")
    parser.add_argument("--database-url", help="a scratch PostgreSQL database (default: a fresh SQLite file)")
    parser.add_argument("--reset-database", action="store_true",
                        help="drop and recreate the public schema of --database-url first (it must be a scratch db)")
    parser.add_argument("--start-from", type=Path,
                        help="SQLite only: start from a copy of this database (e.g. the 1M-booking one) instead of an "
                             "empty one, to measure ingest into a big history")
    parser.add_argument("--async-mode", default="eventlet", choices=("eventlet", "gevent", "threading"))
    parser.add_argument("--set", dest="settings", action="append", default=[], metavar="NAME=VALUE",
                        help="a server setting, without its HELPDESK_ prefix (e.g. INGEST_PROJECTION_CHUNK=5000)")
    parser.add_argument("--worker", action="store_true",
                        help="project the queue in a separate worker process (the cluster's layout), not in the server")
    parser.add_argument("--keep", action="store_true", help="keep the SQLite file and server log")
    parser.add_argument("--timeout", type=float, default=1800, help="stop after this many seconds (default 1800)")
    parser.add_argument("--json", dest="json_out", help="also write the results as JSON to this file")
    parser.add_argument("--in-process", action="store_true",
                        help="send the batches through Flask's test client in this process (no server, no floors)")
    parser.add_argument("--warmup", type=int, default=5_000, help="--in-process: events sent before measuring")
    parser.add_argument("--callgrind", action="store_true",
                        help="--in-process under valgrind --tool=callgrind --instr-atstart=no: count only the "
                             "measured batches' instructions")
    args = parser.parse_args()

    run_id = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S") + "-" + secrets.token_hex(3)
    run_dir = BENCH_DIR / f"ingest-{run_id}"
    run_dir.mkdir(parents=True, exist_ok=True)
    if args.database_url:
        url = args.database_url
        if args.reset_database:
            reset_postgres(url)
        elif not postgres_is_empty(url):
            raise SystemExit("--database-url holds tables; pass --reset-database to wipe it (scratch databases only)")
    else:
        url = f"sqlite:///{run_dir / 'ingest.sqlite'}"
        if args.start_from:
            print(f"Copying {args.start_from} ...", flush=True)
            shutil.copyfile(args.start_from, run_dir / "ingest.sqlite")
    secret = secrets.token_urlsafe(32)
    env = base_env(url, run_dir, INGEST_SECRET=secret, ASYNC_MODE=args.async_mode,
                   SECRET_KEY=secrets.token_urlsafe(32), WIDGET_SECRET=secrets.token_urlsafe(32),
                   INGEST_MAX_BATCH=str(max(args.batch, 500)),
                   **dict(setting.split("=", 1) for setting in args.settings))
    try:
        with deadline(args.timeout):
            if args.in_process:
                in_process(args, url, run_dir)
            else:
                run(args, url, env, secret, run_dir)
    finally:
        if not args.keep:
            shutil.rmtree(run_dir, ignore_errors=True)


def run(args: argparse.Namespace, url: str, env: dict[str, str], secret: str, run_dir: Path) -> None:
    from helpdesk.core.signing import sign

    print(f"Preparing {args.events:,} events in batches of {args.batch} ...", flush=True)
    bodies = build_batches(args.events, args.batch, args.seed)
    total = sum(body.count(b'"type":') for body in bodies)
    flask_cli(env, "db", "upgrade")
    latencies: list[float] = []
    if args.worker:
        env = {**env, "HELPDESK_BACKGROUND_LOOPS": "false"}
    with Server(env, run_dir / "server.log") as server, projection_worker(args.worker, env, run_dir) as worker:
        clients = [Client(server.port, {"Content-Type": "application/json"}, timeout=600) for _ in range(args.concurrency)]

        def send(client: Client, indexes: range) -> None:
            for index in indexes:
                body = bodies[index]
                timestamp = str(int(time.time()))
                status, payload, elapsed = client.request("POST", "/api/v1/ingest/events", body, {
                    "X-Helpdesk-Timestamp": timestamp, "X-Helpdesk-Signature": sign(secret, timestamp, body),
                })
                if status != 200:
                    raise SystemExit(f"batch {index} answered {status}: {payload[:500]!r}")
                result = json.loads(payload)
                if result.get("duplicates"):
                    raise SystemExit(f"batch {index}: {result['duplicates']} events counted as repeats on a fresh database")
                latencies.append(elapsed)

        started = time.perf_counter()
        with ThreadPoolExecutor(args.concurrency) as pool:  # sender i takes batches i, i + n, i + 2n, ...
            for future in [pool.submit(send, client, range(i, len(bodies), args.concurrency))
                           for i, client in enumerate(clients)]:
                future.result()
        seconds = time.perf_counter() - started
        projected_seconds = wait_for_empty_queue(url, worker) - started
        rss = server.rss_mb
        for client in clients:
            client.close()
    rate = total / seconds
    stats = summary_ms(latencies)
    backend = url.split(":", 1)[0].split("+")[0]
    print()
    start = f", into a copy of {args.start_from.name}" if args.start_from else ", into an empty database"
    where = "a worker process" if args.worker else "the server's loop"
    print(f"Ingest through POST /api/v1/ingest/events ({backend}{start}, async mode {args.async_mode}, "
          f"batches of {args.batch}, queued ones projected by {where}, {machine()})")
    print(table([[f"{total:,}", f"{len(bodies):,}", f"{seconds:.1f}", f"{rate:,.0f}", f"{stats['p50']:.0f}",
                  f"{stats['p95']:.0f}", f"{stats['p99']:.0f}", f"{stats['max']:.0f}"]],
                ["events", "batches", "seconds", "events/s", "p50 ms", "p95 ms", "p99 ms", "max ms"]))
    print("mix: " + ", ".join(f"{k} {v:,}" for k, v in event_mix(bodies).items()))
    if rss is not None:
        print(f"server RSS at the end: {rss:.0f} MB")
    verdict = "met" if rate >= TARGET_EVENTS_PER_SECOND else "MISSED"
    print(f"target >= {TARGET_EVENTS_PER_SECOND:,} events/s: {verdict}")
    raw_seconds = raw_sqlite_seconds(bodies, run_dir)
    print(f"the same events as rows through sqlite3 in one transaction: {raw_seconds:.2f} s "
          f"({total / raw_seconds:,.0f} events/s); the API takes {seconds / raw_seconds:.1f}x as long to answer")
    print(f"every event projected (the queue empty) {projected_seconds:.1f} s after the first batch: "
          f"{total / projected_seconds:,.0f} events/s, {projected_seconds / raw_seconds:.1f}x the one-table insert")
    floor_seconds = None
    if backend == "sqlite" and not args.start_from:
        floor_seconds, floor_rows = schema_floor_seconds(run_dir / "ingest.sqlite", len(bodies), env, run_dir)
        print(f"the rows the API stored ({floor_rows:,}), through sqlite3 into the migrated schema, a transaction "
              f"per batch: {floor_seconds:.2f} s ({total / floor_seconds:,.0f} events/s; "
              f"{floor_seconds / raw_seconds:.1f}x the one-table insert); projecting every event took "
              f"{projected_seconds / floor_seconds:.1f}x as long")
    if args.json_out:
        Path(args.json_out).write_text(json.dumps({
            "backend": backend, "async_mode": args.async_mode, "events": total, "batches": len(bodies),
            "batch_size": args.batch, "start_from": str(args.start_from or ""), "seconds": seconds, "events_per_second": rate, "latency_ms": stats,
            "projected_seconds": projected_seconds, "worker": args.worker,
            "raw_sqlite_seconds": raw_seconds, "schema_floor_seconds": floor_seconds,
            "machine": machine(), "at": datetime.now(timezone.utc).isoformat(), "host": HOST,
        }, indent=2))


if __name__ == "__main__":
    main()
