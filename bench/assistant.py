"""The answer desk against its labelled set: accuracy per kind and the time to answer.

    .venv/bin/python bench/assistant.py              # SQLite in a temporary folder
    .venv/bin/python bench/assistant.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/bench_assistant
    .venv/bin/python bench/assistant.py --show-failures

Builds the deterministic world (tests/chat/assistant/world.py: 3 practices, 16 story bookings,
1,200 ordinary ones, the knowledge base's own articles) on a freshly migrated database, then asks
every case of bench/assistant_cases.yaml through the same engine as chat and the widget
(chat.assistant.answer.ask), with the clock frozen at the world's NOW. Each case is timed from
the text to the composed answer (understanding, diagnoses, article search), warm (one
untimed pass first).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HELPDESK_INSTANCE_DIR", tempfile.mkdtemp(prefix="bench-assistant-"))


from bench.common import fresh_database
from tests.conftest import TEST_SECRETS


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", help="an empty database (PostgreSQL: its public schema is reset)")
    parser.add_argument("--show-failures", action="store_true")
    parser.add_argument("--cases", type=Path, default=ROOT / "bench" / "assistant_cases.yaml",
                        help="the labelled set (bench/assistant_holdout.yaml: the held-out one)")
    args = parser.parse_args()
    url = fresh_database(args.database_url)
    from helpdesk import create_app
    from helpdesk.core import db
    from helpdesk.core.clock import frozen_at
    from tests.chat.assistant import evaluate, world

    app = create_app({"DATABASE_URL": url, "TESTING": True, "ASYNC_MODE": "threading",
                      "SOCKETIO_MESSAGE_QUEUE": None, **TEST_SECRETS})
    with app.app_context(), frozen_at(world.NOW):
        session = db.session()
        world.build(session)
        session.commit()
        evaluate.run(session, args.cases)  # warm-up
        results = evaluate.run(session, args.cases)
        session.rollback()
    figures = evaluate.summary(results)
    backend = url.split(":", 1)[0]
    try:
        load = Path("/proc/loadavg").read_text().split()[:3]
    except OSError:
        load = ["?"]
    print(f"answer desk, {figures['cases']} labelled cases ({args.cases.name}), {backend}, load {' '.join(load)}")
    print(f"  right booking and cause  {figures['booking_and_cause']:.1%}")
    print(f"  right kind               {figures['kind']:.1%}")
    print(f"  right hand-off           {figures['handoff']:.1%}")
    print(f"  every check              {figures['all_checks']:.1%}")
    print(f"  leaks                    {figures['leaks']}")
    print(f"  time to answer           p50 {figures['p50_ms']:.1f} ms, p95 {figures['p95_ms']:.1f} ms, "
          f"max {figures['max_ms']:.1f} ms")
    print("  per kind (every check):")
    for group, (ok, total) in figures["per_kind"].items():
        print(f"    {group:18} {ok:3}/{total:<3} {ok / total:.0%}")
    if args.show_failures:
        for r in results:
            if not r.ok:
                flags = [name for name in ("booking_ok", "cause_ok", "kind_ok", "handoff_ok", "facts_ok", "article_ok")
                         if not getattr(r, name)]
                print(f"\nFAIL {flags} leaks={r.leaks} :: {r.case['text']}\n  expected {r.case}\n  got kind={r.data['kind']} "
                      f"ref={r.data['reference']} refs={r.data['references']} choices={[c['reference'] for c in r.data['choices']]} "
                      f"handoff={r.data['handoff']} articles={[a['title'] for a in r.data['articles']]}\n  {r.answer[:300]}")
    ok = figures["booking_and_cause"] >= 0.95 and figures["leaks"] == 0 and figures["p95_ms"] <= 150
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
