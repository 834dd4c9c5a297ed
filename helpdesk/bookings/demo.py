"""The demo world: practices, months of bookings and every way a booking can miss a practice.

``flask --app wsgi demo load`` generates the events the booking platform would have sent (in the
exact ingest contract of DESIGN.md) and feeds them through the real ingest service
(``helpdesk.ingest.parse_batch`` then ``apply_events``, one commit per batch), so loading the
demo exercises the same path as ``POST /api/v1/ingest/events``.

Everything is generated from a seed (``random.Random``) and placed relative to "now", so the
same seed and the same "now" give the same events. Names, practices, software and addresses are
invented for this project; addresses use the reserved ``.example`` domain.

The practices and their stories (see ``PRACTICES``):

* a busy dental studio (the big one: 20% of all bookings), integrated, with collisions (most
  alerted, some not), patient-matching and rejected inserts, and two past connector outages;
* a physiotherapy clinic whose connector is offline now (lost hours ago, never restored);
* a family dental practice that turned collision alerts off;
* a smile clinic that had no booking email for its first weeks, and whose connector once went
  down without the lost-connection alert going out;
* two sidebar (non-integrated) practices, one of them with a mistyped, bouncing booking address;
* a healthy podiatry practice and a dental practice with two booking addresses.

The busy studio's newest bookings failed (a collision, a rejection, a diary timeout, a patient
match), so the demo portal, which lists them, shows failures. ``demo load`` then adds a few
requests and chats through the requests and chat verbs (``helpdesk.bookings.demo_support``).
"""

from __future__ import annotations

import random
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import func, select

from helpdesk.bookings import ingest
from helpdesk.bookings.models import Practice
from helpdesk.core import db
from helpdesk.core.agents import Agent, ApiToken
from helpdesk.core.auth import mint_widget_token
from helpdesk.core.clock import utcnow
from helpdesk.core.passwords import generate_api_token, generate_password, hash_password

DEFAULT_BOOKINGS = 3000
DEFAULT_SEED = 7
DEFAULT_BATCH = 5000
BIG_PRACTICE_SHARE = 0.2
HISTORY_DAYS = 90
DEMO_AGENT_EMAIL = "demo.agent@helpdesk.example"
DEMO_AGENT_NAME = "Demo Agent"
WIDGET_TOKEN_TTL = timedelta(hours=12)
UTC = timezone.utc

# --- the world ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class SettingsVersion:
    """One version of a practice's notification settings, in force from ``days_ago``."""

    days_ago: float
    booking_emails: tuple[str, ...]
    alert_emails: tuple[str, ...] = ()
    collision_alerts: bool = True
    connection_alerts: bool = True
    bouncing: bool = False  # the booking address of this version does not exist: every email bounces


@dataclass(frozen=True)
class Outage:
    """The connector lost its connection ``days_ago`` for ``hours``; ``None``: still offline."""

    days_ago: float
    hours: float | None
    alerted: bool = True


@dataclass(frozen=True)
class PracticeSpec:
    id: str
    code: str  # booking reference prefix
    name: str
    timezone: str
    mode: str  # integrated | sidebar
    software: str | None
    specialty: str
    practitioners: tuple[str, ...]
    settings: tuple[SettingsVersion, ...]
    story: str
    outages: tuple[Outage, ...] = ()
    collision_rate: float = 0.01
    unalerted_share: float = 0.0  # of collisions, the share whose alert never went out
    patient_match_rate: float = 0.003
    rejected_rate: float = 0.002
    email_failed_rate: float = 0.002
    # Bookings whose outcome is fixed, so even a small demo shows every failure: (days ago, mode).
    scripted: tuple[tuple[float, str], ...] = ()


APPOINTMENT_TYPES = {
    "dental": ("Check-up", "Hygienist clean", "Filling", "Emergency dental visit", "Whitening consultation",
               "Crown fitting", "Child check-up"),
    "physio": ("Initial assessment", "Follow-up session", "Sports injury review", "Back pain clinic",
               "Post-surgery rehab"),
    "optometry": ("Eye examination", "Contact lens review", "Children's eye test", "Dry eye clinic"),
    "osteopathy": ("New patient consultation", "Osteopathic treatment", "Pregnancy care visit"),
    "podiatry": ("General foot care", "Nail surgery consultation", "Gait assessment", "Orthotics fitting"),
}

PRACTICES: tuple[PracticeSpec, ...] = (
    PracticeSpec(
        id="riverside-dental", code="RVD", name="Riverside Dental Studio", timezone="Europe/London",
        mode="integrated", software="ToothLedger", specialty="dental",
        practitioners=("Dr Hannah Okafor", "Dr Tomasz Nowak", "Dr Priya Raman", "Gemma Lowe (hygienist)"),
        settings=(SettingsVersion(120, ("bookings@riverside-dental.example",),
                                  ("practice.manager@riverside-dental.example",)),),
        story="big integrated practice: collisions (some never alerted), patient-match and rejected inserts, "
              "two past outages",
        outages=(Outage(62, 14), Outage(23.4, 6)),
        collision_rate=0.02, unalerted_share=0.15, patient_match_rate=0.006, rejected_rate=0.004,
        scripted=((2.1, "collision"), (1.2, "collision_unalerted"), (4.3, "patient_match"), (6.2, "rejected"),
                  (3.4, "email_failed"), (5.1, "cancelled"),
                  # The newest bookings, the ones the demo portal lists: its "Help with ..." meets failures.
                  (0.03, "collision"), (0.05, "rejected"), (0.07, "diary_timeout"), (0.09, "patient_match")),
    ),
    PracticeSpec(
        id="harbour-physio", code="HBP", name="Harbour Physiotherapy", timezone="Europe/Dublin",
        mode="integrated", software="PhysioPlanner Desk", specialty="physio",
        practitioners=("Ciara Doyle", "Eoin Fitzgerald", "Marta Silva"),
        settings=(SettingsVersion(120, ("frontdesk@harbour-physio.example",)),),
        story="connector offline NOW (lost about five hours ago): its recent bookings are not in the diary",
        outages=(Outage(40.2, 9), Outage(5 / 24, None)),
        collision_rate=0.008, scripted=((8.3, "collision"),),
    ),
    PracticeSpec(
        id="meadow-family-dental", code="MFD", name="Meadow Family Dental", timezone="Europe/London",
        mode="integrated", software="ChairSide Diary", specialty="dental",
        practitioners=("Dr Oliver Grant", "Dr Sana Qureshi", "Dr Isla Mackenzie"),
        settings=(SettingsVersion(120, ("reception@meadow-family-dental.example",),
                                  ("owner@meadow-family-dental.example",), collision_alerts=False),),
        story="collision alerts turned off: its collisions reached nobody",
        outages=(Outage(30.6, 4),),
        collision_rate=0.025, scripted=((1.6, "collision"), (9.2, "collision")),
    ),
    PracticeSpec(
        id="lakeside-smile", code="LSC", name="Lakeside Smile Clinic", timezone="Europe/Dublin",
        mode="integrated", software="SmileRecord", specialty="dental",
        practitioners=("Dr Niamh Brennan", "Dr Daniel Kavanagh", "Aisling Moran (hygienist)"),
        settings=(SettingsVersion(120, (), ("niamh.brennan@lakeside-smile.example",)),
                  SettingsVersion(45, ("appointments@lakeside-smile.example",),
                                  ("niamh.brennan@lakeside-smile.example",))),
        story="no booking email address until 45 days ago; an outage whose lost-connection alert never went out",
        outages=(Outage(15.3, 5, alerted=False),),
        scripted=((70.2, "plain"), (50.5, "plain")),
    ),
    PracticeSpec(
        id="northgate-eye-care", code="NEC", name="Northgate Eye Care", timezone="Europe/London",
        mode="sidebar", software=None, specialty="optometry",
        practitioners=("Rebecca Hale (optometrist)", "Arjun Mehta (optometrist)"),
        settings=(SettingsVersion(120, ("clinic@northgate-eye-care.example",)),),
        story="sidebar practice: bookings are transferred by hand; the newest wait in the sidebar",
        scripted=((0.3, "sidebar_pending"), (1.1, "sidebar_pending")),
    ),
    PracticeSpec(
        id="old-mill-osteopathy", code="OMO", name="Old Mill Osteopathy", timezone="Europe/London",
        mode="sidebar", software=None, specialty="osteopathy",
        practitioners=("Felix Hartmann", "Grace Adeyemi"),
        settings=(SettingsVersion(120, ("hello@oldmill-osteopathy.example",)),
                  SettingsVersion(18, ("helo@oldmill-osteopathy.example",), bouncing=True)),
        story="sidebar practice whose booking address was mistyped 18 days ago: every email since bounces",
        scripted=((2.4, "plain"), (0.7, "sidebar_pending")),
    ),
    PracticeSpec(
        id="cathedral-podiatry", code="CTP", name="Cathedral Podiatry", timezone="Europe/London",
        mode="integrated", software="StepChart", specialty="podiatry",
        practitioners=("Laura Pennington", "Kwame Mensah"),
        settings=(SettingsVersion(120, ("team@cathedral-podiatry.example",),
                                  ("alerts@cathedral-podiatry.example",)),),
        story="a healthy practice, for comparison",
        collision_rate=0.004, scripted=((3.3, "cancelled"),),
    ),
    PracticeSpec(
        id="bayview-dental", code="BVD", name="Bayview Dental Care", timezone="Europe/Dublin",
        mode="integrated", software="ChairSide Diary", specialty="dental",
        practitioners=("Dr Ruairi Walsh", "Dr Chloe Martin", "Dr Femi Adebayo"),
        settings=(SettingsVersion(120, ("reception@bayview-dental.example", "ruairi.walsh@bayview-dental.example"),
                                  ("reception@bayview-dental.example",)),),
        story="two booking addresses; a failed notification email now and then",
        email_failed_rate=0.006, scripted=((2.8, "email_failed"), (7.4, "collision")),
    ),
)

FIRST_NAMES = (
    "Aoife", "Liam", "Olivia", "Noah", "Emily", "Jack", "Sophie", "Oisín", "Grace", "James", "Chloe", "Conor",
    "Amelia", "Harry", "Siobhán", "Mohammed", "Isla", "Daniel", "Zoë", "Thomas", "Ella", "Seán", "Ava", "Adam",
    "Niamh", "Samuel", "Lucy", "Ryan", "Freya", "Joseph", "Mia", "Patrick", "Hannah", "Ethan", "Ruby", "Cian",
    "Evie", "Oscar", "Sadhbh", "Leo", "Maya", "Finn", "Erin", "Arthur", "Roisin", "Kai", "Imogen", "Luca",
)
LAST_NAMES = (
    "Murphy", "Kelly", "O'Brien", "Walsh", "Smith", "Byrne", "Ryan", "Jones", "Taylor", "Brown", "Williams",
    "Wilson", "Davies", "Evans", "Thomas", "Johnson", "Roberts", "Robinson", "Thompson", "Wright", "Walker",
    "White", "Hughes", "Edwards", "Green", "Hall", "Wood", "Harris", "Lewis", "Martin", "Jackson", "Clarke",
    "Clark", "Turner", "Hill", "Scott", "Cooper", "Morris", "Ward", "Moore", "King", "Watson", "Baker",
    "Harrison", "Morgan", "Patel", "Young", "Allen", "Mitchell", "James", "Anderson", "Phillips", "Lee",
    "Bell", "Parker", "Davis", "O'Sullivan", "McCarthy", "Doherty", "Kennedy", "Lynch", "Murray", "Quinn",
    "Moran", "O'Connor", "Gallagher", "Doyle", "Nolan", "Ní Bhriain", "Müller", "Kowalski", "Nguyen",
)
REFERENCE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
REFERENCE_SPACE = 32**7
FAILURE_DETAILS = {
    "patient_match": (
        "Two patient records share this name and date of birth",
        "No patient record matches and the practice software does not allow new patients from online bookings",
    ),
    "rejected": (
        "Appointment type is not mapped in the practice software",
        "Practitioner is not bookable on this day in the practice software",
        "The practice software refused an appointment outside opening hours",
    ),
    "connection_lost": (
        "No answer from the practice server within 60 seconds",
        "The connector could not reach the practice software database",
    ),
}
EMAIL_FAILED_DETAILS = ("Mail relay timed out after three attempts", "Recipient domain has no mail server")


# --- the generator -----------------------------------------------------------------------------


@dataclass
class Candidate:
    practice_id: str
    reference: str
    appointment_at: datetime


@dataclass
class _Booking:
    spec: PracticeSpec
    created_at: datetime
    mode: str  # a scripted mode, or "random"


@dataclass
class DemoWorld:
    """The demo's events, generated lazily in time order, day by day.

    ``candidates`` collects, per cause code, a few bookings the generator expects to show it;
    ``load`` checks them against the real diagnosis before printing them.
    """

    bookings: int = DEFAULT_BOOKINGS
    seed: int = DEFAULT_SEED
    now: datetime = field(default_factory=lambda: utcnow().replace(microsecond=0))
    big_share: float = BIG_PRACTICE_SHARE
    practices: Sequence[PracticeSpec] = PRACTICES
    candidates: dict[str, list[Candidate]] = field(default_factory=dict)
    booking_count: int = 0
    event_count: int = 0

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self.start = self.now - timedelta(days=HISTORY_DAYS)
        self._seq = 0
        self._counters: dict[str, int] = {}
        self._offsets = {p.id: random.Random(f"refs-{self.seed}-{p.id}").randrange(REFERENCE_SPACE)
                         for p in self.practices}
        self._zones = {p.id: ZoneInfo(p.timezone) for p in self.practices}

    # -- helpers --

    def ago(self, days: float) -> datetime:
        return self.now - timedelta(days=days)

    def shares(self) -> dict[str, int]:
        """The first practice gets ``big_share`` of the bookings, the others split the rest evenly."""
        total, count = self.bookings, len(self.practices)
        big = round(total * self.big_share) if count > 1 else total
        rest, extra = divmod(total - big, count - 1) if count > 1 else (0, 0)
        return {p.id: big if i == 0 else rest + (1 if i <= extra else 0) for i, p in enumerate(self.practices)}

    def _event(self, kind: str, at: datetime, practice_id: str, data: dict[str, Any]) -> tuple[datetime, int, dict[str, Any]]:
        self._seq += 1
        return (at, self._seq, {"id": f"demo-{self.seed}-{self._seq:09d}", "type": kind,
                                "occurred_at": at.isoformat(), "practice_id": practice_id, "data": data})

    def _reference(self, spec: PracticeSpec) -> str:
        n = self._counters.get(spec.id, 0)
        self._counters[spec.id] = n + 1
        # A bijection on 35 bits: unique per practice, but not guessable from the booking count.
        value = (n * 0x5DEECE66D + self._offsets[spec.id]) % REFERENCE_SPACE
        chars = []
        for _ in range(7):
            value, digit = divmod(value, 32)
            chars.append(REFERENCE_ALPHABET[digit])
        return f"{spec.code}-{''.join(chars)}"

    def settings_at(self, spec: PracticeSpec, moment: datetime) -> SettingsVersion:
        current = spec.settings[0]
        for version in spec.settings:
            if self.ago(version.days_ago) <= moment:
                current = version
        return current

    def outage_at(self, spec: PracticeSpec, moment: datetime) -> tuple[Outage, datetime, datetime | None] | None:
        for outage in spec.outages:
            started = self.ago(outage.days_ago)
            ended = started + timedelta(hours=outage.hours) if outage.hours is not None else None
            if started <= moment and (ended is None or moment <= ended):
                return outage, started, ended
        return None

    def _note(self, causes: Sequence[str], spec: PracticeSpec, reference: str, appointment_at: datetime) -> None:
        if "in_flight" in causes:
            return
        for cause in causes:
            found = self.candidates.setdefault(cause, [])
            found.append(Candidate(spec.id, reference, appointment_at))
            if len(found) > 6:
                del found[0]

    # -- the practices' own events --

    def practice_events(self) -> list[tuple[datetime, int, dict[str, Any]]]:
        events = []
        for spec in self.practices:
            for version in spec.settings:
                events.append(self._event("practice.upserted", self.ago(version.days_ago), spec.id, {
                    "name": spec.name,
                    "timezone": spec.timezone,
                    "integration": {"mode": spec.mode, "software": spec.software},
                    "notification_settings": {
                        "booking_emails": list(version.booking_emails),
                        "alert_emails": list(version.alert_emails),
                        "collision_alerts": version.collision_alerts,
                        "connection_alerts": version.connection_alerts,
                    },
                }))
            # Each practice shuts for a staff training day next week, announced a fortnight ago.
            training = (self.now + timedelta(days=7 + len(events) % 3)).astimezone(ZoneInfo(spec.timezone)).date()
            events.append(self._event("practice.closed", self.ago(14), spec.id,
                                      {"date": training.isoformat(), "reason": "Staff training day"}))
        return events

    def connector_events(self, spec: PracticeSpec) -> list[tuple[datetime, int, dict[str, Any]]]:
        events = []
        for outage in spec.outages:
            started = self.ago(outage.days_ago)
            events.append(self._event("connector.connection_lost", started, spec.id, {
                "detail": f"The {spec.software} connector stopped answering the platform"}))
            settings = self.settings_at(spec, started)
            recipients = settings.alert_emails or settings.booking_emails
            if outage.alerted and settings.connection_alerts and recipients:
                alerted_at = started + timedelta(minutes=self.rng.randint(6, 15))
                if alerted_at <= self.now:
                    events.append(self._event("alert.sent", alerted_at, spec.id,
                                              {"kind": "connection_lost", "recipient": recipients[0]}))
            if outage.hours is not None:
                events.append(self._event("connector.connection_restored", started + timedelta(hours=outage.hours),
                                          spec.id, {"detail": "The connector reconnected"}))
        if spec.mode == "integrated":
            current = self.outage_at(spec, self.now)
            beat = current[1] - timedelta(seconds=40) if current else self.now - timedelta(seconds=self.rng.randint(20, 90))
            events.append(self._event("connector.heartbeat", beat, spec.id, {}))
        return events

    # -- bookings --

    def _appointment(self, spec: PracticeSpec, created_at: datetime) -> tuple[datetime, datetime]:
        """A 15-minute slot in opening hours (Mon-Sat, 08:00-17:45 local), 1 to 60 days ahead."""
        rng, zone = self.rng, self._zones[spec.id]
        day = (created_at.astimezone(zone) + timedelta(days=rng.randint(1, 60))).date()
        if day.weekday() == 6:
            day += timedelta(days=1)
        local = datetime(day.year, day.month, day.day, rng.randint(8, 17), rng.choice((0, 15, 30, 45)), tzinfo=zone)
        return local.astimezone(UTC), local

    def booking_events(self, booking: _Booking) -> list[tuple[datetime, int, dict[str, Any]]]:
        rng, spec, created, mode = self.rng, booking.spec, booking.created_at, booking.mode
        now, events, causes = self.now, [], []
        reference = self._reference(spec)
        appointment_at, local = self._appointment(spec, created)
        practitioner = rng.choice(spec.practitioners)
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        birth = f"{rng.randint(1938, 2019)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
        events.append(self._event("booking.created", created, spec.id, {
            "reference": reference, "appointment_at": appointment_at.isoformat(), "practitioner": practitioner,
            "appointment_type": rng.choice(APPOINTMENT_TYPES[spec.specialty]),
            "patient": {"first_name": first, "last_name": last, "date_of_birth": birth},
        }))

        def emit(event_type: str, at: datetime, **data: Any) -> bool:
            if at > now:  # it has not happened yet
                return False
            events.append(self._event(event_type, at, spec.id, {"reference": reference, **data}))
            return True

        def later(low: float, high: float, base: datetime | None = None) -> datetime:
            return (base or created) + timedelta(seconds=rng.uniform(low, high))

        # Email: one notification per booking address in force when the booking was made.
        settings = self.settings_at(spec, created)
        if not settings.booking_emails:
            causes.append("email_not_configured")
        # A relay failure loses the message for every address; a mistyped address bounces on its own.
        relay_failed = mode == "email_failed" or (mode == "random" and rng.random() < spec.email_failed_rate)
        for address in settings.booking_emails:
            sent = later(3, 40)
            if settings.bouncing:
                if emit("email.sent", sent, recipient=address) and emit(
                        "email.bounced", later(20, 120, sent), recipient=address,
                        detail="550 5.1.1 The recipient mailbox does not exist"):
                    causes.append("email_bounced")
            elif relay_failed:
                if emit("email.failed", sent, recipient=address, detail=rng.choice(EMAIL_FAILED_DETAILS)):
                    causes.append("email_failed")
            elif emit("email.sent", sent, recipient=address) and rng.random() < 0.97:
                emit("email.delivered", later(15, 300, sent), recipient=address)

        # Diary: the connector's insert, or the sidebar alert and the hand transfer.
        if spec.mode == "sidebar":
            alerted = later(5, 60)
            if emit("sidebar.alerted", alerted):
                recent = now - created < timedelta(days=2)
                if mode == "sidebar_pending" or (mode == "random" and rng.random() < (0.45 if recent else 0.015)):
                    causes.append("sidebar_transfer_pending")
                else:
                    emit("sidebar.transferred", later(600, 8 * 3600, alerted))
        else:
            causes.extend(self._diary_events(booking, local, practitioner, emit, later, settings))

        if mode == "cancelled" or (mode == "random" and rng.random() < 0.04):
            span = max((appointment_at - created).total_seconds(), 3600)
            cancelled = later(600, span)
            if emit("booking.cancelled", cancelled):
                causes.append("cancelled")
                # The connector takes most cancelled bookings out of the diary; the rest stay in it.
                if spec.mode != "sidebar" and not causes[:-1] and rng.random() < 0.8:
                    emit("diary.removed", later(30, 900, cancelled))
        self._note(causes or ["none"], spec, reference, appointment_at)
        return events

    def _diary_events(self, booking: _Booking, local: datetime, practitioner: str, emit: Any, later: Any,
                      settings: SettingsVersion) -> list[str]:
        rng, spec, created, mode = self.rng, booking.spec, booking.created_at, booking.mode
        outage = self.outage_at(spec, created)
        if outage is not None:
            spell, _started, ended = outage
            if ended is None:
                return ["diary_pending"]  # still waiting for the connector to come back
            failed = later(30, 120)
            if not emit("diary.failed", failed, reason="connection_lost",
                        detail=rng.choice(FAILURE_DETAILS["connection_lost"])):
                return ["in_flight"]
            if rng.random() < 0.3:  # retried once the connector was back
                emit("diary.inserted", ended + timedelta(seconds=rng.uniform(60, 900)),
                     pms_appointment_id=f"A{rng.randrange(10**6, 10**7)}")
                return []
            if not (settings.connection_alerts and (settings.alert_emails or settings.booking_emails)):
                return ["diary_connection_lost", "alerts_disabled"]
            return ["diary_connection_lost"] if spell.alerted else ["diary_connection_lost", "alert_not_sent"]
        if mode == "diary_timeout":
            return self._diary_timeout(spec, emit, later, settings)
        roll = rng.random()
        if mode in ("collision", "collision_unalerted") or (mode == "random" and roll < spec.collision_rate):
            failed = later(20, 90)
            detail = f"The {local:%H:%M} slot with {practitioner} already holds an appointment in {spec.software}"
            if not emit("diary.failed", failed, reason="collision", detail=detail):
                return ["in_flight"]
            recipients = settings.alert_emails or settings.booking_emails
            if not settings.collision_alerts or not recipients:
                return ["diary_collision", "alerts_disabled"]
            unalerted = mode == "collision_unalerted" or (mode == "random" and rng.random() < spec.unalerted_share)
            if unalerted:
                return ["diary_collision", "alert_not_sent"]
            emit("alert.sent", later(30, 180, failed), kind="collision", recipient=recipients[0])
            return ["diary_collision"]
        roll -= spec.collision_rate
        for reason, rate in (("patient_match", spec.patient_match_rate), ("rejected", spec.rejected_rate)):
            if mode == reason or (mode == "random" and 0 <= roll < rate):
                if emit("diary.failed", later(20, 90), reason=reason, detail=rng.choice(FAILURE_DETAILS[reason])):
                    return [f"diary_{reason}"]
                return ["in_flight"]
            roll -= rate
        if emit("diary.inserted", later(4, 50), pms_appointment_id=f"A{rng.randrange(10**6, 10**7)}"):
            return []
        return ["in_flight"]  # made seconds ago: the insert has not reported back yet

    def _diary_timeout(self, spec: PracticeSpec, emit: Any, later: Any, settings: SettingsVersion) -> list[str]:
        """One insert that timed out with the connector otherwise online; the platform alerts the practice."""
        failed = later(60, 90)
        if not emit("diary.failed", failed, reason="connection_lost", detail=FAILURE_DETAILS["connection_lost"][0]):
            return ["in_flight"]
        recipients = settings.alert_emails or settings.booking_emails
        if not (settings.connection_alerts and recipients):
            return ["diary_connection_lost", "alerts_disabled"]
        emit("alert.sent", later(30, 120, failed), kind="connection_lost", recipient=recipients[0])
        return ["diary_connection_lost"]

    def _schedule(self) -> dict[int, list[_Booking]]:
        """Which bookings are made on which day: weekdays busier, scripted ones at their moment."""
        days: dict[int, list[_Booking]] = {}
        weights = [(0.5 if (self.start + timedelta(days=d)).weekday() >= 5 else 1.0) for d in range(HISTORY_DAYS)]
        total_weight = sum(weights)
        for spec in self.practices:
            scripted: list[tuple[datetime, str]] = [(self.ago(days_ago), mode) for days_ago, mode in spec.scripted]
            for outage in spec.outages:  # two bookings inside every outage
                started = self.ago(outage.days_ago)
                length = timedelta(hours=outage.hours) if outage.hours is not None else self.now - started
                scripted += [(started + length * 0.3, "random"), (started + length * 0.7, "random")]
            for moment, mode in scripted:
                day = min(int((moment - self.start) / timedelta(days=1)), HISTORY_DAYS - 1)
                days.setdefault(day, []).append(_Booking(spec, moment, mode))
            remaining = max(0, self.shares()[spec.id] - len(scripted))
            # Largest-remainder split of the practice's bookings over the days.
            exact = [remaining * w / total_weight for w in weights]
            counts = [int(x) for x in exact]
            order = sorted(range(HISTORY_DAYS), key=lambda d: exact[d] - counts[d], reverse=True)
            for d in order[: remaining - sum(counts)]:
                counts[d] += 1
            for d, count in enumerate(counts):
                if count:
                    days.setdefault(d, []).append(_Booking(spec, self.start, f"count:{count}"))
        return days

    def events(self) -> Iterator[dict[str, Any]]:
        """Every event, in time order within each day (ingest does not need order; people reading it do)."""
        opening = self.practice_events()
        for spec in self.practices:
            opening += self.connector_events(spec)
        pending = sorted(opening)
        for day, bookings in sorted(self._schedule().items()):
            day_start = self.start + timedelta(days=day)
            day_end = min(day_start + timedelta(days=1), self.now)
            batch: list[tuple[datetime, int, dict[str, Any]]] = []
            for item in bookings:
                if item.mode.startswith("count:"):
                    span = (day_end - day_start).total_seconds()
                    moments = sorted(day_start + timedelta(seconds=self.rng.uniform(0, span))
                                     for _ in range(int(item.mode[6:])))
                    for moment in moments:
                        batch += self.booking_events(_Booking(item.spec, moment, "random"))
                        self.booking_count += 1
                else:
                    batch += self.booking_events(item)
                    self.booking_count += 1
            # Practice-level events of this day join the stream at their moment.
            due = [e for e in pending if e[0] < day_end]
            pending = [e for e in pending if e[0] >= day_end]
            for _, _, event in sorted(batch + due):
                self.event_count += 1
                yield event
        for _, _, event in pending:
            self.event_count += 1
            yield event


# --- loading -----------------------------------------------------------------------------------


@dataclass
class LoadReport:
    bookings: int
    events: int
    accepted: int
    duplicates: int
    seconds: float
    examples: dict[str, Candidate | None]


def load_world(session: Any, world: DemoWorld, batch_size: int = DEFAULT_BATCH,
               progress: Any = None) -> LoadReport:
    """Feed the world's events through the real ingest service, one commit per batch."""
    started = time.perf_counter()
    accepted = duplicates = 0
    batch: list[dict[str, Any]] = []
    last_report = started

    def flush() -> None:
        nonlocal accepted, duplicates
        result = ingest.apply_events(session, ingest.parse_batch(batch, len(batch)))
        session.commit()
        accepted += result.accepted
        duplicates += result.duplicates
        batch.clear()

    for event in world.events():
        batch.append(event)
        if len(batch) >= batch_size:
            flush()
            if progress is not None and time.perf_counter() - last_report > 5:
                last_report = time.perf_counter()
                progress(world.booking_count, world.event_count, last_report - started)
    if batch:
        flush()
    seconds = time.perf_counter() - started
    return LoadReport(world.booking_count, world.event_count, accepted, duplicates, seconds,
                      verify_examples(session, world))


CAUSE_ORDER = (
    "diary_collision", "alert_not_sent", "alerts_disabled", "diary_connection_lost", "diary_pending",
    "diary_patient_match", "diary_rejected", "sidebar_transfer_pending", "email_not_configured",
    "email_bounced", "email_failed", "cancelled", "none",
)
EXAMPLE_LABELS = {"none": "received 3 of 3 ways", "cancelled": "cancelled by the patient"}


def verify_examples(session: Any, world: DemoWorld) -> dict[str, Candidate | None]:
    """One booking per cause, checked against the real diagnosis (upcoming appointments first)."""
    from helpdesk.bookings.queries import diagnose_booking  # the read path the API uses

    now = utcnow()
    examples: dict[str, Candidate | None] = {}
    for cause in CAUSE_ORDER:
        examples[cause] = None
        # The most recent bookings first, and of those the ones whose appointment is still to come.
        newest_first = world.candidates.get(cause, [])[::-1]
        for candidate in sorted(newest_first, key=lambda c: c.appointment_at < now):
            verdict = diagnose_booking(session, candidate.practice_id, candidate.reference, now)
            if verdict is None:
                continue
            if cause == "none":
                ok = verdict["received_ways"] == 3 and not verdict["causes"]
            elif cause == "cancelled":
                ok = verdict["cancelled"]
            else:
                ok = cause in verdict["causes"]
            if ok:
                examples[cause] = candidate
                break
    return examples


def ensure_demo_agent(session: Any) -> tuple[Agent, str | None, str | None]:
    """The demo agent, created if missing (password and token shown only when created)."""
    from helpdesk.core.agents import create_agent

    agent = session.scalar(select(Agent).where(Agent.email == DEMO_AGENT_EMAIL))
    if agent is not None:
        return agent, None, None
    created = create_agent(session, DEMO_AGENT_EMAIL, DEMO_AGENT_NAME, role="admin")
    session.commit()
    return created.agent, created.password, created.token


def reset_demo_logins(session: Any) -> tuple[Agent, str, str]:
    """A new password and a new API token for the demo agent (the old token stays valid)."""
    agent, password, token = ensure_demo_agent(session)
    if password is None or token is None:
        password = generate_password()
        agent.password_hash = hash_password(password)
        token, token_hash = generate_api_token()
        session.add(ApiToken(agent_id=agent.id, token_hash=token_hash, label="demo"))
        session.commit()
    return agent, password, token


def print_logins(agent: Agent, password: str | None, token: str | None, practice_id: str | None) -> None:
    config = current_app.config
    click.echo("")
    click.echo("Demo logins and secrets (generated for this instance; keep them out of commits):")
    click.echo(f"  console          http://{config['HOST']}:{config['PORT']}/console/")
    click.echo(f"  agent email      {agent.email}")
    if password is not None:
        click.echo(f"  agent password   {password}")
        click.echo(f"  agent API token  {token}")
    else:
        click.echo("  agent password   (set when the demo was first loaded; `flask --app wsgi demo logins` issues new ones)")
    click.echo(f"  ingest secret    {config['INGEST_SECRET']}   (HMAC key for POST /api/v1/ingest/events)")
    if practice_id is not None:
        widget = mint_widget_token(practice_id, "demo-staff-1", "Demo Practice Staff", "staff@practice.example",
                                   ttl=WIDGET_TOKEN_TTL)
        click.echo(f"  widget token     {widget}")
        click.echo(f"                   (practice {practice_id}, user demo-staff-1, valid {WIDGET_TOKEN_TTL.total_seconds() / 3600:g} hours)")


def print_world(report: LoadReport, world: DemoWorld) -> None:
    click.echo(f"Loaded {report.bookings:,} bookings from {report.events:,} events ({report.accepted:,} new, "
               f"{report.duplicates:,} repeats) in {report.seconds:.1f} s "
               f"({report.events / max(report.seconds, 1e-9):,.0f} events/s).")
    click.echo("")
    click.echo("Demo practices:")
    shares = world.shares()
    for spec in world.practices:
        click.echo(f"  {spec.id:<22} {spec.name:<26} {spec.mode:<10} ~{shares[spec.id]:>7,} bookings  {spec.story}")
    click.echo("")
    click.echo("Bookings to open (practice, reference: what the diagnosis shows):")
    for cause, candidate in report.examples.items():
        label = EXAMPLE_LABELS.get(cause, cause)
        if candidate is None:
            click.echo(f"  {label:<26} (none in this load)")
        else:
            when = "upcoming" if candidate.appointment_at > world.now else "past"
            click.echo(f"  {label:<26} {candidate.practice_id:<22} {candidate.reference}  ({when} appointment)  "
                       f"/console/practices/{candidate.practice_id}?booking={candidate.reference}")
    click.echo("  (API: GET /api/v1/practices/<practice>/bookings/<reference>/diagnosis)")


def _progress(bookings: int, events: int, seconds: float) -> None:
    print(f"  ... {bookings:,} bookings, {events:,} events, {seconds:.0f} s ({events / seconds:,.0f} events/s)",
          file=sys.stderr, flush=True)


def demo_group() -> AppGroup:
    group = AppGroup("demo", help="The demo world: practices, bookings and every failure mode.")

    @group.command("load")
    @click.option("--bookings", type=click.IntRange(min=0), default=DEFAULT_BOOKINGS, show_default=True,
                  help="How many bookings to generate over the last 90 days.")
    @click.option("--seed", type=int, default=DEFAULT_SEED, show_default=True,
                  help="Random seed: the same seed gives the same world (relative to now).")
    @click.option("--if-empty", is_flag=True, help="Do nothing if any practice exists already.")
    @click.option("--big-practice-share", type=click.FloatRange(0.0, 0.9), default=BIG_PRACTICE_SHARE,
                  show_default=True, help="Share of the bookings held by the first (big) practice.")
    @click.option("--batch-size", type=click.IntRange(1, 5000), default=DEFAULT_BATCH, show_default=True,
                  help="Events per ingest batch (one transaction each).")
    @click.option("--quiet", is_flag=True, help="No progress lines on stderr.")
    def load(bookings: int, seed: int, if_empty: bool, big_practice_share: float, batch_size: int,
             quiet: bool) -> None:
        """Generate the demo world and feed it through the ingest service."""
        session = db.session()
        if if_empty and session.scalar(select(func.count()).select_from(Practice)):
            session.rollback()
            click.echo("The database already holds practices: demo not loaded (--if-empty). "
                       "`flask --app wsgi demo logins` prints fresh demo logins.")
            return
        world = DemoWorld(bookings=bookings, seed=seed, big_share=big_practice_share)
        report = load_world(session, world, batch_size, progress=None if quiet else _progress)
        print_world(report, world)
        from kb.service import (
            import_folder,  # the Help Center's articles (kb/content); idempotent
        )
        from kb.transfer import CONTENT_FOLDER

        articles = import_folder(session, CONTENT_FOLDER, None)
        session.commit()
        click.echo(f"Help Center articles (kb/content): {articles.summary()}.")
        agent, password, token = ensure_demo_agent(session)
        from helpdesk.bookings.demo_support import load_support

        support = load_support(session, agent, utcnow())
        session.commit()
        click.echo(f"Support history: {support.requests} requests and {support.chats} chats "
                   "(none when the helpdesk already had some).")
        print_logins(agent, password, token, world.practices[0].id)

    @group.command("logins")
    def logins() -> None:
        """Issue a new password and API token for the demo agent and print the demo secrets."""
        session = db.session()
        agent, password, token = reset_demo_logins(session)
        practice_id = session.scalar(select(Practice.id).order_by(Practice.id != PRACTICES[0].id).limit(1))
        print_logins(agent, password, token, practice_id)

    return group
