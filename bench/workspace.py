"""The workspace's latency through the real HTTP API: the header search and the reports.

Builds once (cached under ``instance/bench/``) an SQLite database with the demo loader
(``flask --app wsgi demo load --bookings N``, as ``bench/diagnostics.py`` does), then adds a year
of support history straight into it: ``--chats`` conversations (default 100,000, spread over the
last 365 days, most accepted and closed, a third rated, some with comments) and ``--requests``
requests. Then starts ``wsgi.py`` on it and, as an agent with a fresh API token, measures one
request at a time on a keep-alive connection (after an uncounted warm-up):

* ``GET /api/v1/search?q=`` for exact booking references, reference prefixes, surnames, full
  names, practice names, practice ids, request numbers and email addresses: target p95 <= 50 ms
  (each search that shows booking data also writes its audit entries, as in production);
* ``GET /api/v1/reports/<name>`` for every report over the last 365 days: target p95 <= 300 ms.

    .venv/bin/python bench/workspace.py                       # 200,000 bookings (default)
    .venv/bin/python bench/workspace.py --bookings 1000000    # the 1M database (~12 min to build)
"""

from __future__ import annotations

import argparse
import os
import random
import secrets
import sqlite3
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (
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
from bench.diagnostics import agent_token, build
from helpdesk.core.clock import elapsed_seconds

TARGET_SEARCH_P95_MS = 50.0
TARGET_REPORT_P95_MS = 300.0
REPORTS = ("volume", "response", "csat", "diagnosis", "diary", "outages", "alerts")
SURNAMES = ("murphy", "kelly", "walsh", "smith", "byrne", "nguyen", "o'brien", "mc", "ha", "pat")
FULL_NAMES = ("aoife murphy", "liam kelly", "grace walsh", "seán byrne", "zoe nguyen")


def seconds(start: datetime, end: datetime | None) -> int | None:
    """The stored duration the verbs would have written (migration 0013)."""
    return None if end is None else elapsed_seconds(start, end)


def add_history(database: Path, chats: int, requests: int, rng: random.Random) -> None:
    """A year of chats and requests, written directly (the chat and request tables only), with the
    response and resolution seconds the verbs store."""
    connection = sqlite3.connect(database)
    try:
        if connection.execute("SELECT count(*) FROM chat_conversations").fetchone()[0] >= chats:
            return
        practices = [row[0] for row in connection.execute("SELECT id FROM practices")]
        now = datetime.now(UTC).replace(tzinfo=None)
        fmt = "%Y-%m-%d %H:%M:%S.%f"
        rows = []
        for n in range(chats):
            created = now - timedelta(seconds=rng.randrange(365 * 86400))
            accepted = created + timedelta(seconds=rng.expovariate(1 / 90)) if rng.random() < 0.93 else None
            closed = (accepted or created) + timedelta(seconds=rng.expovariate(1 / 600))
            rating = rng.choice((1, 2, 3, 4, 4, 5, 5, 5)) if accepted and rng.random() < 0.35 else None
            comment = rng.choice(("Quick and kind", "Took a while", "Fixed it", "")) if rating else None
            rows.append((rng.choice(practices), f"bench-{n}", "closed", created.strftime(fmt),
                         accepted.strftime(fmt) if accepted else None, closed.strftime(fmt), rating, comment or None,
                         (closed + timedelta(seconds=30)).strftime(fmt) if rating else None,
                         seconds(created, accepted), seconds(created, closed) if accepted else None))
        connection.executemany(
            "INSERT INTO chat_conversations (practice_id, requester_id, requester_name, requester_email, status, created_at,"
            " accepted_at, closed_at, last_seq, practice_read_seq, agent_read_seq, rating, rating_comment, rated_at,"
            " first_response_seconds, resolution_seconds)"
            " VALUES (?, ?, '', '', ?, ?, ?, ?, 0, 0, 0, ?, ?, ?, ?, ?)", rows)
        req_rows = []
        for n in range(requests):
            created = now - timedelta(seconds=rng.randrange(365 * 86400))
            replied = created + timedelta(seconds=rng.expovariate(1 / (5 * 3600))) if rng.random() < 0.9 else None
            solved = replied + timedelta(hours=rng.expovariate(1 / 20)) if replied and rng.random() < 0.8 else None
            req_rows.append((f"Bench request {n}", "solved" if solved else "open", rng.choice(("low", "normal", "high", "urgent")),
                             rng.choice(practices), f"requester{n % 5000}@bench.test", created.strftime(fmt), created.strftime(fmt),
                             replied.strftime(fmt) if replied else None, solved.strftime(fmt) if solved else None,
                             seconds(created, replied), seconds(created, solved)))
        connection.executemany(
            "INSERT INTO requests (subject, status, priority, channel, practice_id, requester_email, requester_name,"
            " created_at, updated_at, first_replied_at, solved_at, first_reply_seconds, resolution_seconds)"
            " VALUES (?, ?, ?, 'web', ?, ?, '', ?, ?, ?, ?, ?, ?)", req_rows)
        connection.commit()
        connection.execute("ANALYZE")
    finally:
        connection.close()


def scenarios(database: Path, rng: random.Random, per: int) -> dict[str, list[str]]:
    connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        refs = [r[0] for r in connection.execute("SELECT reference FROM bookings ORDER BY random() LIMIT ?", (per,))]
        practices = connection.execute("SELECT id, name FROM practices ORDER BY random() LIMIT ?", (per,)).fetchall()
        emails = [r[0] for r in connection.execute("SELECT requester_email FROM requests ORDER BY random() LIMIT ?", (per,))]
        top = connection.execute("SELECT max(id) FROM requests").fetchone()[0] or 1
    finally:
        connection.close()

    def q(text: str) -> str:
        return f"/api/v1/search?q={quote(text)}"

    return {
        "reference (exact)": [q(r) for r in refs],
        "reference prefix": [q(r[: rng.randint(4, 7)]) for r in refs],
        "surname": [q(rng.choice(SURNAMES)) for _ in range(per)],
        "full name": [q(rng.choice(FULL_NAMES)) for _ in range(per)],
        "practice name": [q(rng.choice(practices)[1].split()[0]) for _ in range(per)],
        "practice id": [q(rng.choice(practices)[0]) for _ in range(per)],
        "request number": [q(f"#{rng.randint(1, top)}") for _ in range(per)],
        "email": [q(rng.choice(emails)) for _ in range(per)],
    }


def measure(client: Client, paths: list[str], warmup: int = 3) -> list[float]:
    for path in paths[:warmup]:
        client.get_json(path)
    return [client.get_json(path)[1] for path in paths]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bookings", type=int, default=200_000)
    parser.add_argument("--chats", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--per", type=int, default=60, help="searches per scenario")
    parser.add_argument("--report-runs", type=int, default=12, help="runs of each report")
    parser.add_argument("--seed", type=int, default=13)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    database = BENCH_DIR / f"workspace-{args.bookings}.sqlite"
    database.parent.mkdir(parents=True, exist_ok=True)
    with deadline(3 * 3600):
        if not database.exists():
            build(database, args.bookings, args.seed, 0.2)
        env = base_env(f"sqlite:///{database}", database.parent / "workspace-instance",
                       SECRET_KEY=secrets.token_urlsafe(32), INGEST_SECRET=secrets.token_urlsafe(32),
                       WIDGET_SECRET=secrets.token_urlsafe(32), OUTBOX_LOOP="false")
        flask_cli(env, "db", "upgrade")  # a cached database follows new migrations (and their backfills)
        add_history(database, args.chats, args.requests, rng)
        token = agent_token(env)
        paths = scenarios(database, rng, args.per)
        with Server(env, database.parent / "workspace-server.log") as server:
            load_before = os.getloadavg()[0]
            client = Client(server.port, {"Authorization": f"Bearer {token}"})
            search_rows, all_search = [], []
            for name, urls in paths.items():
                samples = measure(client, urls)
                all_search += samples
                s = summary_ms(samples)
                search_rows.append((name, s["n"], f"{s['p50']:.1f}", f"{s['p95']:.1f}", f"{s['max']:.1f}"))
            s = summary_ms(all_search)
            search_rows.append(("ALL searches", s["n"], f"{s['p50']:.1f}", f"{s['p95']:.1f}", f"{s['max']:.1f}"))
            today = datetime.now(UTC).date()
            period = f"from={(today - timedelta(days=364)).isoformat()}&to={today.isoformat()}&tz=Europe/London"
            report_rows, all_reports = [], []
            for name in REPORTS:
                samples = measure(client, [f"/api/v1/reports/{name}?{period}"] * args.report_runs, warmup=1)
                all_reports += samples
                s = summary_ms(samples)
                report_rows.append((name, s["n"], f"{s['p50']:.1f}", f"{s['p95']:.1f}", f"{s['max']:.1f}"))
            s = summary_ms(all_reports)
            report_rows.append(("ALL reports", s["n"], f"{s['p50']:.1f}", f"{s['p95']:.1f}", f"{s['max']:.1f}"))
            client.close()
            load_after = os.getloadavg()[0]
    print(f"\n{machine()}; {args.bookings:,} bookings, {args.chats:,} chats, {args.requests:,} requests (SQLite)")
    print(f"load average (1 min, the machine is shared): {load_before:.2f} before, {load_after:.2f} after\n")
    print("Search, GET /api/v1/search (ms)")
    print(table(search_rows, ("scenario", "n", "p50", "p95", "max")))
    print(f"target p95 <= {TARGET_SEARCH_P95_MS:.0f} ms: {'met' if summary_ms(all_search)['p95'] <= TARGET_SEARCH_P95_MS else 'NOT met'}\n")
    print("Reports over 365 days, GET /api/v1/reports/<name> (ms)")
    print(table(report_rows, ("report", "n", "p50", "p95", "max")))
    print(f"target p95 <= {TARGET_REPORT_P95_MS:.0f} ms: {'met' if summary_ms(all_reports)['p95'] <= TARGET_REPORT_P95_MS else 'NOT met'}")


if __name__ == "__main__":
    started = time.perf_counter()
    main()
    print(f"\n({time.perf_counter() - started:.0f} s)")
