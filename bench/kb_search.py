"""Knowledge base search and suggest latency on 20,000 published articles.

Builds once (cached under ``instance/bench/``) a database holding the project's real Help Center
articles (``kb/content``) plus 20,000 generated ones, all created through ``kb.service`` (Markdown
rendered and sanitized, revisions, tags, and the real search index). The generated articles are
written by a word-level Markov chain trained on ``kb/content``, with practice names, software
names and other rarer words mixed in, so the vocabulary and its frequencies are those of this
domain: common words ("booking", "diary", "email") are in most articles, as in a real help centre.

Then it measures, one request at a time on a keep-alive connection, after an uncounted warm-up:

* ``GET /api/v1/kb/search?q=...`` through the real HTTP API of ``wsgi.py`` (eventlet, as in
  production): what receptionists type (real questions, single common words, misspellings, hostile
  input, a 5,000-character paste): target p95 <= 15 ms;
* ``GET /api/v1/kb/suggest?q=...`` with every prefix of real queries as they are typed
  (``c``, ``co``, ``col``, ...): target p95 <= 10 ms;
* the same two calls in-process through ``kb.queries`` (the query layer without HTTP), for reference.

    .venv/bin/python bench/kb_search.py                  # SQLite (builds the database the first time)
    .venv/bin/python bench/kb_search.py --rebuild
    .venv/bin/python bench/kb_search.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/kb_bench
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import secrets
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import (  # noqa: E402
    BENCH_DIR,
    Client,
    Server,
    base_env,
    deadline,
    machine,
    summary_ms,
    table,
)

TARGET_SEARCH_P95_MS = 15.0
TARGET_SUGGEST_P95_MS = 10.0
CONTENT = ROOT / "kb" / "content"

# What a receptionist types into the Help Center.
SEARCH_QUERIES = [
    "collision", "collisions", "booking collision", "booking not in the diary", "booking not in diary",
    "patient has a confirmation but the booking is not in the diary", "lost connection", "connector offline",
    "lost connection to the practice server", "email bounced", "booking email not sent", "no booking emails",
    "alert email", "did not get an alert email", "collision alert", "notification settings",
    "change alert email address", "sidebar", "transfer sidebar booking by hand", "patient matching error",
    "duplicate patient record", "date of birth wrong", "practice software rejected the appointment",
    "appointment type mapping", "pending booking", "cancelled booking", "how do i use the help widget",
    "live chat", "submit a request", "my requests", "heartbeat", "connector keeps going offline",
    "integrated or sidebar", "restart the connector", "double booked slot", "booking", "diary", "email",
    "appointment", "practice", "patient", "the", "booking diary email patient practice appointment",
    "colision", "bookng diry", "zzqxv", "dentadesk", "riverside", "BK-10293",
    '"collision" OR NEAR(diary', "collision*", "((booking", "'; DROP TABLE kb_articles; --", "🙂 diary 🙂",
    "x" * 5000, "booking " * 600,
]
# Typed one letter at a time (the widget asks after every key stroke).
TYPED = ["collision", "booking not in diary", "lost connection", "email bounced", "alert email",
         "sidebar transfer", "patient matching", "notification settings", "connector offline", "live chat"]

RARE_WORDS = [
    "Riverside", "Harbour", "Oakfield", "Northgate", "Millbrook", "Castleview", "Westfield", "Elmstead",
    "DentaDesk", "ClinicPro", "SmileSuite", "PracticeOne", "ToothTrack", "MedDiary", "hygienist", "orthodontist",
    "physiotherapy", "osteopath", "podiatry", "optician", "firewall", "antivirus", "router", "proxy",
    "Windows", "reboot", "timezone", "daylight", "locum", "recall", "waiting-list", "deposit", "refund",
]
LABELS = ["diary", "collision", "alerts", "email", "connector", "sidebar", "settings", "notifications",
          "patients", "matching", "pending", "cancellation", "widget", "chat", "requests", "integration",
          "server", "offline", "bounce", "transfer", "pms", "mapping", "setup", "troubleshooting"]
CATEGORIES = {
    "Bookings and your diary": ["Missing bookings", "Diary integration", "Sidebar bookings", "Cancellations"],
    "Notifications and alerts": ["Booking emails", "Alert emails", "Email delivery"],
    "Your practice software": ["Connector", "Patient records", "Appointment types"],
    "Getting help": ["Help widget", "Live chat", "Requests"],
}


# --- building the database ---------------------------------------------------------------------


class Chain:
    """A word-level Markov chain over the real articles, to write text in this domain's words."""

    def __init__(self, texts: Sequence[str], rng: random.Random) -> None:
        self.rng = rng
        self.next: dict[str, list[str]] = defaultdict(list)
        self.starts: list[str] = []
        for text in texts:
            words = re.findall(r"[A-Za-z][A-Za-z'-]*|[.,;:?]", text)
            for a, b in zip(words, words[1:]):
                self.next[a].append(b)
                if a == "." and b[:1].isupper():
                    self.starts.append(b)

    def sentence(self, max_words: int = 24) -> str:
        word = self.rng.choice(self.starts)
        out = [word]
        while len(out) < max_words:
            choices = self.next.get(word)
            if not choices:
                break
            word = self.rng.choice(choices)
            if word == ".":
                break
            if self.rng.random() < 0.02:
                word = self.rng.choice(RARE_WORDS)
            out.append(word)
        text = " ".join(out).replace(" ,", ",").replace(" ;", ";").replace(" :", ":").replace(" ?", "?")
        return text.rstrip(",;:") + "."

    def title(self) -> str:
        words = self.sentence(9).rstrip(".?").split()
        return " ".join(words[: self.rng.randint(4, 9)]).capitalize()

    def body(self) -> str:
        parts = []
        for _ in range(self.rng.randint(3, 7)):
            if self.rng.random() < 0.3:
                parts.append("## " + self.title())
            if self.rng.random() < 0.25:
                parts.append("\n".join(f"{i}. {self.sentence(14)}" for i in range(1, self.rng.randint(3, 6))))
            else:
                parts.append(" ".join(self.sentence() for _ in range(self.rng.randint(2, 5))))
        return "\n\n".join(parts)


def build(url: str, articles: int, seed: int, instance: Path) -> dict[str, Any]:
    """Migrate ``url`` and fill it through kb.service (the same code path as the console and import)."""
    os.environ["HELPDESK_INSTANCE_DIR"] = str(instance)
    from alembic import command

    from helpdesk import create_app
    from helpdesk.core import db
    from helpdesk.core.cli import alembic_config
    from kb import service, transfer

    command.upgrade(alembic_config(url), "head")
    app = create_app({"DATABASE_URL": url, "ASYNC_MODE": "threading", "OUTBOX_LOOP": False,
                      "SECRET_KEY": secrets.token_urlsafe(32)})
    rng = random.Random(seed)
    chain = Chain([a.body for a in transfer.read_folder(CONTENT).articles], rng)
    started = time.perf_counter()
    with app.app_context():
        session = db.session()
        service.import_folder(session, CONTENT, None)
        sections = []
        for category_name, section_names in CATEGORIES.items():
            category = service.create_category(session, None, f"{category_name} (more)")
            sections += [service.create_section(session, None, category, name) for name in section_names]
        session.commit()
        for n in range(articles):
            fields = service.ArticleFields(
                title=f"{chain.title()} ({n})", body=chain.body(), labels=rng.sample(LABELS, rng.randint(1, 4)),
                promoted=rng.random() < 0.02,
            )
            service.create_article(session, None, rng.choice(sections), fields, status="published")
            if n % 500 == 499:
                session.commit()
                print(f"  {n + 1:,} articles ({time.perf_counter() - started:.0f} s)", flush=True)
        session.commit()
    seconds = time.perf_counter() - started
    return {"articles": articles, "seed": seed, "build_seconds": round(seconds, 1),
            "built_at": datetime.now(timezone.utc).isoformat(), "machine": machine()}


def sqlite_database(args: argparse.Namespace) -> tuple[str, dict[str, Any]]:
    database = args.database or BENCH_DIR / f"kb-search-{args.articles}.sqlite"
    info_path = database.with_suffix(".json")
    if database.exists() and info_path.exists() and not args.rebuild:
        return f"sqlite:///{database}", json.loads(info_path.read_text())
    database.parent.mkdir(parents=True, exist_ok=True)
    info_path.unlink(missing_ok=True)  # written last: a build that did not finish is never reused
    for suffix in ("", "-wal", "-shm"):
        Path(str(database) + suffix).unlink(missing_ok=True)
    print(f"Building {database.name}: {args.articles:,} articles through kb.service (once; cached) ...", flush=True)
    info = build(f"sqlite:///{database}", args.articles, args.seed, database.parent / "kb-build-instance")
    info_path.write_text(json.dumps(info, indent=2))
    return f"sqlite:///{database}", info


def postgres_database(args: argparse.Namespace) -> tuple[str, dict[str, Any]]:
    """A PostgreSQL database is rebuilt from empty on every run (drop and recreate its schema)."""
    from sqlalchemy import create_engine

    engine = create_engine(args.database_url)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP SCHEMA IF EXISTS public CASCADE")
        conn.exec_driver_sql("CREATE SCHEMA public")
    engine.dispose()
    print(f"Building {args.articles:,} articles in PostgreSQL through kb.service ...", flush=True)
    info = build(args.database_url, args.articles, args.seed, BENCH_DIR / "kb-build-instance")
    engine = create_engine(args.database_url)
    with engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("VACUUM ANALYZE")
    engine.dispose()
    return args.database_url, info


# --- measuring ----------------------------------------------------------------------------------


def typed_prefixes() -> list[str]:
    return [text[:n] for text in TYPED for n in range(1, len(text) + 1)]


def sample(pool: Sequence[str], count: int, rng: random.Random) -> list[str]:
    return [rng.choice(pool) for _ in range(count)]


def measure(call: Callable[[str], Any], queries: Sequence[str]) -> list[float]:
    times = []
    for q in queries:
        started = time.perf_counter()
        call(q)
        times.append(time.perf_counter() - started)
    return times


def over_http(url: str, args: argparse.Namespace, searches: list[str], prefixes: list[str]) -> dict[str, list[float]]:
    run_dir = BENCH_DIR / "kb-search-run"
    env = base_env(url, run_dir, ASYNC_MODE=args.async_mode, OUTBOX_LOOP="false",
                   SECRET_KEY=secrets.token_urlsafe(32), INGEST_SECRET=secrets.token_urlsafe(32),
                   WIDGET_SECRET=secrets.token_urlsafe(32))
    with Server(env, run_dir / "server.log") as server:
        client = Client(server.port)
        try:
            def get(path: str) -> Callable[[str], Any]:
                def call(q: str) -> Any:
                    status, payload, _ = client.request("GET", f"{path}?{urlencode({'q': q})}")
                    if status != 200:
                        raise SystemExit(f"GET {path}?q={q[:40]!r} answered {status}: {payload[:300]!r}")
                    return payload
                return call

            search, suggest = get("/api/v1/kb/search"), get("/api/v1/kb/suggest")
            measure(search, searches[: args.warmup])
            measure(suggest, prefixes[: args.warmup])
            return {"search": measure(search, searches), "suggest": measure(suggest, prefixes)}
        finally:
            client.close()


def in_process(url: str, args: argparse.Namespace, searches: list[str], prefixes: list[str]) -> dict[str, list[float]]:
    os.environ["HELPDESK_INSTANCE_DIR"] = str(BENCH_DIR / "kb-search-run")
    from helpdesk import create_app
    from helpdesk.core import db
    from kb import queries

    app = create_app({"DATABASE_URL": url, "ASYNC_MODE": "threading", "OUTBOX_LOOP": False,
                      "SECRET_KEY": secrets.token_urlsafe(32)})
    with app.app_context():
        def search(q: str) -> Any:
            found = queries.search_articles(db.session(), q)
            db.session.remove()
            return found

        def suggest(q: str) -> Any:
            found = queries.suggest_articles(db.session(), q)
            db.session.remove()
            return found

        measure(search, searches[: args.warmup])
        measure(suggest, prefixes[: args.warmup])
        return {"search": measure(search, searches), "suggest": measure(suggest, prefixes)}


def report(args: argparse.Namespace, url: str, info: dict[str, Any], results: dict[str, dict[str, list[float]]],
           searches: list[str]) -> None:
    engine = "PostgreSQL" if url.startswith("postgresql") else "SQLite"
    rows = []
    for layer, measured in results.items():
        for kind, target in (("search", TARGET_SEARCH_P95_MS), ("suggest", TARGET_SUGGEST_P95_MS)):
            stats = summary_ms(measured[kind])
            rows.append([f"{kind} ({layer})", stats["n"], f"{stats['p50']:.2f}", f"{stats['p95']:.2f}",
                         f"{stats['p99']:.2f}", f"{stats['max']:.2f}", f"<= {target:.0f}"])
    print(f"\n{engine}, {info['articles']:,} generated + {len(list(CONTENT.glob('*.md')))} real articles, "
          f"{machine()}")
    print(table(rows, ["measure", "n", "p50 ms", "p95 ms", "p99 ms", "max ms", "target p95"]))
    by_query: dict[str, list[float]] = defaultdict(list)
    for q, seconds in zip(searches, results["http"]["search"]):
        by_query[q[:40]].append(seconds)
    slowest = sorted(by_query.items(), key=lambda kv: -summary_ms(kv[1])["p95"])[:5]
    print("slowest queries (http p95): " + "; ".join(f"{q!r} {summary_ms(v)['p95']:.1f} ms" for q, v in slowest))
    http = {kind: summary_ms(results["http"][kind]) for kind in ("search", "suggest")}
    print(f"search p95 {http['search']['p95']:.1f} ms: "
          f"{'met' if http['search']['p95'] <= TARGET_SEARCH_P95_MS else 'MISSED'}; "
          f"suggest p95 {http['suggest']['p95']:.1f} ms: "
          f"{'met' if http['suggest']['p95'] <= TARGET_SUGGEST_P95_MS else 'MISSED'}")
    if args.json_out:
        Path(args.json_out).write_text(json.dumps({
            "engine": engine, "database": info,
            "results_ms": {layer: {k: summary_ms(v) for k, v in m.items()} for layer, m in results.items()},
            "machine": machine(), "at": datetime.now(timezone.utc).isoformat(),
        }, indent=2))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--articles", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--database", type=Path, help="SQLite file (default instance/bench/kb-search-<N>.sqlite)")
    parser.add_argument("--database-url", help="measure PostgreSQL instead (its schema is dropped and rebuilt)")
    parser.add_argument("--rebuild", action="store_true", help="build the SQLite database again")
    parser.add_argument("--samples", type=int, default=1000, help="requests per endpoint (default 1,000)")
    parser.add_argument("--warmup", type=int, default=100, help="uncounted requests first (default 100)")
    parser.add_argument("--async-mode", default="eventlet", choices=("eventlet", "gevent", "threading"))
    parser.add_argument("--timeout", type=float, default=3600, help="stop after this many seconds (default 3600)")
    parser.add_argument("--json", dest="json_out", help="also write the results as JSON to this file")
    args = parser.parse_args()
    with deadline(args.timeout):
        url, info = postgres_database(args) if args.database_url else sqlite_database(args)
        rng = random.Random(args.seed)
        searches = sample(SEARCH_QUERIES, args.samples, rng)
        prefixes = sample(typed_prefixes(), args.samples, rng)
        results = {"http": over_http(url, args, searches, prefixes),
                   "query layer": in_process(url, args, searches, prefixes)}
        report(args, url, info, results, searches)


if __name__ == "__main__":
    main()
