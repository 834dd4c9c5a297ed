"""The header search: each kind of match, by API and service, with audit and tenancy."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from helpdesk.core.agents import NewAgent
from helpdesk.core.audit import AuditEntry
from helpdesk.core.errors import BadInput
from helpdesk.requests.models import Request
from helpdesk.workspace import search as service
from tests.helpdesk.console_world import practice_world


@pytest.fixture
def world(ingest: Callable[..., Any]) -> None:
    ingest(*practice_world("P1", "Riverside Dental", "BK"))
    ingest(*practice_world("P2", "Harbour Dental", "HB", booking_emails=["desk@harbour.test"],
                           alert_emails=["Boss@Harbour.test"]))


def search(client: FlaskClient, headers: dict[str, str], q: str, expect: int = 200) -> Any:
    response = client.get("/api/v1/search", query_string={"q": q}, headers=headers)
    assert response.status_code == expect, response.get_json()
    return response.get_json()


def kinds(body: Any) -> list[tuple[str, str, str | None]]:
    return [(r["kind"], r["id"], r["practice_id"]) for r in body["results"]]


def audits(db_session: Session) -> list[tuple[str, str | None, str | None]]:
    rows = db_session.scalars(select(AuditEntry).where(AuditEntry.action == "search_bookings").order_by(AuditEntry.id))
    return [(a.action, a.practice_id, a.target) for a in rows]


def test_a_booking_reference_finds_the_booking_in_its_practice_and_is_audited(
        client: FlaskClient, world: None, agent_headers: dict[str, str], db_session: Session) -> None:
    body = search(client, agent_headers, "hb-2")
    assert kinds(body) == [("booking", "HB-2", "P2")]
    result = body["results"][0]
    assert result["url"] == "/console/practices/P2?booking=HB-2"
    assert result["title"] == "HB-2 · O. Ha…"  # the patient's name stays masked
    assert "Haddad" not in str(body)
    assert audits(db_session) == [("search_bookings", "P2", "hb-2")]


def test_a_reference_prefix_lists_every_match(client: FlaskClient, world: None, agent_headers: dict[str, str]) -> None:
    assert kinds(search(client, agent_headers, "BK-")) == [("booking", f"BK-{n}", "P1") for n in (1, 2, 3)]


def test_a_patient_name_finds_bookings_across_practices(client: FlaskClient, world: None, agent_headers: dict[str, str],
                                                        db_session: Session) -> None:
    for q in ("smith", "Jane Smith", "Smith Jane", "SMÍTH"):
        body = search(client, agent_headers, q)
        assert sorted(kinds(body)) == [("patient", "BK-1", "P1"), ("patient", "HB-1", "P2")], q
    assert {pid for _, pid, _ in audits(db_session)} == {"P1", "P2"}
    assert search(client, agent_headers, "Wo")["results"][0]["url"].endswith("?booking=") is False


def test_practices_by_name_or_id(client: FlaskClient, world: None, agent_headers: dict[str, str],
                                 db_session: Session) -> None:
    assert kinds(search(client, agent_headers, "harbour")) == [("practice", "P2", "P2")]
    assert kinds(search(client, agent_headers, "dental")) == [("practice", "P2", "P2"), ("practice", "P1", "P1")]
    by_id = search(client, agent_headers, "P1")
    assert ("practice", "P1", "P1") in kinds(by_id)
    assert by_id["results"][-1]["url"] == "/console/practices/P1"
    assert audits(db_session) == []  # no booking data shown, nothing to audit


def test_a_request_number_and_a_requester_email(client: FlaskClient, world: None, agent_headers: dict[str, str],
                                                db_session: Session) -> None:
    req = Request(subject="Booking did not arrive", requester_email="pat@p.test", practice_id="P1")
    db_session.add(req)
    db_session.commit()
    for q in (str(req.id), f"#{req.id}"):
        body = search(client, agent_headers, q)
        assert ("request", str(req.id), "P1") in kinds(body)
        assert body["results"][-1]["url"] == f"/console/requests/{req.id}"
    body = search(client, agent_headers, "Pat@P.test")
    assert kinds(body) == [("email", f"request-{req.id}", "P1")]
    assert search(client, agent_headers, "#999999")["results"] == []


def test_an_email_in_practice_settings(client: FlaskClient, world: None, agent_headers: dict[str, str]) -> None:
    body = search(client, agent_headers, "boss@harbour.test")
    assert kinds(body) == [("email", "practice-P2", "P2")]
    assert body["results"][0]["detail"] == "boss@harbour.test in alert emails"
    assert kinds(search(client, agent_headers, "front@riverside.test")) == [("email", "practice-P1", "P1")]
    # a part of an address is not the address
    assert search(client, agent_headers, "oss@harbour.test")["results"] == []


def test_only_agents_may_search(client: FlaskClient, world: None, widget_headers: Callable[..., dict[str, str]]) -> None:
    assert search(client, {}, "BK-1", 401)["error"]["code"] == "unauthenticated"
    assert search(client, widget_headers("P1"), "BK-1", 401)["error"]["code"] == "invalid_token"


@pytest.mark.parametrize("q", ["", "   ", "\x00", "x" * 201])
def test_bad_queries_are_a_400(client: FlaskClient, agent: NewAgent, agent_headers: dict[str, str], q: str) -> None:
    body = search(client, agent_headers, q, 400)
    assert body["error"]["code"] in ("invalid_parameter", "invalid_text")  # NUL is refused before the view


def test_the_service_groups_results_by_kind(db_session: Session, world: None) -> None:
    results = service.search(db_session, "Smith")
    assert [(kind, len(rows)) for kind, _title, rows in service.grouped(results)] == [("patient", 2)]
    assert service.practices_touched(results) == {"P1", "P2"}
    with pytest.raises(BadInput):
        service.search(db_session, " ")


def test_every_workspace_route_is_documented(client: FlaskClient, app: Any) -> None:
    from openapi_spec_validator import validate

    spec = client.get("/api/v1/openapi.json").get_json()
    validate(spec)
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith(("/api/v1/search", "/api/v1/workspace", "/api/v1/reports")):
            path = rule.rule.removeprefix("/api/v1").replace("<", "{").replace(">", "}")
            assert path in spec["paths"], path
