"""Composing the answer, in plain words, from the practice's own facts and our articles.

Facts come from the booking diagnosis (``helpdesk.bookings.queries.diagnose_booking``, always
with the patient masked: the answer names a patient only by "G. Co…"); articles from the
diagnosis's cause-to-article map first, then the knowledge base's full-text search with typo
tolerance (each word of the question corrected to the articles' own vocabulary with
``rapidfuzz``). Nothing is invented: every sentence is a fact we hold or an article we publish.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from rapidfuzz import process
from rapidfuzz.distance import Levenshtein
from sqlalchemy import select
from sqlalchemy.orm import Session

from chat.assistant.understand import Understanding, understand, words_of
from helpdesk.bookings.diagnosis import CAUSE_PHRASES
from helpdesk.bookings.models import Booking, Practice
from helpdesk.bookings.presenters import mask_name
from helpdesk.bookings.queries import diagnose_booking
from helpdesk.core.knowledge import articles_for
from kb import queries as kb_queries
from kb import search as kb_search
from kb.models import Article

# Words that carry no topic in a question (article search keeps "booking", "diary", "check"...).
STOPWORDS = {
    "a", "an", "the", "and", "or", "but", "if", "of", "to", "in", "on", "at", "for", "from", "by", "with", "about",
    "as", "is", "are", "was", "were", "be", "been", "it", "its", "this", "that", "these", "those", "there", "here",
    "what", "which", "who", "why", "how", "when", "where", "can", "could", "would", "should", "will", "do", "does",
    "did", "not", "no", "please", "thanks", "hi", "hello", "hey", "i", "me", "my", "we", "our", "us", "you", "your",
    "they", "them", "their", "he", "she", "his", "her", "just", "still", "again", "also", "any", "some", "get",
    "got", "has", "have", "had", "am", "pm", "today", "tomorrow", "yesterday", "keep", "mean", "means"
}
MAX_DIAGNOSED = 3
MAX_ARTICLES = 2
WAYS = {"bookings_list": "the bookings list", "email": "email", "diary": "the diary"}
# Article keys (diagnosis cause codes) for a question that names no booking.
KIND_KEYS = {
    "diary_missing": [],
    "no_booking_email": ["email_not_configured"],
    "alert_emails": ["alerts_disabled"],
    "connector": ["diary_connection_lost"],
    "cancellation": [],
    "how_to": [],
}
ALERT_KINDS = {"collision": "a collision alert", "connection_lost": "a lost-connection alert"}


@dataclass
class Answer:
    text: str
    reference: str | None = None
    references: list[str] = field(default_factory=list)
    received_ways: int | None = None
    causes: list[str] = field(default_factory=list)
    articles: list[dict[str, Any]] = field(default_factory=list)
    choices: list[dict[str, str]] = field(default_factory=list)
    handoff: dict[str, str] | None = None
    kind: str | None = None
    bookings: list[dict[str, Any]] = field(default_factory=list)
    unsure: bool = False

    def data(self) -> dict[str, Any]:
        return {"reference": self.reference, "references": self.references, "received_ways": self.received_ways,
                "causes": self.causes, "articles": self.articles, "choices": self.choices, "handoff": self.handoff,
                "kind": self.kind, "bookings": self.bookings}


def _local(moment_iso: str | None, zone: ZoneInfo) -> str:
    if not moment_iso:
        return ""
    moment = datetime.fromisoformat(moment_iso).astimezone(zone)
    return f"{moment:%a %d %b %H:%M}"


def _join(items: list[str]) -> str:
    if not items:
        return ""
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _booking_label(booking: Booking, zone: ZoneInfo) -> str:
    moment = booking.appointment_at.astimezone(zone)
    return f"{booking.reference}: {moment:%a %d %b %H:%M}, {mask_name(booking.patient_first_name, booking.patient_last_name)}"


def describe(verdict: dict[str, Any], zone: ZoneInfo) -> str:
    """One booking's story: how it reached the practice, why not the diary, alerts, what to do now."""
    channels = verdict["channels"]
    got = [WAYS[k] for k, c in channels.items() if c["received"]]
    missed = [WAYS[k] for k, c in channels.items() if not c["received"]]
    patient = verdict["patient"]["name"]
    when = _local(verdict["appointment_at"], zone)
    parts = [f"Booking {verdict['reference']} ({patient}, {when}) reached you {verdict['received_ways']} of 3 ways: "
             f"by {_join(got)}" + (f", not by {_join(missed)}." if missed else ".")]
    if verdict.get("cancelled"):
        parts.append("The patient cancelled it.")
    causes = [c for c in verdict["causes"] if c in CAUSE_PHRASES]
    if causes:
        phrases = [CAUSE_PHRASES[c] for c in causes]
        parts.append(f"Why: {'; '.join(phrases)}.")
    alerted = verdict.get("practice_alerted") or []
    if alerted:
        sent = [f"{ALERT_KINDS.get(a['kind'], 'an alert')} to {a['recipient']} at {_local(a['at'], zone)}"
                for a in alerted]
        parts.append(f"We emailed {_join(sent)}.")
    elif any(c.startswith("diary_") and c != "diary_pending" for c in causes):
        if "alerts_disabled" in causes:
            parts.append("No alert email went out: this kind of alert is turned off in your settings.")
        elif "alert_not_sent" in causes:
            parts.append("No alert email is on record although your settings allow it: I am passing this to our team.")
    email = channels["email"]
    if email.get("recipients") and not any(c.startswith("email_") for c in causes):
        parts.append(f"The booking email went to {_join([r['address'] for r in email['recipients']])}.")
    actions = verdict.get("actions") or []
    if actions:
        parts.append("What to do now: " + " ".join(a["text"] for a in actions[:2]))
    return " ".join(parts)


# --- articles ------------------------------------------------------------------------------------

def _vocabulary(session: Session) -> list[str]:
    titles = session.scalars(select(Article.title).where(Article.status == "published").limit(2000)).all()
    return sorted({w for t in titles for w in words_of(t) if len(w) >= 4 and w not in STOPWORDS})


def corrected_query(session: Session, text: str) -> str:
    """The question's content words, each typo corrected to the articles' vocabulary."""
    vocabulary = _vocabulary(session)
    out: list[str] = []
    for word in words_of(text):
        if word in STOPWORDS or len(word) < 3 or re.fullmatch(r"[a-z]{2,5}\d\w*|\d+\w*", word):
            continue
        if word in vocabulary or len(word) < 5 or not vocabulary:
            out.append(word)
            continue
        best = process.extractOne(word, vocabulary, scorer=Levenshtein.normalized_similarity, score_cutoff=0.75)
        out.append(best[0] if best else word)
    return " ".join(dict.fromkeys(out))


def _alike(a: str, b: str) -> bool:
    """Two words alike: equal, one typo apart, or the same stem ("change", "changing")."""
    if a == b:
        return True
    stem = min(len(a), len(b), 5)
    if stem >= 4 and a[:stem] == b[:stem]:
        return True
    return min(len(a), len(b)) >= 5 and Levenshtein.distance(a, b, score_cutoff=1) <= 1


def search_articles(session: Session, text: str, limit: int = MAX_ARTICLES,
                    boost: dict[int, int] | None = None, title_match: bool = False) -> list[dict[str, Any]]:
    """Full-text search on the typo-corrected question, re-ranked by how many of its words the
    title shares (typo and stem tolerant); ``boost`` adds to chosen articles (the cause map)."""
    query = corrected_query(session, text)
    if not query:
        return []
    hits = kb_search.search(session, query, limit=8).hits
    boost = dict(boost or {})
    for rank, hit in enumerate(hits):
        boost[hit.article_id] = boost.get(hit.article_id, 0) + 8 - rank
    words = query.split()
    titles = session.execute(select(Article.id, Article.title).where(Article.status == "published").limit(2000)).all()
    scores: dict[int, float] = {}
    for article_id, title in titles:
        title_words = [w for w in words_of(title) if w not in STOPWORDS]
        shared = sum(1 for w in words if any(_alike(w, t) for t in title_words))
        score = shared * 10 + boost.get(article_id, 0)
        if shared or (article_id in boost and not title_match):
            scores[article_id] = score - len(title_words) * 0.1
    best = sorted(scores, key=lambda i: -scores[i])[:limit]
    articles = kb_queries.articles_by_ids(session, best)
    return [{"id": a.id, "title": a.title, "url": a.path} for a in articles]


def _merge_articles(*groups: list[dict[str, Any]], limit: int = MAX_ARTICLES) -> list[dict[str, Any]]:
    seen: dict[int, dict[str, Any]] = {}
    for group in groups:
        for article in group:
            if article.get("id") is not None and article["id"] not in seen:
                seen[article["id"]] = {"id": article["id"], "title": article["title"], "url": article.get("url")}
    return list(seen.values())[:limit]


# --- the answer ----------------------------------------------------------------------------------

def compose(session: Session, practice_id: str, u: Understanding, now: datetime, timezone: str) -> Answer:
    zone = ZoneInfo(timezone)
    if u.wants_person and u.booking_references and len(u.patient_matches) <= 1:
        answer = _about_bookings(session, practice_id, u, u.booking_references[:MAX_DIAGNOSED], now, zone)
        answer.text += "\n\nI am passing you to a person from our support team: they will see this too."
        answer.handoff = {"reason": "asked_for_person"}
        return answer
    if u.wants_person:
        return Answer("Of course: I am passing you to a person from our support team. They will see what we "
                      "have said so far.", kind=u.kind, handoff={"reason": "asked_for_person"},
                      references=u.booking_references[:MAX_DIAGNOSED])
    if u.unhappy and not u.booking_references:
        return Answer("I am sorry this has been frustrating. I am passing you to a person from our support team "
                      "straight away.", kind=u.kind or "unhappy", handoff={"reason": "unhappy"})
    if u.confirmed:
        return Answer("Glad that helped. If anything else comes up, just write here.", kind=u.kind)
    if not u.references and len(u.patient_matches) > 1:
        choices = [{"reference": b.reference, "label": _booking_label(b, zone)}
                   for b in u.patient_matches[:MAX_DIAGNOSED + 2]]
        return Answer("Which of these bookings do you mean?", kind=u.kind, choices=choices, unsure=True,
                      references=[c["reference"] for c in choices])
    references = u.booking_references[:MAX_DIAGNOSED]
    if references:
        return _about_bookings(session, practice_id, u, references, now, zone)
    if u.unknown_references:
        shown = _join(u.unknown_references[:3])
        return Answer(f"I cannot find {shown} among your practice's bookings. Check the reference in your "
                      "bookings list (letters, a dash, then letters and digits), or tell me the patient's name and the day.",
                      kind=u.kind, unsure=True)
    if u.kind is None:  # no topic recognised: only articles whose title shares a word with the question
        found = search_articles(session, u.text, title_match=True)
        if found:
            return Answer("These articles may answer it: " + _join([a["title"] for a in found]) + ".",
                          kind="how_to", articles=found)
        return Answer("I did not understand that. Tell me the booking reference from your bookings list, or the "
                      "patient and the day, and what is wrong; or ask for a person.", unsure=True)
    keyed = [a for a in articles_for(session, KIND_KEYS.get(u.kind, [])) if a.get("id")]
    articles = search_articles(session, u.text, boost={a["id"]: 6 for a in keyed}) or _merge_articles(keyed)
    if not articles:
        return Answer("I do not have an answer for that. I am passing you to a person from our support team.",
                      kind=u.kind, handoff={"reason": "cannot_answer"})
    lead = {
        "diary_missing": "If a booking is missing from your diary, tell me its reference (or the patient and day) "
                         "and I will check what happened to it. Meanwhile:",
        "no_booking_email": "For booking emails that do not arrive, tell me a booking reference and I will check "
                            "where its email went. Meanwhile:",
        "alert_emails": "About alert emails:",
        "connector": "About the connector:",
        "cancellation": "About cancellations and rescheduling:",
        "how_to": "These articles explain it:",
    }.get(u.kind, "This may help:")
    return Answer(f"{lead} " + "; ".join(f"\u201c{a['title']}\u201d" for a in articles) + ".", kind=u.kind,
                  articles=articles)


def _about_bookings(session: Session, practice_id: str, u: Understanding, references: list[str], now: datetime,
                    zone: ZoneInfo) -> Answer:
    verdicts = [v for r in references if (v := diagnose_booking(session, practice_id, r, now, reveal=False))]
    stories = [describe(v, zone) for v in verdicts]
    first = verdicts[0]
    causes = list(dict.fromkeys(c for v in verdicts for c in v["causes"]))
    cause_articles = [a for v in verdicts for a in v["articles"] if a.get("id")]
    articles = _merge_articles(cause_articles, [] if cause_articles else search_articles(session, u.text))
    text = "\n\n".join(stories)
    if articles:
        text += "\n\nRead more: " + _join([a["title"] for a in articles]) + "."
    handoff = None
    if "alert_not_sent" in causes:
        handoff = {"reason": "escalate_alert_not_sent"}
    elif u.unhappy:
        handoff = {"reason": "unhappy"}
        text += "\n\nI am sorry about this: I am passing you to a person from our support team too."
    bookings = [{"reference": v["reference"], "received_ways": v["received_ways"], "causes": v["causes"],
                 "patient": v["patient"]["name"], "appointment_at": v["appointment_at"],
                 "actions": [a["code"] for a in v["actions"]]} for v in verdicts]
    return Answer(text, reference=first["reference"], references=[v["reference"] for v in verdicts],
                  received_ways=first["received_ways"], causes=causes, articles=articles, kind=u.kind,
                  handoff=handoff, bookings=bookings)


def practice_timezone(session: Session, practice_id: str) -> str:
    practice = session.get(Practice, practice_id)
    return practice.timezone if practice is not None and practice.timezone else "UTC"


def ask(session: Session, practice_id: str, text: str, now: datetime) -> tuple[Understanding, Answer]:
    """The whole engine: read the message, answer it. Read only."""
    timezone = practice_timezone(session, practice_id)
    u = understand(session, practice_id, text, now, timezone)
    return u, compose(session, practice_id, u, now, timezone)
