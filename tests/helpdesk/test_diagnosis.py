"""The diagnosis rules, judged on hand-built cases: every cause code, and the evidence behind it."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from helpdesk.bookings.diagnosis import (
    Alert,
    BookingRecord,
    Case,
    Fact,
    Outage,
    Settings,
    diagnose,
    project,
)

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=timezone.utc)
NOW = T0 + timedelta(days=2)


def settings(**overrides: object) -> Settings:
    values: dict[str, object] = {
        "effective_at": T0 - timedelta(days=30),
        "integration_mode": "integrated",
        "pms_software": "DentaDesk",
        "booking_emails": ("front@clinic.test",),
        "alert_emails": ("manager@clinic.test",),
        "collision_alerts": True,
        "connection_alerts": True,
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def delivered() -> list[Fact]:
    return [Fact("email", "sent", at(1), recipient="front@clinic.test"),
            Fact("email", "delivered", at(2), recipient="front@clinic.test")]


def inserted() -> list[Fact]:
    return [Fact("diary", "inserted", at(1), pms_appointment_id="A-1")]


def case(facts: list[Fact], history: list[Settings] | None = None, outages: list[Outage] | None = None,
         alerts: list[Alert] | None = None, appointment_in_days: int = 5) -> Case:
    booking = BookingRecord("BK-1", T0, T0 + timedelta(days=appointment_in_days), "Dr Okafor", "Check-up",
                            "Jane", "Smith")
    return Case(booking, facts, history if history is not None else [settings()], NOW,
                outages or [], alerts or [])


def test_a_booking_that_reached_every_channel_has_no_causes() -> None:
    verdict = diagnose(case(delivered() + inserted()))
    assert verdict["received_ways"] == 3
    assert verdict["causes"] == []
    assert verdict["channels"]["email"]["status"] == "delivered"
    assert verdict["channels"]["diary"]["status"] == "inserted"
    assert verdict["channels"]["diary"]["pms_appointment_id"] == "A-1"
    assert verdict["summary"].startswith("Received 3 of 3 ways")


def test_sent_counts_as_received_by_email() -> None:
    verdict = diagnose(case([Fact("email", "sent", at(1), recipient="front@clinic.test")] + inserted()))
    assert verdict["channels"]["email"] == {**verdict["channels"]["email"], "status": "sent", "received": True}
    assert verdict["received_ways"] == 3


def test_collision_with_its_alert_names_who_was_told() -> None:
    failure = Fact("diary", "failed", at(1), reason="collision", detail="slot taken by appointment 991")
    alert = Alert("collision", "manager@clinic.test", at(3), "BK-1")
    other = Alert("collision", "manager@clinic.test", at(4), "BK-2")
    verdict = diagnose(case(delivered() + [failure], alerts=[alert, other]))
    assert verdict["causes"] == ["diary_collision"]
    assert verdict["received_ways"] == 2
    assert verdict["practice_alerted"] == [
        {"kind": "collision", "recipient": "manager@clinic.test", "at": at(3).isoformat(), "reference": "BK-1"}
    ]
    assert verdict["channels"]["diary"]["detail"] == "slot taken by appointment 991"
    codes = [a["code"] for a in verdict["actions"]]
    assert codes[:2] == ["accommodate_patient", "resolve_collision"]
    assert verdict["summary"] == ("Received 2 of 3 ways: the bookings list and email; not by the diary "
                                  "(booking collision: the slot was already taken in the diary).")


def test_collision_without_alert_while_allowed_is_escalated() -> None:
    failure = Fact("diary", "failed", at(1), reason="collision")
    verdict = diagnose(case(delivered() + [failure], alerts=[Alert("collision", "m@clinic.test", at(2), "BK-9")]))
    assert verdict["causes"] == ["diary_collision", "alert_not_sent"]
    assert verdict["practice_alerted"] == []
    assert "escalate" in [a["code"] for a in verdict["actions"]]


def test_collision_alerts_turned_off_at_failure_time() -> None:
    history = [settings(), settings(effective_at=at(-10), collision_alerts=False)]
    verdict = diagnose(case(delivered() + [Fact("diary", "failed", at(1), reason="collision")], history=history))
    assert verdict["causes"] == ["diary_collision", "alerts_disabled"]
    assert "turn_alerts_on" in [a["code"] for a in verdict["actions"]]


def test_alerts_judged_by_settings_at_failure_not_today() -> None:
    """Alerts were on when the insert failed; switching them off later does not excuse a missing alert."""
    history = [settings(), settings(effective_at=at(60), collision_alerts=False)]
    verdict = diagnose(case(delivered() + [Fact("diary", "failed", at(1), reason="collision")], history=history))
    assert verdict["causes"] == ["diary_collision", "alert_not_sent"]


def test_no_address_for_alerts_counts_as_alerts_disabled() -> None:
    history = [settings(booking_emails=(), alert_emails=())]
    verdict = diagnose(case([Fact("diary", "failed", at(1), reason="collision")], history=history))
    assert verdict["causes"] == ["email_not_configured", "diary_collision", "alerts_disabled"]


def test_connection_lost_alert_covers_the_outage_the_booking_fell_in() -> None:
    outage = Outage(at(-30), at(90))
    failure = Fact("diary", "failed", at(5), reason="connection_lost")
    during = Alert("connection_lost", "manager@clinic.test", at(-20))
    before = Alert("connection_lost", "manager@clinic.test", at(-300))
    verdict = diagnose(case(delivered() + [failure], outages=[outage], alerts=[before, during]))
    assert verdict["causes"] == ["diary_connection_lost"]
    assert [a["at"] for a in verdict["practice_alerted"]] == [at(-20).isoformat()]
    diary = verdict["channels"]["diary"]
    assert diary["connector_offline_at_booking"] is True
    assert diary["connector_offline_since"] == at(-30).isoformat()
    assert "restore_connector" in [a["code"] for a in verdict["actions"]]


def test_connection_lost_without_alert() -> None:
    failure = Fact("diary", "failed", at(5), reason="connection_lost")
    alert_elsewhere = Alert("connection_lost", "manager@clinic.test", at(-3000))
    verdict = diagnose(case(delivered() + [failure], outages=[Outage(at(-30), at(90))], alerts=[alert_elsewhere]))
    assert verdict["causes"] == ["diary_connection_lost", "alert_not_sent"]


def test_connection_alerts_disabled() -> None:
    failure = Fact("diary", "failed", at(5), reason="connection_lost")
    verdict = diagnose(case(delivered() + [failure], history=[settings(connection_alerts=False)],
                            outages=[Outage(at(-30), None)]))
    assert verdict["causes"] == ["diary_connection_lost", "alerts_disabled"]


@pytest.mark.parametrize("reason", ["patient_match", "rejected"])
def test_other_insert_failures_have_their_cause(reason: str) -> None:
    verdict = diagnose(case(delivered() + [Fact("diary", "failed", at(1), reason=reason, detail="PMS said no")]))
    assert verdict["causes"] == [f"diary_{reason}"]
    assert verdict["channels"]["diary"]["status"] == reason
    assert verdict["received_ways"] == 2


def test_insert_retried_after_a_failure_counts_as_inserted() -> None:
    facts = delivered() + [Fact("diary", "failed", at(1), reason="collision"), Fact("diary", "inserted", at(9))]
    verdict = diagnose(case(facts))
    assert verdict["causes"] == []
    assert verdict["received_ways"] == 3
    assert [h["outcome"] for h in verdict["channels"]["diary"]["history"]] == ["failed", "inserted"]


def test_booking_made_while_connector_offline_is_pending() -> None:
    verdict = diagnose(case(delivered(), outages=[Outage(at(-60), None)],
                            alerts=[Alert("connection_lost", "manager@clinic.test", at(-50))]))
    assert verdict["causes"] == ["diary_pending"]
    assert verdict["channels"]["diary"]["status"] == "pending"
    assert verdict["channels"]["diary"]["connector_offline_since"] == at(-60).isoformat()
    assert "restore_connector" in [a["code"] for a in verdict["actions"]]


def test_no_outcome_while_online_is_pending_and_says_wait() -> None:
    verdict = diagnose(case(delivered()))
    assert verdict["causes"] == ["diary_pending"]
    assert "wait_for_insert" in [a["code"] for a in verdict["actions"]]


def test_sidebar_alert_not_yet_transferred() -> None:
    history = [settings(integration_mode="sidebar", pms_software=None)]
    verdict = diagnose(case(delivered() + [Fact("sidebar", "alerted", at(1))], history=history))
    assert verdict["causes"] == ["sidebar_transfer_pending"]
    assert verdict["received_ways"] == 3
    assert verdict["channels"]["diary"]["mode"] == "sidebar"
    assert "transfer_by_hand" in [a["code"] for a in verdict["actions"]]


def test_sidebar_transferred_is_done() -> None:
    facts = delivered() + [Fact("sidebar", "alerted", at(1)), Fact("sidebar", "transferred", at(30))]
    verdict = diagnose(case(facts, history=[settings(integration_mode="sidebar")]))
    assert verdict["causes"] == []
    assert verdict["channels"]["diary"]["status"] == "sidebar_transferred"


def test_email_not_configured_at_booking_time_even_if_fixed_since() -> None:
    history = [settings(booking_emails=()), settings(effective_at=at(60))]
    verdict = diagnose(case(inserted(), history=history))
    assert verdict["causes"] == ["email_not_configured"]
    assert verdict["channels"]["email"]["status"] == "not_configured"
    assert verdict["channels"]["email"]["configured_recipients"] == []
    assert "set_booking_email" in [a["code"] for a in verdict["actions"]]


def test_email_bounced_names_the_address() -> None:
    facts = [Fact("email", "sent", at(1), recipient="old@clinic.test"),
             Fact("email", "bounced", at(2), recipient="old@clinic.test", detail="550 mailbox unknown")] + inserted()
    verdict = diagnose(case(facts))
    assert verdict["causes"] == ["email_bounced"]
    assert verdict["channels"]["email"]["recipients"] == [
        {"address": "old@clinic.test", "status": "bounced", "at": at(2).isoformat(), "detail": "550 mailbox unknown"}
    ]
    fix = next(a for a in verdict["actions"] if a["code"] == "fix_booking_email")
    assert "old@clinic.test" in fix["text"]


def test_email_failed() -> None:
    verdict = diagnose(case([Fact("email", "failed", at(1), recipient="front@clinic.test")] + inserted()))
    assert verdict["causes"] == ["email_failed"]


def test_one_delivered_recipient_is_enough() -> None:
    facts = [Fact("email", "bounced", at(1), recipient="a@clinic.test"),
             Fact("email", "delivered", at(1), recipient="b@clinic.test")] + inserted()
    assert diagnose(case(facts))["channels"]["email"]["status"] == "delivered"


def test_out_of_order_email_outcomes_converge() -> None:
    """A delivery reported before its "sent" still ends delivered; a later bounce wins."""
    sent, delivered_ = Fact("email", "sent", at(1), recipient="x@c.test"), Fact("email", "delivered", at(2), recipient="x@c.test")
    bounced = Fact("email", "bounced", at(5), recipient="x@c.test")
    record = case([]).booking
    history = [settings()]
    assert project(record, [delivered_, sent], history).email_status == "delivered"
    assert project(record, [bounced, delivered_, sent], history).email_status == "bounced"
    assert project(record, [sent, bounced, delivered_], history) == project(record, [bounced, sent, delivered_], history)


def test_cancelled_booking_says_so_and_needs_no_diary_action() -> None:
    facts = delivered() + [Fact("diary", "failed", at(1), reason="rejected"), Fact("booking", "cancelled", at(40))]
    verdict = diagnose(case(facts, alerts=[]))
    assert verdict["cancelled"] is True
    assert verdict["channels"]["bookings_list"]["status"] == "cancelled"
    assert verdict["actions"][0]["code"] == "none_cancelled"
    assert "accommodate_patient" not in [a["code"] for a in verdict["actions"]]


def test_unknown_settings_never_claim_email_not_configured() -> None:
    verdict = diagnose(case(inserted(), history=[]))
    assert verdict["channels"]["email"]["status"] == "pending"
    assert verdict["causes"] == []


def test_articles_follow_causes() -> None:
    verdict = diagnose(case([Fact("diary", "failed", at(1), reason="collision")]))
    assert [a["key"] for a in verdict["articles"]] == verdict["causes"]



def test_actions_give_the_appointment_in_the_practices_time_zone() -> None:
    booking = BookingRecord("BK-1", T0, datetime(2026, 7, 1, 8, 30, tzinfo=timezone.utc))
    verdict = diagnose(Case(booking, [Fact("diary", "failed", at(1), reason="rejected")], [settings()], NOW,
                            timezone="Europe/London"))
    accommodate = next(a for a in verdict["actions"] if a["code"] == "accommodate_patient")
    assert "01 Jul 2026 09:30 BST" in accommodate["text"]
