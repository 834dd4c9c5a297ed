"""Scoring the answer desk against the labelled set (``bench/assistant_cases.yaml``).

For each case: is the booking right (the reference, the set of references, or the choices it
offers), are its causes right (the set's labels), the kind, the hand-off reason, the facts the
answer must state and the article it should suggest; and is there a leak: another practice's
reference or patient, a patient's full name or surname, or a date of birth, that the message did
not itself contain.
"""

from __future__ import annotations

import json
import string
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy.orm import Session

from chat.assistant.answer import ask
from tests.chat.assistant import world

_WORD = frozenset(string.ascii_lowercase + string.digits)
PRACTICES = {"riverside": world.RIVERSIDE, "harbour": world.HARBOUR, "other": world.OTHER}


def load_cases(path: Path = world.CASES) -> dict[str, Any]:
    return yaml.safe_load(path.read_text())


@dataclass
class Result:
    case: dict[str, Any]
    seconds: float
    booking_ok: bool
    cause_ok: bool
    kind_ok: bool
    handoff_ok: bool
    facts_ok: bool
    article_ok: bool
    leaks: list[str] = field(default_factory=list)
    answer: str = ""
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return all((self.booking_ok, self.cause_ok, self.kind_ok, self.handoff_ok, self.facts_ok, self.article_ok)) \
            and not self.leaks

    @property
    def group(self) -> str:
        if self.case.get("leak"):
            return "leak_attempt"
        return self.case.get("kind") or "none"


def forbidden_strings(names: dict[str, list[tuple[str, str, str]]], practice_id: str) -> list[str]:
    out: list[str] = ["1980-04-02"]  # every world patient's date of birth
    for practice, rows in names.items():
        for reference, first, last in rows:
            out.append(f"{first} {last}")
            if len(last) >= 4:
                out.append(last)
            if practice != practice_id:
                out.append(reference)
    return out


def mentions(text: str, needle: str) -> bool:
    """``needle`` in ``text`` as a whole word: no ASCII letter or digit either side. A search,
    not a regular expression per needle: the forbidden strings are too many for ``re``'s cache."""
    start = text.find(needle)
    while start != -1:
        end = start + len(needle)
        if (start == 0 or text[start - 1] not in _WORD) and (end == len(text) or text[end] not in _WORD):
            return True
        start = text.find(needle, start + 1)
    return False


def leaks_in(output: str, message: str, forbidden: list[str]) -> list[str]:
    said, asked = output.lower(), message.lower()
    found = [item for item in forbidden if item.lower() not in asked and mentions(said, item.lower())]
    return sorted(set(found))


def score(session: Session, case: dict[str, Any], labels: dict[str, list[str]],
          names: dict[str, list[tuple[str, str, str]]]) -> Result:
    practice_id = PRACTICES[case.get("practice", "riverside")]
    started = time.perf_counter()
    _u, found = ask(session, practice_id, case["text"], world.NOW)
    seconds = time.perf_counter() - started
    data = found.data()
    if "choices" in case:
        booking_ok = data["reference"] is None and {c["reference"] for c in data["choices"]} == set(case["choices"])
        expected: list[str] = []
    elif "references" in case:
        booking_ok = set(data["references"]) == set(case["references"]) and not data["choices"]
        expected = list(case["references"])
    else:
        expected = [case["reference"]] if case.get("reference") else []
        booking_ok = data["reference"] == case.get("reference") and not data["choices"] \
            and (bool(expected) or not data["references"])
    if expected:
        got = {b["reference"]: set(b["causes"]) for b in data["bookings"]}
        cause_ok = all(got.get(r) == set(labels[r]) for r in expected)
    else:
        cause_ok = not data["causes"]
    kind_ok = "kind" not in case or data["kind"] == case["kind"]
    handoff_ok = (data["handoff"] or {}).get("reason") == case.get("handoff")
    facts_ok = all(fact.lower() in found.text.lower() for fact in case.get("facts", []))
    article_ok = not case.get("article") or any(case["article"].lower() in (a.get("title") or "").lower()
                                                for a in data["articles"])
    output = found.text + " " + json.dumps(data, ensure_ascii=False)
    leaks = leaks_in(output, case["text"], forbidden_strings(names, practice_id))
    return Result(case, seconds, booking_ok, cause_ok, kind_ok, handoff_ok, facts_ok, article_ok, leaks,
                  found.text, data)


def run(session: Session, path: Path = world.CASES) -> list[Result]:
    spec = load_cases(path)
    names = world.patient_names(session)
    return [score(session, case, spec["bookings"], names) for case in spec["cases"]]


def summary(results: list[Result]) -> dict[str, Any]:
    def rate(items: list[bool]) -> float:
        return sum(items) / len(items) if items else 1.0

    times = sorted(r.seconds for r in results)
    p95 = times[min(len(times) - 1, int(0.95 * len(times)))] if times else 0.0
    groups: dict[str, list[Result]] = {}
    for r in results:
        groups.setdefault(r.group, []).append(r)
    return {
        "cases": len(results),
        "booking_and_cause": rate([r.booking_ok and r.cause_ok for r in results]),
        "kind": rate([r.kind_ok for r in results if "kind" in r.case]),
        "handoff": rate([r.handoff_ok for r in results]),
        "all_checks": rate([r.ok for r in results]),
        "leaks": sum(len(r.leaks) for r in results),
        "p50_ms": times[len(times) // 2] * 1000 if times else 0.0,
        "p95_ms": p95 * 1000,
        "max_ms": times[-1] * 1000 if times else 0.0,
        "per_kind": {g: (sum(r.ok for r in rs), len(rs)) for g, rs in sorted(groups.items())},
    }
