"""Read paths over the booking data: the diagnosis case, bookings list, timeline and health.

Every function takes the practice explicitly; callers decide who may ask for which practice.
"""

from __future__ import annotations

import base64
import binascii
import json
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, bindparam, func, literal, or_, select, union, union_all
from sqlalchemy.orm import Session

from helpdesk.bookings import diagnosis
from helpdesk.bookings.models import (
    AlertEmail,
    Booking,
    BookingFact,
    IntegrationEvent,
    Practice,
    PracticeSettings,
)
from helpdesk.bookings.presenters import patient_view, practice_summary
from helpdesk.core.db import any_of
from helpdesk.core.errors import BadInput
from helpdesk.core.knowledge import articles_for
from helpdesk.core.tenancy import Actor, load_visible
from helpdesk.core.text import CONTROL_CHARACTERS

EMAIL_STATUSES = ("delivered", "sent", "bounced", "failed", "not_configured", "pending")
DIARY_STATUSES = ("inserted", "sidebar_alerted", "sidebar_transferred", *diagnosis.DIARY_FAILURES, "pending")
INTEGRATION_KINDS = ("connection_lost", "connection_restored", "diary_failed")
MAX_PAGE = 200


def name_key(name: str) -> str:
    """Case- and accent-insensitive key used for prefix search."""
    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return " ".join(folded.lower().split())


# The diagnosis's statements, built once with bound parameters: building them per request (the
# expressions, then their cache key) was about a tenth of a diagnosis (docs/PERFORMANCE.md).
_SETTINGS_HISTORY = (
    select(PracticeSettings.practice_id, PracticeSettings.effective_at, PracticeSettings.integration_mode,
           PracticeSettings.pms_software, PracticeSettings.booking_emails, PracticeSettings.alert_emails,
           PracticeSettings.collision_alerts, PracticeSettings.connection_alerts)
    .where(any_of(PracticeSettings.practice_id, "practice_ids"))
    .order_by(PracticeSettings.practice_id, PracticeSettings.effective_at, PracticeSettings.id)
)
_BOOKING = select(Booking).where(Booking.practice_id == bindparam("practice_id"),
                                 Booking.reference == bindparam("reference"))
_FACTS = (select(BookingFact)
          .where(BookingFact.practice_id == bindparam("practice_id"), BookingFact.reference == bindparam("reference"))
          .order_by(BookingFact.occurred_at, BookingFact.id))


def _connector_transitions_statement() -> Any:
    """Lost/restored events from the last of each kind before ``start`` to the first after ``end``.

    One round trip of index seeks (max/min per kind), so a practice's long history costs nothing.
    """
    arms = []
    moment, start, end = IntegrationEvent.occurred_at, bindparam("start"), bindparam("end")
    for kind in ("connection_lost", "connection_restored"):
        of_kind = (IntegrationEvent.practice_id == bindparam("practice_id"), IntegrationEvent.kind == kind)
        arms += [
            select(func.max(moment).label("at"), literal(kind).label("kind")).where(*of_kind, moment <= start),
            select(func.min(moment).label("at"), literal(kind).label("kind")).where(*of_kind, moment > end),
            select(moment.label("at"), literal(kind).label("kind")).where(*of_kind, moment > start, moment <= end)
            .order_by(moment).limit(1000).subquery().select(),
        ]
    return union_all(*arms)


def _alerts_statement() -> Any:
    """The booking's own alerts and the connection-lost ones in its window: two index searches
    joined by id, not one OR, which SQLite answers by reading every alert of the practice (3 ms
    for a big one)."""
    of_practice = AlertEmail.practice_id == bindparam("practice_id")
    matching = union(
        select(AlertEmail.id).where(of_practice, AlertEmail.reference == bindparam("reference")),
        select(AlertEmail.id).where(of_practice, AlertEmail.kind == "connection_lost",
                                    AlertEmail.occurred_at.between(bindparam("start"), bindparam("end"))),
    )
    return select(AlertEmail).where(AlertEmail.id.in_(matching)).order_by(AlertEmail.occurred_at).limit(500)


_TRANSITIONS = _connector_transitions_statement()
_ALERTS = _alerts_statement()


def _settings(r: Any) -> diagnosis.Settings:
    return diagnosis.Settings(
        effective_at=r.effective_at, integration_mode=r.integration_mode, pms_software=r.pms_software,
        booking_emails=tuple(r.booking_emails or ()), alert_emails=tuple(r.alert_emails or ()),
        collision_alerts=r.collision_alerts, connection_alerts=r.connection_alerts,
    )


def load_settings_histories(session: Session, practice_ids: Iterable[str]) -> dict[str, list[diagnosis.Settings]]:
    """Several practices' settings histories in one statement (an ingest batch names several)."""
    histories: dict[str, list[diagnosis.Settings]] = {}
    for r in session.execute(_SETTINGS_HISTORY, {"practice_ids": sorted(practice_ids)}):
        histories.setdefault(r.practice_id, []).append(_settings(r))
    return histories


def load_settings_history(session: Session, practice_id: str) -> list[diagnosis.Settings]:
    return load_settings_histories(session, [practice_id]).get(practice_id, [])


def visible_practice(session: Session, actor: Actor, practice_id: str) -> Practice:
    """The practice, if ``actor`` may see it (an agent, or one of its own users)."""
    return load_visible(session, actor, Practice, practice_id, "practice", practice_of=lambda p: p.id)


def find_booking(session: Session, practice_id: str, reference: str) -> Booking | None:
    return session.scalar(_BOOKING, {"practice_id": practice_id, "reference": reference})


def _facts(session: Session, practice_id: str, reference: str) -> list[diagnosis.Fact]:
    rows = session.scalars(_FACTS, {"practice_id": practice_id, "reference": reference})
    return [
        diagnosis.Fact(r.channel, r.outcome, r.occurred_at, reason=r.reason, recipient=r.recipient,
                       detail=r.detail, pms_appointment_id=r.pms_appointment_id)
        for r in rows
    ]


def _connector_transitions(session: Session, practice_id: str, start: datetime, end: datetime) -> list[tuple[datetime, str]]:
    rows = session.execute(_TRANSITIONS, {"practice_id": practice_id, "start": start, "end": end}).all()
    return [(r.at, r.kind) for r in rows if r.at is not None]


def outages_from(transitions: Sequence[tuple[datetime, str]]) -> list[diagnosis.Outage]:
    outages: list[diagnosis.Outage] = []
    opened: datetime | None = None
    for moment, kind in sorted(transitions):
        if kind == "connection_lost" and opened is None:
            opened = moment
        elif kind == "connection_restored" and opened is not None:
            outages.append(diagnosis.Outage(opened, moment))
            opened = None
    if opened is not None:
        outages.append(diagnosis.Outage(opened, None))
    return outages


def load_case(session: Session, booking: Booking, now: datetime, timezone: str = "UTC") -> diagnosis.Case:
    facts = _facts(session, booking.practice_id, booking.reference)
    last_fact = max([booking.created_at, *(f.occurred_at for f in facts)])
    outages = outages_from(_connector_transitions(session, booking.practice_id, booking.created_at, last_fact))
    window_start = min([booking.created_at, *(o.started_at for o in outages)]) - diagnosis.ALERT_WINDOW_BEFORE
    window_end = max([last_fact, *(o.ended_at or now for o in outages)]) + diagnosis.ALERT_WINDOW_AFTER
    alerts = session.scalars(_ALERTS, {"practice_id": booking.practice_id, "reference": booking.reference,
                                       "start": window_start, "end": window_end})
    return diagnosis.Case(
        booking=diagnosis.BookingRecord(
            booking.reference, booking.created_at, booking.appointment_at, booking.practitioner,
            booking.appointment_type, booking.patient_first_name, booking.patient_last_name,
            booking.patient_date_of_birth,
        ),
        facts=facts,
        settings_history=load_settings_history(session, booking.practice_id),
        now=now,
        outages=outages,
        alerts=[diagnosis.Alert(a.kind, a.recipient, a.occurred_at, a.reference) for a in alerts],
        timezone=timezone,
    )


def diagnose_booking(session: Session, practice_id: str, reference: str, now: datetime, reveal: bool = False) -> dict[str, Any] | None:
    booking = find_booking(session, practice_id, reference)
    if booking is None:
        return None
    practice = session.get(Practice, practice_id)
    verdict = diagnosis.diagnose(load_case(session, booking, now, practice.timezone if practice else "UTC"))
    # The knowledge base's article for each cause ({"key", "id", "title", "url"}; {"key"} when none).
    articles = articles_for(session, verdict["causes"])
    return {"practice_id": practice_id, **verdict, "articles": articles, "patient": patient_view(booking, reveal),
            "timezone": practice.timezone if practice else "UTC"}


# --- bookings list ---------------------------------------------------------------------------

@dataclass(frozen=True)
class BookingFilters:
    q: str = ""
    date_from: datetime | None = None
    date_to: datetime | None = None
    email_status: tuple[str, ...] = ()
    diary_status: tuple[str, ...] = ()
    missed_only: bool = False


def encode_cursor(appointment_at: datetime, booking_id: int) -> str:
    raw = json.dumps([appointment_at.isoformat(), booking_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        moment, booking_id = json.loads(raw)
        parsed = datetime.fromisoformat(moment)
        if parsed.tzinfo is None or not isinstance(booking_id, int):
            raise ValueError
        return parsed, booking_id
    except (ValueError, TypeError, binascii.Error, json.JSONDecodeError) as exc:
        raise BadInput("bad_cursor", "the cursor is not one this API gave out") from exc


def _prefix(column: Any, text: str) -> Any:
    """An index-friendly ``LIKE 'text%'`` for the ASCII-folded key columns."""
    return and_(column >= text, column < text[:-1] + chr(ord(text[-1]) + 1))


def _text_options(q: str) -> list[Any]:
    """What a text search matches: a reference prefix, or first/last name prefixes (one branch each)."""
    q = CONTROL_CHARACTERS.sub("", q)  # no key holds control characters
    key = name_key(q)
    words = key.split()
    if not words:
        return []
    options = [_prefix(Booking.reference_key, q.strip().lower())]
    if len(words) == 1:
        options += [_prefix(Booking.last_name_key, key), _prefix(Booking.first_name_key, key)]
    else:
        first, last = words[0], " ".join(words[1:])
        options += [
            and_(_prefix(Booking.first_name_key, first), _prefix(Booking.last_name_key, last)),
            and_(_prefix(Booking.last_name_key, words[0]), _prefix(Booking.first_name_key, words[-1])),
            _prefix(Booking.last_name_key, key),
        ]
    return options


# A text search matching more bookings than this is walked in appointment order instead (see below).
DENSE_MATCHES = 2000


def _matches_at_least(session: Session, practice_id: str, alternatives: list[Any], enough: int) -> bool:
    """Do the alternatives match ``enough`` bookings? Counted on the name/reference indexes, stopping early."""
    total = 0
    for alternative in alternatives:
        found = select(literal(1)).where(Booking.practice_id == practice_id, alternative).limit(enough - total)
        total += session.scalar(select(func.count()).select_from(found.subquery())) or 0
        if total >= enough:
            return True
    return False


@dataclass
class _Conditions:
    """What every row must meet (``common``), the alternatives of which it must meet one, and
    whether those alternatives are known to match few rows (a rare text search)."""

    common: list[Any]
    alternatives: list[Any]
    few: bool = False


def _filter_conditions(session: Session, practice_id: str, filters: BookingFilters) -> _Conditions:
    """The conditions of a list filter.

    A filter that is an OR (a text search's alternatives, several statuses, "missed" = received 1
    or 2 ways) cannot be walked in order on one index, so each alternative becomes its own
    branch (see ``_ordered_rows``).
    """
    common: list[Any] = [Booking.practice_id == practice_id]
    if filters.date_from is not None:
        common.append(Booking.appointment_at >= filters.date_from)
    if filters.date_to is not None:
        common.append(Booking.appointment_at < filters.date_to)
    alternatives: list[Any] = []
    few = False
    if filters.q.strip():
        alternatives = _text_options(filters.q)
        # A common prefix ("m", "RVD-") matches thousands: walking the appointment order and
        # filtering (on the keys the appointment index holds) finds a page at once, while each
        # branch would sort all its matches. A rare one ("aoife murphy") is the opposite: its
        # branches read all their few matches from the name indexes. A bounded count tells which.
        if _matches_at_least(session, practice_id, alternatives, DENSE_MATCHES):
            common.append(or_(*alternatives))
            alternatives = []
        else:
            few = True
    for column, values in ((Booking.diary_status, filters.diary_status), (Booking.email_status, filters.email_status)):
        if not values:
            continue
        if len(values) > 1 and not alternatives:
            alternatives = [column == v for v in values]
        else:
            common.append(column.in_(values))
    if filters.missed_only:
        if not alternatives:
            alternatives = [Booking.received_ways == 1, Booking.received_ways == 2]
        else:
            common.append(Booking.received_ways < 3)
    return _Conditions(common, alternatives, few)


def _ordered_rows(session: Session, conditions: _Conditions, count: int, newest_first: bool) -> list[Booking]:
    """The first ``count`` rows in (appointment_at, id) order: the ids from one index walk, or
    from one branch per alternative merged (UNION, then the top ids); then those rows.

    Ids first, so a walk filtered on what its index holds (the search keys) reads no table rows.
    Each branch is ordered and limited, unless it is known to match few rows: then it reads all
    of them from its own index (ordered, it could be planned as a walk of the appointment index).
    """
    def order(at: Any, ident: Any) -> tuple[Any, Any]:
        return (at.desc(), ident.desc()) if newest_first else (at.asc(), ident.asc())

    common, alternatives = conditions.common, conditions.alternatives
    if len(alternatives) <= 1:
        top = (select(Booking.id).where(*common, *alternatives)
               .order_by(*order(Booking.appointment_at, Booking.id)).limit(count))
    else:
        branches = []
        for alternative in alternatives:
            branch = select(Booking.id, Booking.appointment_at).where(*common, alternative)
            if not conditions.few:
                branch = branch.order_by(*order(Booking.appointment_at, Booking.id)).limit(count)
            branches.append(branch.subquery())
        merged = union(*(select(b.c.id, b.c.appointment_at) for b in branches)).subquery()
        top = select(merged.c.id).order_by(*order(merged.c.appointment_at, merged.c.id)).limit(count)
    return list(session.scalars(
        select(Booking).where(Booking.id.in_(top)).order_by(*order(Booking.appointment_at, Booking.id))))


def list_bookings(session: Session, practice_id: str, filters: BookingFilters, cursor: str | None,
                  limit: int) -> tuple[list[Booking], str | None]:
    """Newest appointment first, keyset-paginated: the page after ``cursor``, and the cursor of the next.

    Every page must be answerable by walking an index in (appointment_at, id) order and stopping
    after ``limit`` rows.
    """
    limit = max(1, min(limit, MAX_PAGE))
    conditions = _filter_conditions(session, practice_id, filters)
    if cursor:
        moment, booking_id = decode_cursor(cursor)
        # The redundant "<=" lets the index seek straight to the cursor instead of filtering from the top.
        conditions.common += [Booking.appointment_at <= moment,
                              or_(Booking.appointment_at < moment, Booking.id < booking_id)]
    rows = _ordered_rows(session, conditions, limit + 1, newest_first=True)
    next_cursor = encode_cursor(rows[limit - 1].appointment_at, rows[limit - 1].id) if len(rows) > limit else None
    return rows[:limit], next_cursor


def newer_cursor(session: Session, practice_id: str, filters: BookingFilters, cursor: str, limit: int) -> str | None:
    """The cursor of the page before the one ``cursor`` opens (``None``: that page is the first).

    ``cursor`` names the last row of the page before; walking up from it (inclusive), that page
    holds ``limit`` rows, and the row after them, if any, is the last row of the page before it.
    """
    limit = max(1, min(limit, MAX_PAGE))
    conditions = _filter_conditions(session, practice_id, filters)
    moment, booking_id = decode_cursor(cursor)
    conditions.common += [Booking.appointment_at >= moment,
                          or_(Booking.appointment_at > moment, Booking.id >= booking_id)]
    rows = _ordered_rows(session, conditions, limit + 1, newest_first=False)
    return encode_cursor(rows[limit].appointment_at, rows[limit].id) if len(rows) > limit else None


# --- integration timeline and health ---------------------------------------------------------

def list_integration_events(
    session: Session, practice_id: str, kinds: Sequence[str], since: datetime | None, until: datetime | None,
    cursor: str | None, limit: int,
) -> tuple[list[IntegrationEvent], str | None]:
    limit = max(1, min(limit, MAX_PAGE))
    query = select(IntegrationEvent).where(IntegrationEvent.practice_id == practice_id)
    if kinds:
        query = query.where(IntegrationEvent.kind.in_(kinds))
    if since is not None:
        query = query.where(IntegrationEvent.occurred_at >= since)
    if until is not None:
        query = query.where(IntegrationEvent.occurred_at < until)
    if cursor:
        moment, event_id = decode_cursor(cursor)
        query = query.where(or_(IntegrationEvent.occurred_at < moment,
                                and_(IntegrationEvent.occurred_at == moment, IntegrationEvent.id < event_id)))
    rows = list(session.scalars(
        query.order_by(IntegrationEvent.occurred_at.desc(), IntegrationEvent.id.desc()).limit(limit + 1)
    ))
    next_cursor = encode_cursor(rows[limit - 1].occurred_at, rows[limit - 1].id) if len(rows) > limit else None
    return rows[:limit], next_cursor


def practice_health(session: Session, practice: Practice, now: datetime, config: Mapping[str, Any],
                    window_days: int | None = None) -> dict[str, Any]:
    """The health summary with the configured window and silence threshold."""
    return health(session, practice, now, window_days or int(config["HEALTH_WINDOW_DAYS"]),
                  timedelta(minutes=int(config["CONNECTOR_SILENT_AFTER_MINUTES"])))


def health(session: Session, practice: Practice, now: datetime, window_days: int, silent_after: timedelta) -> dict[str, Any]:
    since = now - timedelta(days=window_days)
    outcomes = dict(session.execute(
        select(Booking.diary_status, func.count())
        .where(Booking.practice_id == practice.id, Booking.created_at >= since)
        .group_by(Booking.diary_status)
    ).all())
    settled = sum(n for status, n in outcomes.items() if status != "pending")
    succeeded = sum(outcomes.get(s, 0) for s in diagnosis.DIARY_RECEIVED)
    counts = {
        (kind, reason): n for kind, reason, n in session.execute(
            select(IntegrationEvent.kind, IntegrationEvent.reason, func.count())
            .where(IntegrationEvent.practice_id == practice.id, IntegrationEvent.occurred_at >= since)
            .group_by(IntegrationEvent.kind, IntegrationEvent.reason)
        )
    }
    bouncing = list(session.execute(
        select(BookingFact.recipient, func.max(BookingFact.occurred_at))
        .where(BookingFact.practice_id == practice.id, BookingFact.channel == "email",
               BookingFact.outcome == "bounced", BookingFact.occurred_at >= since)
        .group_by(BookingFact.recipient)
    ).all())
    return {
        "practice": practice_summary(practice),
        "window_days": window_days,
        "connector": connector_health(practice, now, silent_after),
        "diary_inserts": {
            "bookings": sum(outcomes.values()),
            "settled": settled,
            "succeeded": succeeded,
            "pending": outcomes.get("pending", 0),
            "success_rate": round(succeeded / settled, 4) if settled else None,
            "by_status": outcomes,
        },
        "collisions": counts.get(("diary_failed", "collision"), 0),
        "connection_losses": counts.get(("connection_lost", None), 0),
        "failed_inserts": sum(n for (kind, _), n in counts.items() if kind == "diary_failed"),
        "notification_problems": _notification_problems(practice, bouncing),
    }


def connector_health(practice: Practice, now: datetime, silent_after: timedelta) -> dict[str, Any]:
    if practice.integration_mode != "integrated":
        return {"applies": False, "status": "not_integrated"}
    beat = practice.connector_last_heartbeat_at
    if practice.connector_online is False:
        status = "offline"
    elif beat is not None and now - beat > silent_after:
        status = "silent"
    elif practice.connector_online is None and beat is None:
        status = "unknown"
    else:
        status = "online"
    return {
        "applies": True,
        "status": status,
        "online": status == "online",
        "since": practice.connector_state_since.isoformat() if practice.connector_state_since else None,
        "last_heartbeat_at": beat.isoformat() if beat else None,
    }


def _notification_problems(practice: Practice, bouncing: Sequence[Any]) -> list[dict[str, Any]]:
    problems: list[dict[str, Any]] = []
    if not practice.profile_known:
        problems.append({"code": "profile_unknown", "message": "The platform has not sent this practice's settings yet."})
        return problems
    if not practice.booking_emails:
        problems.append({"code": "no_booking_email", "message": "No booking notification email address is set."})
    configured = {e.lower() for e in [*practice.booking_emails, *practice.alert_emails]}
    for recipient, last_at in bouncing:
        if recipient and recipient.lower() in configured:
            problems.append({"code": "bouncing_address", "address": recipient, "last_bounce_at": last_at.isoformat(),
                             "message": f"Emails to {recipient} are bouncing."})
    if not practice.collision_alerts:
        problems.append({"code": "collision_alerts_off", "message": "Collision alert emails are turned off."})
    if not practice.connection_alerts:
        problems.append({"code": "connection_alerts_off", "message": "Lost-connection alert emails are turned off."})
    if not practice.alert_emails and not practice.booking_emails:
        problems.append({"code": "no_alert_email", "message": "No address can receive alert emails."})
    return problems


def search_practices(session: Session, q: str, limit: int = 20) -> list[Practice]:
    key = name_key(q)
    query = select(Practice)
    if key:
        query = query.where(or_(Practice.id == q.strip(), Practice.name_key.contains(key, autoescape=True)))
    return list(session.scalars(query.order_by(Practice.name_key).limit(limit)))
