"""Diagnosis and bookings-list latency through the real HTTP API, on a million bookings.

Builds once (cached under ``instance/bench/``) an SQLite database of 1,000,000 bookings where the
first practice holds 200,000, with the demo loader (``flask --app wsgi demo load``, i.e. through
the ingest service). Then starts ``wsgi.py`` on it and, as an agent with a fresh API token,
measures:

* ``GET /api/v1/practices/<big>/bookings/<reference>/diagnosis`` for random bookings of the big
  practice, half of them failures of every kind (collisions, lost connections, pending, bounced
  or failed emails, ...): target p95 <= 20 ms;
* ``GET /api/v1/practices/<big>/bookings?...`` pages: the first page, surname prefixes, a full
  name, reference prefixes, date ranges, channel filters, ``missed=1`` and deep cursor pages:
  target p95 <= 50 ms.

Latency is measured at the client, one request at a time on a keep-alive connection, after a
warm-up that is not counted. Every request also writes its audit entry, as in production.

    .venv/bin/python bench/diagnostics.py                 # builds the database the first time
    .venv/bin/python bench/diagnostics.py --rebuild       # rebuild it (after changing the loader)
"""

from __future__ import annotations

import argparse
import json
import random
import secrets
import shutil
import sqlite3
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (  # noqa: E402
    BENCH_DIR,
    Client,
    Server,
    base_env,
    deadline,
    flask_cli,
    machine,
    summary_ms,
    table,
)

BIG_PRACTICE = "riverside-dental"
TARGET_DIAGNOSIS_P95_MS = 20.0
TARGET_LIST_P95_MS = 50.0
SURNAME_PREFIXES = ("mur", "o'b", "wal", "sm", "by", "ke", "tho", "pat", "mc", "nguy", "ha", "do", "ó", "mü")
FULL_NAMES = ("aoife murphy", "liam kelly", "walsh", "o'sullivan", "grace", "seán byrne", "zoe nguyen")


def build(database: Path, bookings: int, seed: int, share: float) -> dict[str, Any]:
    """Migrate a new file and load the demo world into it; only a finished build is kept."""
    partial = database.with_name(database.name + ".partial")
    for suffix in ("", "-wal", "-shm"):
        Path(str(partial) + suffix).unlink(missing_ok=True)
    env = base_env(f"sqlite:///{partial}", database.parent / "build-instance",
                   SECRET_KEY=secrets.token_urlsafe(32), INGEST_SECRET=secrets.token_urlsafe(32),
                   WIDGET_SECRET=secrets.token_urlsafe(32))
    print(f"Building {database.name}: {bookings:,} bookings through the demo loader (once; cached) ...", flush=True)
    started = time.perf_counter()
    flask_cli(env, "db", "upgrade")
    flask_cli(env, "demo", "load", "--bookings", str(bookings), "--seed", str(seed),
              "--big-practice-share", str(share), quiet=False)
    seconds = time.perf_counter() - started
    connection = sqlite3.connect(partial)
    connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    connection.close()
    for suffix in ("-wal", "-shm"):
        Path(str(partial) + suffix).unlink(missing_ok=True)
    partial.rename(database)
    info = {"bookings": bookings, "seed": seed, "big_practice_share": share, "build_seconds": round(seconds, 1),
            "built_at": datetime.now(timezone.utc).isoformat(), "machine": machine()}
    database.with_suffix(".json").write_text(json.dumps(info, indent=2))
    return info


def sample_bookings(database: Path, count: int, rng: random.Random) -> list[tuple[str, str]]:
    """(reference, label): half at random, half spread over every failure kind."""
    connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        groups: dict[str, list[str]] = {}
        for reference, email, diary, cancelled in connection.execute(
            "SELECT reference, email_status, diary_status, cancelled_at IS NOT NULL FROM bookings "
            "WHERE practice_id = ?", (BIG_PRACTICE,)
        ):
            groups.setdefault("any", []).append(reference)
            if diary not in ("inserted", "sidebar_transferred"):
                groups.setdefault(f"diary={diary}", []).append(reference)
            if email not in ("delivered", "sent"):
                groups.setdefault(f"email={email}", []).append(reference)
            if cancelled:
                groups.setdefault("cancelled", []).append(reference)
    finally:
        connection.close()
    if not groups:
        raise SystemExit(f"no bookings for {BIG_PRACTICE} in {database}")
    chosen = [(ref, "random") for ref in rng.sample(groups["any"], min(count // 2, len(groups["any"])))]
    kinds = sorted(k for k in groups if k != "any")
    per_kind = max(1, (count - len(chosen)) // max(1, len(kinds)))
    for kind in kinds:
        chosen += [(ref, kind) for ref in rng.sample(groups[kind], min(per_kind, len(groups[kind])))]
    while len(chosen) < count:
        chosen.append((rng.choice(groups["any"]), "random"))
    rng.shuffle(chosen)
    return chosen[:count]


def deep_cursors(database: Path, count: int, rng: random.Random) -> list[str]:
    """Cursors pointing deep into the big practice's list (as a client paging far would hold)."""
    from helpdesk.bookings.queries import encode_cursor

    connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        total = connection.execute("SELECT count(*) FROM bookings WHERE practice_id = ?", (BIG_PRACTICE,)).fetchone()[0]
        cursors = []
        for _ in range(count):
            offset = rng.randrange(total // 4, total)
            appointment_at, booking_id = connection.execute(
                "SELECT appointment_at, id FROM bookings WHERE practice_id = ? ORDER BY appointment_at DESC, id DESC "
                "LIMIT 1 OFFSET ?", (BIG_PRACTICE, offset)).fetchone()
            moment = datetime.fromisoformat(appointment_at).replace(tzinfo=timezone.utc)
            cursors.append(encode_cursor(moment, booking_id))
        return cursors
    finally:
        connection.close()


def agent_token(env: dict[str, str]) -> str:
    """A new API token for a benchmark agent, made in-process against the same database."""
    import os

    saved = {k: os.environ.get(k) for k in env if k.startswith("HELPDESK_")}
    os.environ.update({k: v for k, v in env.items() if k.startswith("HELPDESK_")})
    try:
        from sqlalchemy import select

        from helpdesk import create_app
        from helpdesk.core import db
        from helpdesk.core.agents import Agent, create_agent, issue_api_token

        app = create_app({"ASYNC_MODE": "threading"})
        with app.app_context():
            session = db.session()
            agent = session.scalar(select(Agent).where(Agent.email == "bench@helpdesk.example"))
            if agent is None:
                token = create_agent(session, "bench@helpdesk.example", "Benchmark", role="agent").token
            else:
                token = issue_api_token(session, agent, label="bench")
            session.commit()
            db.session.remove()
        db.get_engine(app).dispose()
        return token
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def list_scenarios(rng: random.Random, cursors: list[str], today: datetime, per: int) -> dict[str, list[str]]:
    base = f"/api/v1/practices/{BIG_PRACTICE}/bookings"

    def page(**params: Any) -> str:
        return f"{base}?{urlencode({'limit': 50, **params})}"

    def window() -> dict[str, str]:
        start = today + timedelta(days=rng.randint(-80, 50))
        return {"from": start.date().isoformat(), "to": (start + timedelta(days=rng.randint(0, 13))).date().isoformat()}

    references = ("RVD-", "RVD-0", "RVD-1A", "RVD-K", "RVD-ZZ")
    return {
        "first page": [page() for _ in range(per)],
        "surname prefix (q)": [page(q=rng.choice(SURNAME_PREFIXES)) for _ in range(per)],
        "full name (q)": [page(q=rng.choice(FULL_NAMES)) for _ in range(per)],
        "reference prefix (q)": [page(q=rng.choice(references)) for _ in range(per)],
        "date range": [page(**window()) for _ in range(per)],
        "diary_status=collision": [page(diary_status="collision") for _ in range(per)],
        "email_status=failed,bounced": [page(email_status="failed,bounced") for _ in range(per)],
        "missed=1": [page(missed=1) for _ in range(per)],
        "missed=1 + date range": [page(missed=1, **window()) for _ in range(per)],
        "q + diary_status": [page(q=rng.choice(SURNAME_PREFIXES), diary_status="inserted") for _ in range(per)],
        "deep cursor": [page(cursor=rng.choice(cursors)) for _ in range(per)],
        "deep cursor + missed=1": [page(cursor=rng.choice(cursors), missed=1) for _ in range(per)],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bookings", type=int, default=1_000_000)
    parser.add_argument("--big-practice-share", type=float, default=0.2)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--database", type=Path, help="SQLite file (default instance/bench/diagnostics-<N>.sqlite)")
    parser.add_argument("--rebuild", action="store_true", help="build the database again")
    parser.add_argument("--samples", type=int, default=1000, help="diagnosis requests (default 1,000)")
    parser.add_argument("--list-samples", type=int, default=100, help="requests per list scenario (default 100)")
    parser.add_argument("--warmup", type=int, default=100, help="uncounted requests first (default 100)")
    parser.add_argument("--async-mode", default="eventlet", choices=("eventlet", "gevent", "threading"))
    parser.add_argument("--timeout", type=float, default=3600, help="stop after this many seconds (default 3600)")
    parser.add_argument("--json", dest="json_out", help="also write the results as JSON to this file")
    args = parser.parse_args()
    database = args.database or BENCH_DIR / f"diagnostics-{args.bookings}.sqlite"
    database.parent.mkdir(parents=True, exist_ok=True)
    with deadline(args.timeout):
        if args.rebuild or not database.exists():
            info = build(database, args.bookings, args.seed, args.big_practice_share)
        else:
            info = json.loads(database.with_suffix(".json").read_text()) if database.with_suffix(".json").exists() else {}
            print(f"Using the cached {database} (built {info.get('built_at', '?')}; --rebuild to rebuild)")
        if "bookings" not in info:
            with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as connection:
                info["bookings"] = connection.execute("SELECT count(*) FROM bookings").fetchone()[0]
        run(args, database, info)


def run(args: argparse.Namespace, database: Path, info: dict[str, Any]) -> None:
    rng = random.Random(args.seed)
    run_dir = BENCH_DIR / f"diagnostics-run-{secrets.token_hex(3)}"
    env = base_env(f"sqlite:///{database}", run_dir, ASYNC_MODE=args.async_mode,
                   SECRET_KEY=secrets.token_urlsafe(32), INGEST_SECRET=secrets.token_urlsafe(32),
                   WIDGET_SECRET=secrets.token_urlsafe(32))
    try:
        flask_cli(env, "db", "upgrade")  # a cached database follows new migrations
        token = agent_token(env)
        samples = sample_bookings(database, args.samples, rng)
        cursors = deep_cursors(database, 50, rng)
        scenarios = list_scenarios(rng, cursors, datetime.now(timezone.utc), args.list_samples)
        with Server(env, run_dir / "server.log") as server:
            client = Client(server.port, {"Authorization": f"Bearer {token}"})
            for reference, _ in samples[: args.warmup]:
                client.get_json(f"/api/v1/practices/{BIG_PRACTICE}/bookings/{reference}/diagnosis")
            for paths in scenarios.values():
                for path in paths[: max(1, args.warmup // len(scenarios))]:
                    client.get_json(path)
            diagnosis: list[float] = []
            by_kind: dict[str, list[float]] = {}
            causes: dict[str, int] = {}
            for reference, kind in samples:
                body, elapsed = client.get_json(f"/api/v1/practices/{BIG_PRACTICE}/bookings/{reference}/diagnosis")
                diagnosis.append(elapsed)
                by_kind.setdefault(kind, []).append(elapsed)
                for cause in body["causes"]:
                    causes[cause] = causes.get(cause, 0) + 1
            lists: dict[str, list[float]] = {}
            rows: dict[str, int] = {}
            for name, paths in scenarios.items():
                for path in paths:
                    body, elapsed = client.get_json(path)
                    lists.setdefault(name, []).append(elapsed)
                    rows[name] = rows.get(name, 0) + len(body["bookings"])
            others: dict[str, list[float]] = {}
            for _ in range(args.list_samples // 2 or 1):
                for name, path in (("health", f"/api/v1/practices/{BIG_PRACTICE}/health"),
                                   ("integration events", f"/api/v1/practices/{BIG_PRACTICE}/integration-events"),
                                   ("integration events, kind=diary_failed",
                                    f"/api/v1/practices/{BIG_PRACTICE}/integration-events?kind=diary_failed")):
                    others.setdefault(name, []).append(client.get_json(path)[1])
            rss = server.rss_mb
            client.close()
    finally:
        shutil.rmtree(run_dir, ignore_errors=True)
    report(args, info, diagnosis, by_kind, causes, lists, rows, others, rss)


def report(args: argparse.Namespace, info: dict[str, Any], diagnosis: list[float], by_kind: dict[str, list[float]],
           causes: dict[str, int], lists: dict[str, list[float]], rows: dict[str, int],
           others: dict[str, list[float]], rss: float | None) -> None:
    def fmt(stats: dict[str, float]) -> list[str]:
        return [f"{stats['n']:,}", f"{stats['p50']:.1f}", f"{stats['p95']:.1f}", f"{stats['p99']:.1f}",
                f"{stats['max']:.1f}"]

    headers = ["request", "n", "p50 ms", "p95 ms", "p99 ms", "max ms"]
    all_lists = [x for samples in lists.values() for x in samples]
    diag_stats, list_stats = summary_ms(diagnosis), summary_ms(all_lists)
    print()
    print(f"Diagnostics API on {info.get('bookings', '?'):,} bookings ({BIG_PRACTICE}: "
          f"{info.get('big_practice_share', '?')} of them), SQLite, async mode {args.async_mode}, {machine()}")
    print()
    rows_out = [["diagnosis (all)", *fmt(diag_stats)]]
    rows_out += [[f"  {kind}", *fmt(summary_ms(v))] for kind, v in sorted(by_kind.items())]
    rows_out += [["bookings list (all pages)", *fmt(list_stats)]]
    rows_out += [[f"  {name}  ({rows[name] / len(v):.0f} rows)", *fmt(summary_ms(v))] for name, v in lists.items()]
    rows_out += [["other (no target)", "", "", "", "", ""]]
    rows_out += [[f"  {name}", *fmt(summary_ms(v))] for name, v in others.items()]
    print(table(rows_out, headers))
    print()
    print("causes seen: " + ", ".join(f"{k} {v}" for k, v in sorted(causes.items(), key=lambda kv: -kv[1])))
    if rss is not None:
        print(f"server RSS at the end: {rss:.0f} MB")
    print(f"target diagnosis p95 <= {TARGET_DIAGNOSIS_P95_MS:.0f} ms: "
          f"{'met' if diag_stats['p95'] <= TARGET_DIAGNOSIS_P95_MS else 'MISSED'} ({diag_stats['p95']:.1f} ms)")
    print(f"target list page p95 <= {TARGET_LIST_P95_MS:.0f} ms: "
          f"{'met' if list_stats['p95'] <= TARGET_LIST_P95_MS else 'MISSED'} ({list_stats['p95']:.1f} ms)")
    worst = max(lists.items(), key=lambda kv: summary_ms(kv[1])["p95"])
    print(f"slowest list scenario: {worst[0]} (p95 {summary_ms(worst[1])['p95']:.1f} ms)")
    if args.json_out:
        Path(args.json_out).write_text(json.dumps({
            "database": info, "diagnosis_ms": diag_stats, "list_ms": list_stats,
            "list_scenarios_ms": {k: summary_ms(v) for k, v in lists.items()},
            "diagnosis_by_kind_ms": {k: summary_ms(v) for k, v in by_kind.items()},
            "other_ms": {k: summary_ms(v) for k, v in others.items()},
            "machine": machine(), "at": datetime.now(timezone.utc).isoformat(),
        }, indent=2))


if __name__ == "__main__":
    main()
