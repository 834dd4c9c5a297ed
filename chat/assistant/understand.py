"""Reading a practice's message: which of its bookings it means, and what it asks about.

Every booking lookup is scoped to the asking practice's id (from its token): a reference that
is not the practice's own is simply "not found", whoever else it may belong to.

- References: as the platform writes them ("RVD-7K2QX9M"), in any case, or one character off
  (a typo, a swapped or missing character) against the practice's own references.
- A patient and a day: "Mrs Cooper's 11am tomorrow", "Grace Cooper 29 Dec", in the practice's
  time zone, relative to ``helpdesk.core.clock.utcnow()``.
- The kind of question, by keywords with typo tolerance (``rapidfuzz``).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from rapidfuzz.distance import OSA
from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from helpdesk.bookings.models import Booking

MAX_REFERENCES = 5
# Overlapping (a lookahead), so "IS THIS BOOKING" yields "IS THIS" and "THIS BOOKING".
REFERENCE_RE = re.compile(r"(?=\b(([A-Za-z]{2,5})[- ]?([A-Za-z0-9]{4,16}))\b)")
NEAR_CANDIDATES = 5000  # the practice's references looked at for a one-character-off match
NAME_WINDOW = timedelta(days=45)  # a name without a day: bookings this far either side of now

MONTHS = {m: i for i, names in enumerate(
    [("jan", "january"), ("feb", "february"), ("mar", "march"), ("apr", "april"), ("may",), ("jun", "june"),
     ("jul", "july"), ("aug", "august"), ("sep", "sept", "september"), ("oct", "october"), ("nov", "november"),
     ("dec", "december")], start=1) for m in names}
WEEKDAYS = {d: i for i, names in enumerate(
    [("mon", "monday"), ("tue", "tues", "tuesday"), ("wed", "wednesday"), ("thu", "thur", "thurs", "thursday"),
     ("fri", "friday"), ("sat", "saturday"), ("sun", "sunday")]) for d in names}
TITLES = {"mr", "mrs", "ms", "miss", "mx", "dr", "master"}

# Words that never name a patient (so "Monday", "Dear" or "booking" are not surnames).
STOPWORDS = {
    "a", "an", "the", "and", "or", "but", "if", "of", "to", "in", "on", "at", "for", "from", "by", "with", "about",
    "as", "is", "are", "was", "were", "be", "been", "being", "it", "its", "this", "that", "these", "those", "there",
    "here", "what", "which", "who", "whom", "whose", "why", "how", "when", "where", "can", "could", "would",
    "should", "will", "shall", "may", "might", "must", "do", "does", "did", "done", "not", "no", "yes", "please",
    "thanks", "thank", "hi", "hello", "hey", "dear", "i", "me", "my", "we", "our", "us", "you", "your", "they",
    "them", "their", "he", "she", "his", "her", "booking", "bookings", "appointment", "appointments", "diary",
    "email", "emails", "alert", "alerts", "patient", "patients", "today", "tomorrow", "yesterday", "morning",
    "afternoon", "evening", "am", "pm", "just", "still", "again", "also", "any", "some", "all", "one", "two",
    "three", "find", "see", "show", "missing", "never", "get", "got", "has", "have", "had", "ref", "reference",
    "check", "tell", "give", "list", "names", "name", "wasn", "s", "practice", "practices", "server", "software",
    "system", "instructions", "ignore", "every", "each", "full", "first", "last", "date", "birth", "phone",
    "number", "details", "detail", "patient's", "own", "other", "booked", "now", "next", "week", "month", "time",
    "day", "night", "coming", "came", "went", "book", "online", "lost", "connection", "connector", "help", "thing",
    "things", "work", "working"
} | set(MONTHS) | set(WEEKDAYS) | TITLES


def fold(text: str) -> str:
    """Lower case, accents dropped, one space between words."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return " ".join(folded.lower().split())


def words_of(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+(?:'[a-z]+)?", fold(text))


# --- kinds ---------------------------------------------------------------------------------------

# kind -> phrases (all words must appear, each allowing a typo). Order matters for ties: the
# first listed wins.
KIND_PHRASES: dict[str, list[str]] = {
    "wants_person": ["speak to a person", "speak to someone", "talk to a person", "talk to someone", "real person",
                     "human", "an agent", "speak to agent", "talk to agent", "call me", "phone me", "someone call",
                     "a person please", "person please", "want a person", "need a person", "operator",
                     "speak with someone", "talk with someone", "escalate this", "support team"],
    "unhappy": ["useless", "rubbish", "terrible", "awful", "ridiculous", "not helpful", "unhelpful", "fed up",
                "frustrated", "furious", "angry", "annoyed", "disgusting", "unacceptable", "waste of time",
                "stupid", "hopeless", "complain", "complaint", "not happy", "sick of", "third time", "again and again",
                "pathetic", "joke", "shocking"],
    "cancellation": ["cancel", "cancelled", "canceled", "cancels", "cancellation", "reschedule", "rescheduled",
                     "reschedules", "rebook", "moved the appointment", "changed the time", "new time"],
    "alert_emails": ["alert", "alerts", "alerted", "collision alert", "collision alerts", "lost connection email",
                     "warning email", "warning emails", "notified", "notification of failure", "alert email"],
    "no_booking_email": ["no email", "not get email", "no booking email", "email not", "didn't get the email",
                         "did not get the email", "never got the email", "email never", "email bounced", "bounce",
                         "bounced", "notification email", "confirmation email", "inbox", "no notification",
                         "email missing", "missing email", "not receive email", "not received email",
                         "email didnt", "emails stopped", "email"],
    "connector": ["connector", "connection lost", "server offline", "offline", "disconnected", "sync", "syncing",
                  "not syncing", "integration down", "bridge", "link software", "heartbeat", "connection"],
    "diary_missing": ["not in diary", "not in the diary", "missing from diary", "diary", "calendar", "schedule",
                      "appointment book", "not showing", "not there", "didn't show", "not appear", "missing",
                      "can't see", "cannot see", "not see", "where is", "why is", "turned up", "came in",
                      "showed up", "arrived", "not transferred", "only in the sidebar", "gone"],
    # topics of their own (how-to questions about the topics above take the topic's kind)
    "how_to": ["sidebar", "integrated", "integration", "widget", "request", "requests", "live chat", "chat",
               "collision", "matching", "pending", "rejected", "transfer", "by hand", "my requests", "guide"],
}
# How a how-to question is put: on its own, the kind is how_to; with a topic, the topic's.
HOW_TO_FRAMING = ["how do i", "how to", "how can i", "how do we", "how does", "how do", "where do i",
                  "where can i", "set up", "setup", "change", "turn on", "turn off", "enable", "disable",
                  "configure", "what is", "what does", "what do", "explain", "help me", "mean"]
# When a booking is named, the question is about that booking unless it says otherwise.
BOOKING_KINDS = ("diary_missing", "no_booking_email", "alert_emails", "connector", "cancellation")
CONFIRM_PHRASES = ["thanks", "thank you", "that helps", "that helped", "sorted", "solved", "perfect", "great",
                   "got it", "all good", "that's it", "cheers", "brilliant", "fixed", "resolved"]


def _word_match(word: str, target: str) -> bool:
    """The same word, or one typo away (a wrong, missing, extra or swapped character) for words
    of five letters or more; two for long words that start alike."""
    if word == target:
        return True
    if len(target) < 5 or len(word) < 4:
        return False
    distance = OSA.distance(word, target, score_cutoff=2)
    return distance <= 1 or (distance <= 2 and len(target) >= 9 and word[0] == target[0]
                             and abs(len(word) - len(target)) <= 1)


def _name_match(word: str, name: str) -> bool:
    """A written word is a patient's name: the same, or (five letters or more) one typo away."""
    return word == name or (len(name) >= 5 and len(word) >= 4 and OSA.distance(word, name, score_cutoff=1) <= 1)


def _phrase_at(words: list[str], phrase: str) -> set[int]:
    """The positions of the words matching ``phrase``: every word of it, in order (gaps of up to
    two words allowed), each allowing a typo. Empty when it is not there."""
    targets = words_of(phrase)
    found: set[int] = set()
    if not targets:
        return found
    for start in range(len(words)):
        if not _word_match(words[start], targets[0]):
            continue
        i, ok, at = start + 1, True, [start]
        for target in targets[1:]:
            for j in range(i, min(i + 3, len(words))):
                if _word_match(words[j], target):
                    i = j + 1
                    at.append(j)
                    break
            else:
                ok = False
                break
        if ok:
            found.update(at)
    return found


def _phrase_in(words: list[str], phrase: str) -> bool:
    return bool(_phrase_at(words, phrase))


def _expand(words: list[str]) -> list[str]:
    out: list[str] = []
    for w in words:
        if w.endswith("n't"):
            out += [w[:-3], "not"]
        elif w in ("didnt", "doesnt", "isnt", "wasnt", "havent", "hasnt", "cant", "wont", "arent"):
            out += [w[:-1] if w != "cant" else "can", "not"]
        elif w.endswith("'s"):
            out.append(w[:-2])
        else:
            out.append(w)
    return out


def kind_scores(text: str) -> dict[str, int]:
    words = _expand(words_of(text))
    scores: dict[str, int] = {}
    for kind, phrases in KIND_PHRASES.items():
        # how many of the message's words speak of this kind (each word counted once)
        score = len(set().union(*(_phrase_at(words, p) for p in phrases)))
        if score:
            scores[kind] = score
    if not scores and any(_phrase_in(words, p) for p in HOW_TO_FRAMING):
        scores["how_to"] = 1
    return scores


def is_confirmation(text: str) -> bool:
    words = _expand(words_of(text))
    return len(words) <= 12 and any(_phrase_in(words, p) for p in CONFIRM_PHRASES) and "not" not in words


# --- references ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class ReferenceMatch:
    written: str  # as the user wrote it
    reference: str  # the practice's own reference
    how: str  # exact | case | near


def reference_candidates(text: str, strict_only: bool = False) -> list[str]:
    """Things in ``text`` shaped like a booking reference, in order, without repeats.

    With a dash ("rvd-cdssksx") or digits ("RVD 7K2QX9M") a candidate is strict: if it is not
    the practice's, the user is told so. Two upper-case words ("RVD CDSSKSX") count only when
    they are one of the practice's references (a shouted "WHY THIS" is not a reference).
    """
    strict: list[tuple[int, int, str]] = []
    loose: list[tuple[int, int, str]] = []
    for m in REFERENCE_RE.finditer(text):
        whole, prefix, rest = m.group(1), m.group(2), m.group(3)
        span = (m.start(1), m.start(1) + len(whole), f"{prefix}-{rest}")
        if "-" in whole or (any(c.isdigit() for c in rest) and (prefix.isupper() or rest.isupper())):
            strict.append(span)
        elif prefix.isupper() and rest.isupper() and len(rest) >= 5:
            loose.append(span)
    found = strict + ([] if strict_only else [s for s in loose
                                              if not any(s[0] < e and b < s[1] for b, e, _ in strict)])
    seen = dict.fromkeys(candidate for _, _, candidate in sorted(found))
    return list(seen)[:20]


def match_references(session: Session, practice_id: str, text: str) -> tuple[list[ReferenceMatch], list[str]]:
    """The practice's bookings the text names, and the reference-shaped strings it does not know."""
    candidates = reference_candidates(text)
    if not candidates:
        return [], []
    strict = {c.lower() for c in reference_candidates(text, strict_only=True)}
    keys = {c.lower(): c for c in candidates}
    rows = session.execute(select(Booking.reference, Booking.reference_key).where(
        Booking.practice_id == practice_id, Booking.reference_key.in_(sorted(keys)))).all()
    by_key = {key: reference for reference, key in rows}
    found: list[ReferenceMatch] = []
    unknown: list[str] = []
    for key, written in keys.items():
        if key in by_key:
            found.append(ReferenceMatch(written, by_key[key], "exact" if written == by_key[key] else "case"))
            continue
        near = _near_reference(session, practice_id, key)
        if near is not None:
            found.append(ReferenceMatch(written, near, "near"))
        elif key in strict:
            unknown.append(written)
    unique: dict[str, ReferenceMatch] = {}
    for match in found:
        unique.setdefault(match.reference, match)
    return list(unique.values())[:MAX_REFERENCES], unknown


def _near_reference(session: Session, practice_id: str, key: str) -> str | None:
    """The practice's one reference one edit from ``key`` (none, or several: no guess)."""
    prefix = key.split("-", 1)[0] + "-"
    length = func.length(Booking.reference_key)
    rows = session.execute(select(Booking.reference, Booking.reference_key).where(
        Booking.practice_id == practice_id,
        or_(and_(Booking.reference_key >= prefix, Booking.reference_key < prefix[:-1] + "."),
            Booking.reference_key.like(f"%{key[-4:]}")),
        length.between(len(key) - 1, len(key) + 1)).limit(NEAR_CANDIDATES)).all()
    close = {reference for reference, ref_key in rows if OSA.distance(key, ref_key, score_cutoff=1) <= 1}
    if not close:
        # one typo in the prefix itself: compare against the practice's references of that length
        rows = session.execute(select(Booking.reference, Booking.reference_key).where(
            Booking.practice_id == practice_id, Booking.reference_key.like(f"%{key[-6:]}"))
            .limit(NEAR_CANDIDATES)).all()
        close = {reference for reference, ref_key in rows if OSA.distance(key, ref_key, score_cutoff=1) <= 1}
    return next(iter(close)) if len(close) == 1 else None


# --- a patient and a day -------------------------------------------------------------------------

@dataclass(frozen=True)
class When:
    day: date | None = None
    at: time | None = None


_TIME_RE = re.compile(r"\b(\d{1,2})(?:[:.](\d{2}))?\s*(am|pm)\b|\b(\d{1,2})[:.](\d{2})\b|\b(noon|midday)\b")
_DAY_MONTH_RE = re.compile(r"\b(\d{1,2})(?:st|nd|rd|th)?\s+(?:of\s+)?([a-z]{3,9})\b")
_MONTH_DAY_RE = re.compile(r"\b([a-z]{3,9})\s+(\d{1,2})(?:st|nd|rd|th)?\b")
_NUMERIC_DATE_RE = re.compile(r"\b(\d{1,2})/(\d{1,2})(?:/(\d{2,4}))?\b")
_ISO_DATE_RE = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b")


def parse_when(text: str, today: date) -> When:
    t = fold(text)
    at: time | None = None
    m = _TIME_RE.search(t)
    if m:
        if m.group(6):
            at = time(12, 0)
        elif m.group(3):
            hour, minute = int(m.group(1)), int(m.group(2) or 0)
            if 1 <= hour <= 12 and minute < 60:
                hour = hour % 12 + (12 if m.group(3) == "pm" else 0)
                at = time(hour, minute)
        else:
            hour, minute = int(m.group(4)), int(m.group(5))
            if hour < 24 and minute < 60:
                at = time(hour, minute)
    day: date | None = None
    words = set(words_of(t))
    if "today" in words or "this morning" in t or "this afternoon" in t or "tonight" in words:
        day = today
    elif "tomorrow" in words or "tomorow" in words or "tmrw" in words:
        day = today + timedelta(days=1)
    elif "yesterday" in words:
        day = today - timedelta(days=1)
    if day is None:
        day = _explicit_date(t, today)
    if day is None:
        for word in words_of(t):
            if word in WEEKDAYS and len(word) >= 3 and word not in ("sat", "sun", "wed", "mon") or (
                    word in WEEKDAYS and re.search(rf"\b(on|last|next|this)\s+{word}\b", t)):
                target = WEEKDAYS[word]
                delta = (target - today.weekday()) % 7
                if re.search(rf"\blast\s+{word}\b", t):
                    delta = delta - 7 if delta else -7
                elif re.search(rf"\bnext\s+{word}\b", t) and delta == 0:
                    delta = 7
                day = today + timedelta(days=delta)
                break
    return When(day, at)


def _explicit_date(t: str, today: date) -> date | None:
    m = _ISO_DATE_RE.search(t)
    if m:
        try:
            return date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        except ValueError:
            return None
    for regex, day_group, month_group in ((_DAY_MONTH_RE, 1, 2), (_MONTH_DAY_RE, 2, 1)):
        for m in regex.finditer(t):
            month = MONTHS.get(m.group(month_group))
            if month is None:
                continue
            return _nearest(today, month, int(m.group(day_group)))
    m = _NUMERIC_DATE_RE.search(t)
    if m:
        day_number, month = int(m.group(1)), int(m.group(2))
        if m.group(3):
            year = int(m.group(3))
            year = year + 2000 if year < 100 else year
            try:
                return date(year, month, day_number)
            except ValueError:
                return None
        return _nearest(today, month, day_number)
    return None


def _nearest(today: date, month: int, day_number: int) -> date | None:
    """The date with that day and month closest to today (this year, last or next)."""
    options = []
    for year in (today.year - 1, today.year, today.year + 1):
        try:
            options.append(date(year, month, day_number))
        except ValueError:
            continue
    return min(options, key=lambda d: abs((d - today).days)) if options else None


def name_words(text: str, exclude: str = "") -> list[str]:
    """Words that may be a patient's name: not a stopword, a number or part of a reference."""
    dropped = {w for ref in reference_candidates(text) for w in words_of(ref)} | set(words_of(exclude))
    return [w for w in _expand(words_of(text)) if w not in STOPWORDS and w not in dropped and not w.isdigit()
            and len(w) >= 2 and not re.fullmatch(r"\d+(am|pm|st|nd|rd|th)?", w)
            and not any(w in words_of(p) for phrases in KIND_PHRASES.values() for p in phrases)]


def _name_score(words: list[str], first_key: str, last_key: str) -> int:
    """2: surname (and first name) match; 1: surname only; 0: no surname match."""
    lasts = last_key.split()
    if not any(any(_name_match(w, last) for w in words) for last in lasts):
        return 0
    firsts = first_key.split()
    return 2 if any(any(_name_match(w, first) for w in words) for first in firsts) else 1


def match_patient(session: Session, practice_id: str, text: str, when: When, timezone: str, now: datetime,
                  ) -> list[Booking]:
    """The practice's bookings whose patient the text names, on the day (and time) it gives."""
    words = name_words(text)
    if not words:
        return []
    zone = ZoneInfo(timezone)
    if when.day is not None:
        start = datetime.combine(when.day, time(0), zone)
        window = (start, start + timedelta(days=1))
    else:
        window = (now - NAME_WINDOW, now + NAME_WINDOW)
    query = select(Booking).where(Booking.practice_id == practice_id, Booking.appointment_at >= window[0],
                                  Booking.appointment_at < window[1])
    if when.day is None:  # a wide window: only surnames that (nearly) match a written word
        query = query.where(or_(*[Booking.last_name_key.like(f"{w[:2]}%") for w in words if len(w) >= 3] or [False]))
    rows = session.scalars(query.order_by(Booking.appointment_at).limit(2000)).all()
    scored = [(s, b) for b in rows if (s := _name_score(words, b.first_name_key, b.last_name_key))]
    if not scored:
        return []
    best = max(s for s, _ in scored)
    matches = [b for s, b in scored if s == best]
    if when.at is not None:
        timed = [b for b in matches if b.appointment_at.astimezone(zone).time().replace(second=0) == when.at]
        if timed:
            matches = timed
    return matches[:MAX_REFERENCES + 1]


# --- all of it -----------------------------------------------------------------------------------

@dataclass
class Understanding:
    text: str
    kind: str | None
    kinds: dict[str, int]
    references: list[ReferenceMatch] = field(default_factory=list)
    unknown_references: list[str] = field(default_factory=list)
    patient_matches: list[Booking] = field(default_factory=list)
    when: When = field(default_factory=When)
    wants_person: bool = False
    unhappy: bool = False
    confirmed: bool = False

    @property
    def booking_references(self) -> list[str]:
        if self.references:
            return [m.reference for m in self.references]
        return [b.reference for b in self.patient_matches]


def understand(session: Session, practice_id: str, text: str, now: datetime, timezone: str = "UTC") -> Understanding:
    scores = kind_scores(text)
    refs, unknown = match_references(session, practice_id, text)
    today = now.astimezone(ZoneInfo(timezone)).date()
    when = parse_when(text, today)
    patients: list[Booking] = []
    if not refs:
        patients = match_patient(session, practice_id, text, when, timezone, now)
    wants_person = "wants_person" in scores
    unhappy = "unhappy" in scores
    topical = {k: v for k, v in scores.items() if k not in ("wants_person", "unhappy")}
    kind: str | None
    if topical:
        # a how-to question about a booking is still about the booking; a specific topic beats "diary"
        order = list(KIND_PHRASES)
        if refs or patients:  # about a booking: one of the booking kinds (the diary by default)
            topical = {k: v for k, v in topical.items() if k in BOOKING_KINDS} or {"diary_missing": 1}
        kind = max(topical, key=lambda k: (topical[k] + _priority(k, topical), -order.index(k)))
    elif refs or patients or unknown:
        kind = "diary_missing"
    else:
        kind = None
    if wants_person:
        kind = "wants_person"
    elif unhappy and not (refs or patients):
        kind = "unhappy"
    return Understanding(text=text, kind=kind, kinds=scores, references=refs, unknown_references=unknown,
                         patient_matches=patients, when=when, wants_person=wants_person, unhappy=unhappy,
                         confirmed=is_confirmation(text) and not refs and not patients)


def _priority(kind: str, topical: dict[str, int]) -> int:
    """Specific topics beat the generic ones they often come with."""
    if kind == "alert_emails" and "no_booking_email" in topical:
        return 2  # "alert emails" mentions "email" too
    if kind == "cancellation":
        return 2
    if kind in ("connector", "no_booking_email") and "diary_missing" in topical:
        return 1
    return 0
