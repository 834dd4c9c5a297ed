"""Incidents the helpdesk opens by itself, and closes by itself when the cause clears.

Kinds:

- ``connector_offline`` / ``connector_silent``: a practice's connector reported a lost connection,
  or stopped sending heartbeats, for more than ``INCIDENT_CONNECTOR_MINUTES`` of *opening time*
  (``helpdesk.bookings.hours``). Silence sends no event, so a periodic sweep (``sweep``: the
  server's background loop and ``flask --app wsgi incidents sweep``) finds these. A connector that
  is quiet while its practice is closed opens nothing. Resolved when it is back (a heartbeat or a
  ``connector.connection_restored``).
- ``failed_inserts``: a burst of failed diary inserts at one practice (``INCIDENT_FAILED_INSERTS``
  within ``INCIDENT_FAILED_WINDOW_MINUTES``). Resolved when an insert succeeds again.
- ``platform``: failures at ``INCIDENT_PLATFORM_PRACTICES`` or more practices on the same PMS
  software within the window: one incident listing them all; their practice-level incidents are
  merged into it. Resolved when every listed practice inserts again.

Detection at ingest (``detect_after_ingest``) costs a few indexed queries, and only for batches
that hold connector or diary events. ``open_key`` (unique while open) keeps two detectors, in two
processes, from opening the same incident twice. The backlog of an incident is computed when read:
the bookings made at its practices while it lasted that are still not in the diary.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from blinker import Namespace
from flask import current_app, has_app_context
from sqlalchemy import and_, bindparam, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from helpdesk.bookings import hours as hours_mod
from helpdesk.bookings.models import (
    Booking,
    ClosedDay,
    Incident,
    IncidentEntry,
    IncidentPractice,
    IntegrationEvent,
    Practice,
)
from helpdesk.bookings.presenters import patient_view
from helpdesk.core.clock import utcnow
from helpdesk.core.db import any_of

log = logging.getLogger(__name__)
signals = Namespace()
# Sent after the change is committed, with ``incident_ids``: chat pushes ``incident`` events.
incident_changed = signals.signal("incident-changed")
CONNECTOR_KINDS = ("connector_offline", "connector_silent")
DEFAULTS = {
    "INCIDENT_CONNECTOR_MINUTES": 15,
    "INCIDENT_FAILED_INSERTS": 3,
    "INCIDENT_FAILED_WINDOW_MINUTES": 60,
    "INCIDENT_PLATFORM_PRACTICES": 5,
}
PENDING_KEY = "incidents_changed"
IN_DIARY = ("inserted", "sidebar_transferred")


def setting(name: str, config: Mapping[str, Any] | None = None) -> int:
    if config is None and has_app_context():
        config = current_app.config
    return int((config or {}).get(name, DEFAULTS[name]))


def _changed(session: Session, incident: Incident) -> None:
    session.flush()
    session.info.setdefault(PENDING_KEY, set()).add(incident.id)


def take_changed(session: Session) -> set[int]:
    """The incidents changed in this session since the last call (to announce after a commit)."""
    return set(session.info.pop(PENDING_KEY, set()))


def announce(app: Any, session: Session) -> None:
    """After a commit: tell listeners (chat's Socket.IO) which incidents changed."""
    ids = take_changed(session)
    if ids:
        try:
            incident_changed.send(app, incident_ids=sorted(ids))
        except Exception:
            log.exception("could not announce incidents %s", sorted(ids))


# --- opening and closing ----------------------------------------------------------------------

def _entry(session: Session, incident: Incident, at: datetime, kind: str, text: str,
           practice_id: str | None = None, agent_id: int | None = None) -> None:
    session.add(IncidentEntry(incident_id=incident.id, at=at, kind=kind, text=text,
                              practice_id=practice_id, agent_id=agent_id))


def _title(kind: str, practice: Practice | None, software: str | None = None) -> str:
    name = practice.name if practice is not None else ""
    return {
        "connector_offline": f"{name}: the connector is offline",
        "connector_silent": f"{name}: the connector has gone silent",
        "failed_inserts": f"{name}: diary inserts are failing",
        "platform": f"{software or 'Practice software'}: diary inserts failing at several practices",
    }[kind]


def _open(session: Session, kind: str, key: str, started_at: datetime, practices: Sequence[Practice],
          text: str, software: str | None = None) -> Incident | None:
    """Open an incident unless one with ``key`` is open (here or in another process)."""
    if session.scalar(select(Incident.id).where(Incident.open_key == key)) is not None:
        return None
    incident = Incident(kind=kind, state="open", open_key=key, pms_software=software, started_at=started_at,
                        title=_title(kind, practices[0] if practices and kind != "platform" else None, software))
    try:
        with session.begin_nested():
            session.add(incident)
            session.flush()
    except IntegrityError:
        return None  # another detector opened it first
    _entry(session, incident, started_at, "opened", text)
    for practice in practices:
        session.add(IncidentPractice(incident_id=incident.id, practice_id=practice.id, joined_at=started_at))
    _changed(session, incident)
    return incident


def resolve(session: Session, incident: Incident, at: datetime, text: str, merged_into: Incident | None = None) -> None:
    if incident.state != "open":
        return
    incident.state = "resolved"
    incident.resolved_at = max(at, incident.started_at)
    incident.open_key = None
    if merged_into is not None:
        incident.merged_into_id = merged_into.id
    session.flush()
    backlog = len(backlog_rows(session, incident, reveal=False))
    _entry(session, incident, incident.resolved_at, "resolved",
           text + (f" {backlog} booking(s) made during it still need a hand transfer." if backlog else ""))
    _changed(session, incident)


# What every ingest batch with diary outcomes asks, built once (building them was half of the
# detection's cost).
_OPEN_INCIDENTS = (select(IncidentPractice.practice_id, Incident)
                   .join(Incident, Incident.id == IncidentPractice.incident_id).where(Incident.state == "open"))
_PRACTICES = select(Practice).where(any_of(Practice.id, "ids"))
_FAILING_ON_SOFTWARE = select(Practice).where(
    Practice.id.in_(select(IntegrationEvent.practice_id).where(
        IntegrationEvent.kind == "diary_failed", IntegrationEvent.occurred_at >= bindparam("since")).distinct()),
    any_of(Practice.pms_software, "softwares"),
).order_by(Practice.id)
_RECENT_FAILURES = (select(IntegrationEvent.practice_id, func.count())
                    .where(any_of(IntegrationEvent.practice_id, "ids"), IntegrationEvent.kind == "diary_failed",
                           IntegrationEvent.occurred_at >= bindparam("since"))
                    .group_by(IntegrationEvent.practice_id))


def _open_incidents(session: Session, practice_ids: Iterable[str]) -> list[tuple[str, Incident]]:
    """Open incidents of these practices. Open incidents are few: read them all (one index range), then filter."""
    ids = set(practice_ids)
    if not ids:
        return []
    rows = session.execute(_OPEN_INCIDENTS).all()
    return [(r[0], r[1]) for r in rows if r[0] in ids]


# --- at ingest --------------------------------------------------------------------------------

def detect_after_ingest(session: Session, events: Sequence[Any]) -> None:
    """Open or resolve incidents from a stored batch (``helpdesk.bookings.ingest``)."""
    if has_app_context() and not current_app.config.get("INCIDENT_DETECT_AT_INGEST", True):
        return  # measured off (bench/at_risk.py); the sweep still finds silent connectors
    failed: dict[str, datetime] = {}
    inserted: dict[str, datetime] = {}
    back: dict[str, datetime] = {}
    for event in events:
        kind, pid, at = event.type, event.practice_id, event.occurred_at
        if kind == "diary.failed":
            failed[pid] = max(at, failed.get(pid, at))
        elif kind == "diary.inserted":
            inserted[pid] = max(at, inserted.get(pid, at))
        elif kind in ("connector.heartbeat", "connector.connection_restored"):
            back[pid] = max(at, back.get(pid, at))
    if not (failed or inserted or back):
        return
    open_rows = _open_incidents(session, failed.keys() | inserted.keys() | back.keys())
    if open_rows or inserted or back:
        _recoveries(session, open_rows, inserted, back, failed)
    if failed:
        _failures(session, failed)


def _recoveries(session: Session, open_rows: Sequence[tuple[str, Incident]], inserted: Mapping[str, datetime],
                back: Mapping[str, datetime], failed: Mapping[str, datetime]) -> None:
    for pid, incident in open_rows:
        if incident.state != "open":
            continue
        if incident.kind in CONNECTOR_KINDS and pid in back:
            practice = session.get(Practice, pid)
            if practice is not None and practice.connector_online is not False:
                resolve(session, incident, back[pid], "The connector is back online.")
        elif incident.kind == "failed_inserts" and pid in inserted:
            if pid not in failed or failed[pid] < inserted[pid]:
                resolve(session, incident, inserted[pid], "Diary inserts are succeeding again.")
        elif incident.kind == "platform" and pid in inserted and (pid not in failed or failed[pid] < inserted[pid]):
            link = session.scalar(select(IncidentPractice).where(
                IncidentPractice.incident_id == incident.id, IncidentPractice.practice_id == pid))
            if link is not None and link.recovered_at is None:
                link.recovered_at = inserted[pid]
                _entry(session, incident, inserted[pid], "recovered", f"Inserts succeed again at {pid}.", pid)
                _changed(session, incident)
                remaining = session.scalar(select(func.count()).select_from(IncidentPractice).where(
                    IncidentPractice.incident_id == incident.id, IncidentPractice.recovered_at.is_(None)))
                if not remaining:
                    resolve(session, incident, inserted[pid], "Diary inserts are succeeding again at every practice.")


def _failures(session: Session, failed: Mapping[str, datetime]) -> None:
    window = timedelta(minutes=setting("INCIDENT_FAILED_WINDOW_MINUTES"))
    burst = setting("INCIDENT_FAILED_INSERTS")
    platform_min = setting("INCIDENT_PLATFORM_PRACTICES")
    latest = max(failed.values())
    since = latest - window
    practices = {p.id: p for p in session.scalars(_PRACTICES, {"ids": list(failed)})}
    # Platform first: many practices on one software failing inside the window.
    in_platform: set[str] = set()
    softwares = sorted({p.pms_software for p in practices.values() if p.pms_software})
    # Every practice with a failure in the window, by software: a range scan of recent failures only.
    recent: dict[str, list[Practice]] = {}
    if softwares:
        for practice in session.scalars(_FAILING_ON_SOFTWARE, {"since": since, "softwares": softwares}):
            recent.setdefault(practice.pms_software or "", []).append(practice)
    for software in softwares:
        failing = recent.get(software, [])
        if len(failing) < platform_min:
            continue
        in_platform.update(p.id for p in failing)
        _platform(session, software, failing, since, latest)
    counts = dict(session.execute(
        _RECENT_FAILURES, {"ids": [pid for pid in failed if pid not in in_platform], "since": since}
    ).all()) if set(failed) - in_platform else {}
    for pid, count in counts.items():
        if count >= burst and pid in practices:
            first = session.scalar(select(func.min(IntegrationEvent.occurred_at)).where(
                IntegrationEvent.practice_id == pid, IntegrationEvent.kind == "diary_failed",
                IntegrationEvent.occurred_at >= since))
            _open(session, "failed_inserts", f"failed_inserts:{pid}", first or failed[pid], [practices[pid]],
                  f"{count} diary inserts failed within {int(window.total_seconds() // 60)} minutes.")


def _platform(session: Session, software: str, failing: Sequence[Practice], since: datetime, at: datetime) -> None:
    key = f"platform:{software}"
    incident = session.scalar(select(Incident).where(Incident.open_key == key))
    if incident is None:
        first = session.scalar(select(func.min(IntegrationEvent.occurred_at)).where(
            IntegrationEvent.practice_id.in_([p.id for p in failing]), IntegrationEvent.kind == "diary_failed",
            IntegrationEvent.occurred_at >= since))
        incident = _open(session, "platform", key, first or at, failing,
                         f"Diary inserts failing at {len(failing)} practices on {software}.", software)
        if incident is None:
            return
    else:
        linked = set(session.scalars(select(IncidentPractice.practice_id).where(IncidentPractice.incident_id == incident.id)))
        for practice in failing:
            if practice.id not in linked:
                session.add(IncidentPractice(incident_id=incident.id, practice_id=practice.id, joined_at=at))
                _entry(session, incident, at, "practice_added", f"{practice.name} is affected too.", practice.id)
                _changed(session, incident)
    # Their practice-level failure incidents are the same outage: fold them in.
    for pid, other in _open_incidents(session, [p.id for p in failing]):
        if other.id != incident.id and other.kind == "failed_inserts":
            resolve(session, other, at, f"Merged into the platform incident #{incident.id}.", merged_into=incident)


# --- the sweep (silence sends no event) -------------------------------------------------------

def _closed_days(session: Session, practice_ids: Sequence[str], now: datetime) -> dict[str, set[Any]]:
    out: dict[str, set[Any]] = {}
    if not practice_ids:
        return out
    low, high = (now - timedelta(days=15)).date(), (now + timedelta(days=2)).date()
    for pid, day in session.execute(
        select(ClosedDay.practice_id, ClosedDay.day)
        .where(ClosedDay.practice_id.in_(list(practice_ids)), ClosedDay.day.between(low, high))
    ):
        out.setdefault(pid, set()).add(day)
    return out


def sweep(session: Session, now: datetime | None = None, config: Mapping[str, Any] | None = None) -> dict[str, int]:
    """Open connector incidents for connectors offline or silent through opening hours; resolve recovered ones."""
    now = now or utcnow()
    quiet_for = timedelta(minutes=setting("INCIDENT_CONNECTOR_MINUTES", config))
    report = {"opened": 0, "resolved": 0, "checked": 0}
    suspects = list(session.scalars(
        select(Practice).where(
            Practice.integration_mode == "integrated", Practice.profile_known.is_(True),
            or_(Practice.connector_online.is_(False),
                and_(Practice.connector_last_heartbeat_at.is_not(None),
                     Practice.connector_last_heartbeat_at < now - quiet_for)),
        )
    ))
    closed = _closed_days(session, [p.id for p in suspects], now)
    already = {(pid, inc.kind) for pid, inc in _open_incidents(session, [p.id for p in suspects])}
    for practice in suspects:
        report["checked"] += 1
        offline = practice.connector_online is False
        since = (practice.connector_state_since if offline else practice.connector_last_heartbeat_at) or now
        kind = "connector_offline" if offline else "connector_silent"
        if any((practice.id, k) in already for k in CONNECTOR_KINDS):
            continue
        calendar = hours_mod.hours_for(practice, closed.get(practice.id, ()))
        if not calendar.is_open(now) or calendar.open_time_between(since, now) <= quiet_for:
            continue
        minutes = int(calendar.open_time_between(since, now).total_seconds() // 60)
        what = "offline" if offline else "silent (no heartbeat)"
        if _open(session, kind, f"connector:{practice.id}", since, [practice],
                 f"The connector has been {what} for {minutes} minutes of opening hours.") is not None:
            report["opened"] += 1
    # A connector back without a heartbeat in a batch we saw (e.g. state fixed by a late event).
    for pid, incident in _open_incidents_of_kinds(session, CONNECTOR_KINDS):
        practice = session.get(Practice, pid)
        if practice is None:
            continue
        beat = practice.connector_last_heartbeat_at
        if practice.connector_online is not False and beat is not None and now - beat <= quiet_for \
                and beat >= incident.started_at:
            resolve(session, incident, beat, "The connector is back online.")
            report["resolved"] += 1
    return report


def _open_incidents_of_kinds(session: Session, kinds: Sequence[str]) -> list[tuple[str, Incident]]:
    rows = session.execute(
        select(IncidentPractice.practice_id, Incident)
        .join(Incident, Incident.id == IncidentPractice.incident_id)
        .where(Incident.state == "open", Incident.kind.in_(kinds))
    ).all()
    return [(r[0], r[1]) for r in rows]


# --- reading ----------------------------------------------------------------------------------

def practices_of(session: Session, incident: Incident) -> list[tuple[IncidentPractice, Practice]]:
    return [(link, practice) for link, practice in session.execute(
        select(IncidentPractice, Practice).join(Practice, Practice.id == IncidentPractice.practice_id)
        .where(IncidentPractice.incident_id == incident.id).order_by(Practice.name_key, Practice.id)
    ).all()]


def backlog_rows(session: Session, incident: Incident, reveal: bool = False, limit: int = 500) -> list[dict[str, Any]]:
    """Bookings made at its practices while it lasted that still need a hand transfer."""
    end = incident.resolved_at or utcnow()
    ids = list(session.scalars(select(IncidentPractice.practice_id).where(IncidentPractice.incident_id == incident.id)))
    if not ids:
        return []
    rows = session.scalars(
        select(Booking).where(
            Booking.practice_id.in_(ids), Booking.created_at >= incident.started_at, Booking.created_at <= end,
            Booking.diary_status.notin_(IN_DIARY), Booking.cancelled_at.is_(None),
        ).order_by(Booking.appointment_at, Booking.id).limit(limit)
    )
    return [{
        "practice_id": b.practice_id, "reference": b.reference, "created_at": b.created_at.isoformat(),
        "appointment_at": b.appointment_at.isoformat(), "diary_status": b.diary_status,
        "patient": patient_view(b, reveal),
    } for b in rows]


def incident_summary(session: Session, incident: Incident) -> dict[str, Any]:
    practices = practices_of(session, incident)
    return {
        "id": incident.id,
        "kind": incident.kind,
        "state": incident.state,
        "title": incident.title,
        "pms_software": incident.pms_software,
        "started_at": incident.started_at.isoformat(),
        "resolved_at": incident.resolved_at.isoformat() if incident.resolved_at else None,
        "merged_into": incident.merged_into_id,
        "practices": [{"id": p.id, "name": p.name, "timezone": p.timezone, "joined_at": link.joined_at.isoformat(),
                       "recovered_at": link.recovered_at.isoformat() if link.recovered_at else None}
                      for link, p in practices],
    }


def incident_detail(session: Session, incident: Incident, reveal: bool = False) -> dict[str, Any]:
    timeline = session.scalars(select(IncidentEntry).where(IncidentEntry.incident_id == incident.id)
                               .order_by(IncidentEntry.at, IncidentEntry.id))
    return {
        **incident_summary(session, incident),
        "backlog": backlog_rows(session, incident, reveal),
        "timeline": [{"at": e.at.isoformat(), "kind": e.kind, "text": e.text, "practice_id": e.practice_id,
                      "agent_id": e.agent_id} for e in timeline],
    }


def list_incidents(session: Session, state: str | None, limit: int = 100) -> list[Incident]:
    query = select(Incident)
    if state:
        query = query.where(Incident.state == state)
    return list(session.scalars(query.order_by(Incident.started_at.desc(), Incident.id.desc()).limit(limit)))


def open_incident_count(session: Session, _agent: object = None) -> int:
    """Incidents open now (one merged into a platform incident is resolved: it counts once, as that one)."""
    return session.scalar(select(func.count()).select_from(Incident).where(Incident.state == "open")) or 0


def open_incident_for(session: Session, practice_id: str) -> Incident | None:
    """The practice's current open incident (the newest), for the widget banner."""
    rows = [inc for pid, inc in _open_incidents(session, [practice_id])]
    return max(rows, key=lambda i: (i.started_at, i.id)) if rows else None


def latest_incident_for(session: Session, practice_id: str) -> Incident | None:
    return session.scalar(
        select(Incident).join(IncidentPractice, IncidentPractice.incident_id == Incident.id)
        .where(IncidentPractice.practice_id == practice_id, Incident.merged_into_id.is_(None))
        .order_by(Incident.started_at.desc(), Incident.id.desc()).limit(1)
    )


def add_update(session: Session, incident: Incident, agent_id: int, text: str, now: datetime) -> None:
    _entry(session, incident, now, "update", text, agent_id=agent_id)
    _changed(session, incident)


def banner_for(session: Session, practice: Practice, now: datetime) -> dict[str, Any] | None:
    """The widget banner: the practice's open incident, or the latest one resolved in the last day.

    Times in the practice's zone; only this practice is named (never the others of a platform incident).
    """
    incident = open_incident_for(session, practice.id) or latest_incident_for(session, practice.id)
    if incident is None:
        return None
    if incident.state == "resolved" and (incident.resolved_at is None or now - incident.resolved_at > timedelta(days=1)):
        return None
    summary = incident_summary(session, incident)
    tz = hours_mod.zone(practice.timezone or "UTC")
    summary["started_local"] = incident.started_at.astimezone(tz).strftime("%a %d %b %H:%M")
    summary["resolved_local"] = incident.resolved_at.astimezone(tz).strftime("%a %d %b %H:%M") if incident.resolved_at else None
    summary["timezone"] = practice.timezone
    summary["practices"] = [p for p in summary["practices"] if p["id"] == practice.id]
    if incident.kind == "platform":
        summary["title"] = f"{incident.pms_software or 'Your practice software'}: diary inserts are failing"
    return summary
