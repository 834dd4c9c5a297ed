"""The console's one search box: booking references, patient names, practices, requests, emails.

Pure reads (the caller audits and commits). Every branch runs on an index: booking references and
patient names on the cross-practice indexes of ``helpdesk.workspace.models``, practices on their
primary key and name key, requests on their primary key and requester email. Patient names are
never shown in full here: the title carries the masked name, as the bookings list does.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import String, and_, cast, or_, select
from sqlalchemy.orm import Session

from helpdesk.bookings.models import Booking, Practice
from helpdesk.bookings.presenters import mask_name
from helpdesk.bookings.queries import name_key
from helpdesk.core.errors import BadInput
from helpdesk.core.text import CONTROL_CHARACTERS, EMAIL_RE
from helpdesk.requests.models import Request

KINDS = ("booking", "patient", "practice", "request", "email")
KIND_TITLES = {
    "booking": "Bookings", "patient": "Patients", "practice": "Practices",
    "request": "Requests", "email": "Email addresses",
}
PER_KIND = 10
MAX_QUERY = 200
REQUEST_NUMBER = re.compile(r"^#?\s*(\d{1,9})$")


@dataclass(frozen=True)
class Result:
    kind: str
    id: str
    practice_id: str | None
    title: str
    url: str
    detail: str = ""

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def clean_query(raw: str | None) -> str:
    q = CONTROL_CHARACTERS.sub("", raw or "").strip()
    if not q:
        raise BadInput("invalid_parameter", "q must not be empty", field="q")
    if len(q) > MAX_QUERY:
        raise BadInput("invalid_parameter", f"q must be at most {MAX_QUERY} characters", field="q")
    return q


def _prefix(column: Any, text: str) -> Any:
    """An index-friendly ``LIKE 'text%'`` (a range on the key column)."""
    return and_(column >= text, column < text[:-1] + chr(ord(text[-1]) + 1))


def booking_url(practice_id: str, reference: str) -> str:
    from urllib.parse import quote

    return f"/console/practices/{quote(practice_id, safe='')}?booking={quote(reference, safe='')}"


def practice_url(practice_id: str) -> str:
    from urllib.parse import quote

    return f"/console/practices/{quote(practice_id, safe='')}"


def request_url(request_id: int) -> str:
    return f"/console/requests/{request_id}"


def _practice_names(session: Session, ids: set[str]) -> dict[str, str]:
    if not ids:
        return {}
    return dict(session.execute(select(Practice.id, Practice.name).where(Practice.id.in_(ids))).all())


def _booking_result(kind: str, b: Booking, names: dict[str, str]) -> Result:
    practice = names.get(b.practice_id, b.practice_id)
    when = b.appointment_at.strftime("%d %b %Y")
    return Result(kind, b.reference, b.practice_id, f"{b.reference} · {mask_name(b.patient_first_name, b.patient_last_name)}",
                  booking_url(b.practice_id, b.reference), f"{practice} · appointment {when}")


def _bookings_by_reference(session: Session, q: str) -> list[Booking]:
    key = q.lower()
    exact = list(session.scalars(select(Booking).where(Booking.reference_key == key).limit(PER_KIND)))
    if len(exact) >= PER_KIND or len(key) < 3:
        return exact
    seen = {b.id for b in exact}
    more = session.scalars(
        select(Booking).where(_prefix(Booking.reference_key, key)).order_by(Booking.reference_key).limit(PER_KIND * 2)
    )
    # The range is on the column's collation; keep only true prefixes (PostgreSQL may sort "-" away).
    extra = [b for b in more if b.id not in seen and b.reference_key.startswith(key)]
    return (exact + extra)[:PER_KIND]


def _bookings_by_name(session: Session, q: str) -> list[Booking]:
    key = name_key(q)
    words = key.split()
    if len(key) < 2 or not words:
        return []
    if len(words) == 1:
        options = [_prefix(Booking.last_name_key, key), _prefix(Booking.first_name_key, key)]
    else:
        first, last = words[0], " ".join(words[1:])
        options = [
            and_(Booking.first_name_key == first, _prefix(Booking.last_name_key, last)),
            and_(Booking.last_name_key == words[0], _prefix(Booking.first_name_key, words[-1])),
            _prefix(Booking.last_name_key, key),
        ]
    found: dict[int, Booking] = {}
    for option in options:  # one index range each, stopping once the page is full
        for b in session.scalars(select(Booking).where(option).limit(PER_KIND)):
            found.setdefault(b.id, b)
        if len(found) >= PER_KIND:
            break
    return list(found.values())[:PER_KIND]


def _practices(session: Session, q: str) -> list[Practice]:
    by_id = session.get(Practice, q)
    found = [by_id] if by_id is not None else []
    key = name_key(q)
    if len(key) >= 2:
        query = select(Practice).where(Practice.name_key.contains(key, autoescape=True))
        found += [p for p in session.scalars(query.order_by(Practice.name_key).limit(PER_KIND)) if p is not by_id]
    return found[:PER_KIND]


def _requests_by_number(session: Session, q: str) -> list[Request]:
    match = REQUEST_NUMBER.match(q)
    if not match:
        return []
    found = session.get(Request, int(match.group(1)))
    return [found] if found is not None else []


def _by_email(session: Session, q: str) -> list[Result]:
    email = q.lower()
    results = [
        Result("email", f"request-{r.id}", r.practice_id, f"#{r.id} {r.subject}", request_url(r.id),
               f"requested by {r.requester_email}")
        for r in session.scalars(
            select(Request).where(Request.requester_email == email).order_by(Request.id.desc()).limit(PER_KIND)
        )
    ]
    # A practice's notification settings: practices are few (one row each), the lists are JSON.
    pattern = f'%"{email}"%'
    settings = select(Practice).where(or_(
        cast(Practice.booking_emails, String).ilike(pattern), cast(Practice.alert_emails, String).ilike(pattern),
    )).order_by(Practice.name_key).limit(PER_KIND)
    for p in session.scalars(settings):
        roles = [label for label, emails in (("booking emails", p.booking_emails), ("alert emails", p.alert_emails))
                 if email in [e.lower() for e in emails or ()]]
        if roles:
            results.append(Result("email", f"practice-{p.id}", p.id, p.name, practice_url(p.id),
                                  f"{email} in {' and '.join(roles)}"))
    return results


def search(session: Session, raw: str | None) -> list[Result]:
    """Everything the query could mean, grouped by kind in ``KINDS`` order."""
    q = clean_query(raw)
    results: list[Result] = []
    if EMAIL_RE.match(q):
        return _by_email(session, q)
    by_reference = _bookings_by_reference(session, q)
    by_name = [b for b in _bookings_by_name(session, q) if b.id not in {x.id for x in by_reference}]
    names = _practice_names(session, {b.practice_id for b in by_reference + by_name})
    results += [_booking_result("booking", b, names) for b in by_reference]
    results += [_booking_result("patient", b, names) for b in by_name]
    results += [
        Result("practice", p.id, p.id, p.name, practice_url(p.id), f"{p.id} · {p.pms_software or 'no PMS'} · {p.timezone}")
        for p in _practices(session, q)
    ]
    results += [
        Result("request", str(r.id), r.practice_id, f"#{r.id} {r.subject}", request_url(r.id),
               f"{r.status} · {r.requester_email}")
        for r in _requests_by_number(session, q)
    ]
    return results


def grouped(results: list[Result]) -> list[tuple[str, str, list[Result]]]:
    """``(kind, title, results)`` for each kind that has results, in ``KINDS`` order."""
    return [(kind, KIND_TITLES[kind], [r for r in results if r.kind == kind])
            for kind in KINDS if any(r.kind == kind for r in results)]


def practices_touched(results: list[Result]) -> set[str]:
    """The practices whose booking data the results show (for the audit log)."""
    return {r.practice_id for r in results if r.kind in ("booking", "patient") and r.practice_id}
