"""A deterministic world for the answer desk: three practices, their bookings (one per story the
diagnosis tells), a crowd of ordinary bookings around them, and the knowledge base's own
articles (``kb/content``). Built with the ingest factories through the real ingest path, at a
fixed moment (``NOW``) that the labelled set (``bench/assistant_cases.yaml``) is written against.

Used by the tests (``tests/chat/assistant``) and by ``bench/assistant.py``.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from helpdesk.bookings import ingest
from helpdesk.bookings.models import Booking
from tests.helpdesk import factories as f

ROOT = Path(__file__).resolve().parents[3]
CASES = ROOT / "bench" / "assistant_cases.yaml"
# Monday 28 December 2026, 09:00 UTC: the moment every case is asked.
NOW = datetime(2026, 12, 28, 9, 0, tzinfo=UTC)
LONDON = ZoneInfo("Europe/London")
BRISBANE = ZoneInfo("Australia/Brisbane")

RIVERSIDE, HARBOUR, OTHER = "asst-riverside", "asst-harbour", "asst-other"

# reference -> (practice, first, last, local appointment "YYYY-MM-DD HH:MM", story)
STORIES: dict[str, tuple[str, str, str, str, str]] = {
    "RVD-CDSSKSX": (RIVERSIDE, "Grace", "Cooper", "2026-12-29 11:00", "collision_alerted"),
    "RVD-LC00PR2": (RIVERSIDE, "Leo", "Cooper", "2026-12-29 15:00", "ok"),
    "RVD-7K2QX9M": (RIVERSIDE, "Jane", "Smith", "2026-12-29 14:30", "ok"),
    "RVD-B4NC3E1": (RIVERSIDE, "Oliver", "Brown", "2026-12-30 10:15", "email_bounced"),
    "RVD-P3ND1NG": (RIVERSIDE, "Amelia", "Patel", "2026-12-28 16:00", "pending"),
    "RVD-CNL0ST2": (RIVERSIDE, "Harry", "Wilson", "2026-12-31 09:30", "connection_lost"),
    "RVD-N0ALRT3": (RIVERSIDE, "Isla", "Thornton", "2027-01-04 12:00", "collision_no_alert"),
    "RVD-CANC3L4": (RIVERSIDE, "Jack", "Evans", "2026-12-29 09:00", "cancelled"),
    "RVD-PM4TCH5": (RIVERSIDE, "Mia", "Cooper", "2026-12-30 09:00", "patient_match"),
    "RVD-REJ6CT7": (RIVERSIDE, "Noah", "Greenwood", "2027-01-05 13:45", "rejected"),
    "RVD-S1D3BR8": (RIVERSIDE, "Ruby", "Hughes", "2026-12-29 16:30", "sidebar_alerted"),
    "HSM-K1NGLCY": (HARBOUR, "Lucy", "King", "2026-12-29 10:00", "collision_alerts_off"),
    "HSM-N0MA1L9": (HARBOUR, "Ethan", "Ward", "2026-12-30 11:30", "no_email"),
    "HSM-0KAY123": (HARBOUR, "Chloe", "Baxter", "2026-12-29 08:30", "ok"),
    "OTH-9Z8Y7X6": (OTHER, "Zara", "Quinlan", "2026-12-29 11:00", "collision_alerted"),
    "OTH-CDSSKSY": (OTHER, "Grace", "Cooperman", "2026-12-29 11:00", "ok"),
}
# Ordinary bookings around the stories (surnames none of the stories use).
FILLER_FIRST = ["Adam", "Beth", "Carl", "Dina", "Eric", "Faye", "Gus", "Hana", "Ivan", "Jodie", "Kurt", "Lena",
                "Marc", "Nina", "Omar", "Pia", "Quentin", "Rosa", "Sami", "Tara", "Umar", "Vera", "Wes", "Yara"]
FILLER_LAST = ["Ashdown", "Bellamy", "Carrow", "Dunmore", "Ellery", "Fairley", "Gillan", "Hartwell", "Ingram",
               "Jessop", "Kershaw", "Lockett", "Mallory", "Norcott", "Osgood", "Prentice", "Radley", "Sefton",
               "Tillotson", "Upshaw", "Vickers", "Whitlock", "Yardley", "Zouch"]
FILLER_PER_PRACTICE = 400
REF_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
PREFIX = {RIVERSIDE: "RVD", HARBOUR: "HSM", OTHER: "OTH"}


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _zone(practice: str) -> ZoneInfo:
    return BRISBANE if practice == HARBOUR else LONDON


DOMAIN = {RIVERSIDE: "riverside.test", HARBOUR: "harbour.test", OTHER: "other.test"}


def _story_events(index: int, reference: str, practice: str, first: str, last: str, local: str,
                  story: str) -> list[dict[str, Any]]:
    appointment = datetime.fromisoformat(local).replace(tzinfo=_zone(practice))
    created = NOW - timedelta(hours=40) + timedelta(hours=2 * index)  # stories two hours apart
    t = lambda minutes: _iso(created + timedelta(minutes=minutes))
    recipient, manager = f"front@{DOMAIN[practice]}", f"manager@{DOMAIN[practice]}"
    out = [f.booking_created(reference, practice, first_name=first, last_name=last, appointment_at=_iso(appointment),
                             occurred_at=t(0))]
    if story != "no_email":
        outcome = "bounced" if story == "email_bounced" else "delivered"
        out.append(f.email_event(outcome, reference, practice, recipient=recipient, occurred_at=t(1)))
    if story in ("ok", "email_bounced", "no_email", "cancelled"):
        out.append(f.diary_inserted(reference, practice, pms_appointment_id=f"APT-{reference}", occurred_at=t(2)))
    if story == "cancelled":
        out.append(f.booking_event("booking.cancelled", reference, practice, occurred_at=t(30)))
    if story in ("collision_alerted", "collision_no_alert", "collision_alerts_off"):
        out.append(f.diary_failed("collision", reference, practice, occurred_at=t(2)))
    if story == "collision_alerted":
        out.append(f.alert_sent("collision", practice, reference=reference, recipient=manager, occurred_at=t(3)))
    if story == "connection_lost":
        out += [f.connector_event("connection_lost", practice, occurred_at=t(-5)),
                f.diary_failed("connection_lost", reference, practice, occurred_at=t(2)),
                f.alert_sent("connection_lost", practice, recipient=manager, occurred_at=t(-4)),
                f.connector_event("connection_restored", practice, occurred_at=t(40))]
    if story == "patient_match":
        out.append(f.diary_failed("patient_match", reference, practice, occurred_at=t(2)))
    if story == "rejected":
        out.append(f.diary_failed("rejected", reference, practice, detail="practitioner not rostered", occurred_at=t(2)))
    if story == "sidebar_alerted":
        out.append(f.sidebar_event("alerted", reference, practice, occurred_at=t(2)))
    return out


def events(filler: int = FILLER_PER_PRACTICE) -> list[dict[str, Any]]:
    created = _iso(NOW - timedelta(days=30))
    out = [
        f.practice_upserted(RIVERSIDE, name="Riverside Dental", timezone_name="Europe/London", occurred_at=created),
        f.practice_upserted(HARBOUR, name="Harbour Smiles", timezone_name="Australia/Brisbane", collision_alerts=False,
                            booking_emails=["front@harbour.test"], alert_emails=["manager@harbour.test"],
                            occurred_at=created),
        f.practice_upserted(OTHER, name="Other Dental", booking_emails=["front@other.test"],
                            alert_emails=["manager@other.test"], occurred_at=created),
    ]
    # Ethan Ward's booking came while Harbour Smiles had no booking email set.
    out.append(f.practice_upserted(HARBOUR, name="Harbour Smiles", timezone_name="Australia/Brisbane",
                                   collision_alerts=False, booking_emails=[], alert_emails=["manager@harbour.test"],
                                   occurred_at=_iso(NOW - timedelta(hours=17))))
    out.append(f.practice_upserted(HARBOUR, name="Harbour Smiles", timezone_name="Australia/Brisbane",
                                   collision_alerts=False, booking_emails=["front@harbour.test"],
                                   alert_emails=["manager@harbour.test"], occurred_at=_iso(NOW - timedelta(hours=15))))
    for index, (reference, (practice, first, last, local, story)) in enumerate(STORIES.items()):
        out += _story_events(index, reference, practice, first, last, local, story)
    rng = random.Random(12)
    for practice in (RIVERSIDE, HARBOUR, OTHER):
        for i in range(filler):
            reference = PREFIX[practice] + "-" + "".join(rng.choice(REF_ALPHABET) for _ in range(7))
            appointment = NOW + timedelta(days=rng.randint(-40, 40), minutes=15 * rng.randint(0, 40))
            created = NOW - timedelta(days=rng.randint(1, 60))
            out.append(f.booking_created(reference, practice, first_name=rng.choice(FILLER_FIRST),
                                         last_name=rng.choice(FILLER_LAST), appointment_at=_iso(appointment),
                                         occurred_at=_iso(created)))
            out.append(f.email_event("delivered", reference, practice, recipient="front@x.test",
                                     occurred_at=_iso(created + timedelta(minutes=1))))
            out.append(f.diary_inserted(reference, practice, pms_appointment_id=f"APT-{i}",
                                        occurred_at=_iso(created + timedelta(minutes=2))))
    return out


def build(session: Session, with_articles: bool = True, filler: int = FILLER_PER_PRACTICE) -> None:
    """Ingest the world (and import ``kb/content``) into ``session``; the caller commits."""
    if session.scalar(select(Booking.id).where(Booking.practice_id == RIVERSIDE).limit(1)) is not None:
        return
    parsed = [ingest.parse_event(raw) for raw in events(filler)]
    for start in range(0, len(parsed), 1000):
        ingest.apply_events(session, parsed[start:start + 1000])
        session.flush()
    if with_articles:
        from kb.models import Article
        from kb.service import import_folder

        if session.scalar(select(Article.id).limit(1)) is None:
            import_folder(session, ROOT / "kb" / "content")
    session.flush()


def patient_names(session: Session) -> dict[str, list[tuple[str, str, str]]]:
    """practice -> [(reference, first, last)] of every booking: what a leak check looks for."""
    out: dict[str, list[tuple[str, str, str]]] = {}
    for reference, practice, first, last in session.execute(select(
            Booking.reference, Booking.practice_id, Booking.patient_first_name, Booking.patient_last_name)):
        out.setdefault(practice, []).append((reference, first, last))
    return out
