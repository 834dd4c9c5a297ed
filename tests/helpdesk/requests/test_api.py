"""``/api/v1/requests``: submitting with a widget token, scoping by caller, agents' changes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from helpdesk.core.agents import NewAgent
from helpdesk.outbox.models import OutboxMessage
from helpdesk.requests.models import Request, RequestComment
from tests.helpdesk.outbox.servers import SmtpServer, parts
from tests.helpdesk.requests.helpers import PNG, counts, fetch, files

Headers = Callable[..., dict[str, str]]


def create(client: FlaskClient, headers: dict[str, str], expect: int = 201, **fields: Any) -> dict[str, Any]:
    body = {"subject": "Booking not in diary", "description": "Patient arrived with a confirmation.", **fields}
    response = client.post("/api/v1/requests", json=body, headers=headers)
    assert response.status_code == expect, response.get_json()
    return response.get_json()


def test_a_practice_user_submits_by_api(client: FlaskClient, db_session: Session, world: None,
                                        widget_headers: Headers) -> None:
    created = create(client, widget_headers("P1", "u-1"), booking_reference="BK-1")
    assert created["status"] == "new" and created["practice_id"] == "P1"
    assert created["requester"] == {"email": "pat@p.test", "name": "Pat Staff", "user_id": "u-1"}
    assert created["url"] == f"/hc/requests/{created['id']}"
    assert "priority" not in created and "booking_snapshot" not in created  # agent-only fields
    assert [c["body"] for c in created["comments"]] == ["Patient arrived with a confirmation."]
    req = db_session.get(Request, created["id"])
    assert req is not None and req.channel == "api" and req.booking_snapshot["reference"] == "BK-1"


def test_submit_by_api_with_attachments(client: FlaskClient, db_session: Session, widget_headers: Headers) -> None:
    response = client.post("/api/v1/requests", headers=widget_headers("P1", "u-1"), content_type="multipart/form-data",
                           data={"subject": "Screenshot", "description": "See the picture",
                                 "attachments": files(("diary.png", PNG))})
    assert response.status_code == 201, response.get_json()
    attachment = response.get_json()["comments"][0]["attachments"][0]
    assert attachment["content_type"] == "image/png"
    assert client.get(attachment["url"], headers=widget_headers("P1", "u-1")).data == PNG
    assert client.get(attachment["url"], headers=widget_headers("P1", "u-2")).status_code == 404


@pytest.mark.parametrize(("fields", "status", "code"), [
    ({"subject": ""}, 422, "missing_field"),
    ({"description": None}, 422, "missing_field"),
    ({"subject": 12}, 422, "invalid_field"),
    ({"description": "x" * 20_001}, 422, "too_long"),
    ({"description": "nul \x00 byte"}, 400, "invalid_text"),  # the JSON guard (helpdesk/core/guard.py)
    ({"booking_reference": "OT-1"}, 422, "unknown_booking"),
    ({"booking_reference": "no spaces allowed"}, 422, "invalid_field"),
    ({"priority": "urgent"}, 422, "unknown_field"),
])
def test_bad_api_submissions_store_nothing(client: FlaskClient, db_session: Session, world: None,
                                           widget_headers: Headers, fields: dict[str, Any], status: int,
                                           code: str) -> None:
    before = counts(db_session)
    body = create(client, widget_headers("P1", "u-1"), expect=status, **fields)
    assert body["error"]["code"] == code
    assert counts(db_session) == before


def test_a_bad_api_submission_lists_every_invalid_field(client: FlaskClient, db_session: Session, world: None,
                                                        widget_headers: Headers) -> None:
    before = counts(db_session)
    body = create(client, widget_headers("P1", "u-1"), expect=422, subject=" ", description=12,
                  booking_reference="OT-1")
    assert counts(db_session) == before
    error = body["error"]
    assert (error["code"], error["field"]) == ("missing_field", "subject")  # the first, as before
    assert error["fields"] == [
        {"field": "subject", "code": "missing_field", "message": "Subject is required"},
        {"field": "description", "code": "invalid_field", "message": "Description must be text"},
        {"field": "booking_reference", "code": "unknown_booking",
         "message": "Your practice has no booking with reference OT-1"},
    ]
    assert error["message"] == "; ".join(f["message"] for f in error["fields"])


def test_api_submission_needs_a_widget_token(client: FlaskClient, db_session: Session,
                                             agent_headers: dict[str, str]) -> None:
    assert client.post("/api/v1/requests", json={}).status_code == 401
    assert client.post("/api/v1/requests", json={}, headers={"Authorization": "Bearer nope"}).status_code == 401
    assert client.post("/api/v1/requests", json={"subject": "s", "description": "d"},
                       headers=agent_headers).status_code == 403
    assert client.post("/api/v1/requests", data="not json", headers={"Content-Type": "application/json",
                                                                      **agent_headers}).status_code in (400, 403)


def test_api_submissions_are_rate_limited(client: FlaskClient, db_session: Session, widget_headers: Headers) -> None:
    headers = widget_headers("P1", "u-1")
    for _ in range(5):
        create(client, headers)
    before = counts(db_session)
    response = client.post("/api/v1/requests", json={"subject": "s", "description": "d"}, headers=headers)
    assert response.status_code == 429 and response.get_json()["error"]["code"] == "too_many_requests"
    assert counts(db_session) == before


# --- isolation --------------------------------------------------------------------------------

@pytest.fixture
def three(client: FlaskClient, widget_headers: Headers) -> dict[str, int]:
    """Requests by u-1 and u-2 of practice P1, and by u-9 of practice P2."""
    return {
        "u1": create(client, widget_headers("P1", "u-1"), subject="From u-1")["id"],
        "u2": create(client, widget_headers("P1", "u-2"), subject="From u-2")["id"],
        "p2": create(client, widget_headers("P2", "u-9"), subject="From P2")["id"],
    }


def ids(client: FlaskClient, headers: dict[str, str], query: str = "") -> set[int]:
    response = client.get(f"/api/v1/requests{query}", headers=headers)
    assert response.status_code == 200, response.get_json()
    return {r["id"] for r in response.get_json()["requests"]}


def test_no_requester_reads_anothers_request(client: FlaskClient, db_session: Session, three: dict[str, int],
                                             widget_headers: Headers) -> None:
    u1, u2 = widget_headers("P1", "u-1"), widget_headers("P1", "u-2")
    assert ids(client, u1) == {three["u1"]} and ids(client, u2) == {three["u2"]}
    assert client.get(f"/api/v1/requests/{three['u2']}", headers=u1).status_code == 404
    assert client.post(f"/api/v1/requests/{three['u2']}/comments", json={"body": "hi"}, headers=u1).status_code == 404
    assert ids(client, u1, "?q=From") == {three["u1"]}


def test_a_practice_admin_sees_the_practice_but_no_other(client: FlaskClient, db_session: Session,
                                                         three: dict[str, int], widget_headers: Headers) -> None:
    admin = widget_headers("P1", "boss", admin=True)
    assert ids(client, admin) == {three["u1"], three["u2"]}
    assert client.get(f"/api/v1/requests/{three['u2']}", headers=admin).status_code == 200


def test_no_practice_reads_another_practices_request(client: FlaskClient, db_session: Session,
                                                     three: dict[str, int], widget_headers: Headers) -> None:
    for headers in (widget_headers("P2", "u-9"), widget_headers("P2", "admin", admin=True)):
        assert three["u1"] not in ids(client, headers)
        for method, path, body in (("get", "", None), ("patch", "", {"status": "open"}),
                                   ("post", "/comments", {"body": "hi"})):
            response = getattr(client, method)(f"/api/v1/requests/{three['u1']}{path}", json=body, headers=headers)
            assert response.status_code == 404, (method, path)
            assert response.get_json()["error"]["code"] == "not_found"


def test_agents_see_all_and_practice_users_cannot_patch(client: FlaskClient, db_session: Session,
                                                        three: dict[str, int], widget_headers: Headers,
                                                        agent_headers: dict[str, str]) -> None:
    assert ids(client, agent_headers, "?view=all") == set(three.values())
    response = client.patch(f"/api/v1/requests/{three['u1']}", json={"status": "solved"},
                            headers=widget_headers("P1", "u-1"))
    assert response.status_code == 403 and response.get_json()["error"]["code"] == "agents_only"


# --- the conversation by API ------------------------------------------------------------------

def test_internal_notes_never_reach_the_requester(client: FlaskClient, db_session: Session, smtp: SmtpServer,
                                                  widget_headers: Headers, agent_headers: dict[str, str],
                                                  send: Callable[[], Any]) -> None:
    user = widget_headers("P1", "u-1")
    request_id = create(client, user)["id"]
    send()
    smtp.inbox.clear()
    note = client.post(f"/api/v1/requests/{request_id}/comments", headers=agent_headers,
                       json={"body": "SECRET: practice owes us money", "public": False})
    assert note.status_code == 201 and note.get_json()["public"] is False
    reply = client.post(f"/api/v1/requests/{request_id}/comments", headers=agent_headers,
                        json={"body": "We are checking your diary.", "status": "pending"})
    assert reply.status_code == 201

    seen = client.get(f"/api/v1/requests/{request_id}", headers=user).get_json()
    assert [c["body"] for c in seen["comments"]] == ["Patient arrived with a confirmation.", "We are checking your diary."]
    assert seen["status"] == "pending"
    agent_view = client.get(f"/api/v1/requests/{request_id}", headers=agent_headers).get_json()
    assert [c["public"] for c in agent_view["comments"]] == [True, False, True]

    send()
    mails = smtp.inbox.to("pat@p.test")
    assert len(mails) == 1 and "We are checking your diary." in parts(mails[0])[0]
    assert all("SECRET" not in parts(m)[0] + parts(m)[1] for m in smtp.inbox.messages)
    assert all("SECRET" not in row.payload.get("body", "") for row in db_session.scalars(select(OutboxMessage)))
    assert ids(client, user, "?q=SECRET") == set(), "search must not find words of internal notes"


def test_practice_users_comments_are_always_public(client: FlaskClient, db_session: Session,
                                                   widget_headers: Headers, agent: NewAgent) -> None:
    user = widget_headers("P1", "u-1")
    request_id = create(client, user)["id"]
    response = client.post(f"/api/v1/requests/{request_id}/comments", json={"body": "More detail", "public": False},
                           headers=user)
    assert response.status_code == 201 and response.get_json()["public"] is True
    assert client.post(f"/api/v1/requests/{request_id}/comments", json={"body": "x", "status": "solved"},
                       headers=user).status_code == 403


def test_patch_status_priority_assignee(client: FlaskClient, db_session: Session, widget_headers: Headers,
                                        agent: NewAgent, agent_headers: dict[str, str], other_agent: NewAgent) -> None:
    request_id = create(client, widget_headers("P1", "u-1"))["id"]
    response = client.patch(f"/api/v1/requests/{request_id}", headers=agent_headers,
                            json={"status": "open", "priority": "urgent", "assignee_id": other_agent.agent.id})
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert (body["status"], body["priority"], body["assignee"]["email"]) == ("open", "urgent", "bo@helpdesk.test")
    assert body["due"]["kind"] == "first_reply"

    for payload, code in (({"status": "new"}, "invalid_transition"), ({"status": "done"}, "invalid_status"),
                          ({"priority": "asap"}, "invalid_priority"), ({"assignee_id": 999}, "invalid_assignee"),
                          ({"assignee_id": "1"}, "invalid_assignee"), ({"colour": "red"}, "unknown_field")):
        response = client.patch(f"/api/v1/requests/{request_id}", json=payload, headers=agent_headers)
        assert response.get_json()["error"]["code"] == code, payload
    assert client.patch(f"/api/v1/requests/{request_id}", json={"assignee_id": None},
                        headers=agent_headers).get_json()["assignee"] is None
    assert client.patch(f"/api/v1/requests/{request_id}", json={"status": "closed"},
                        headers=agent_headers).status_code == 409
    assert client.patch("/api/v1/requests/424242", json={}, headers=agent_headers).status_code == 404
    assert client.patch(f"/api/v1/requests/{request_id}", json={"status": "solved"}).status_code == 401


def test_agent_views_and_filters(client: FlaskClient, db_session: Session, widget_headers: Headers,
                                 agent: NewAgent, agent_headers: dict[str, str]) -> None:
    first = create(client, widget_headers("P1", "u-1"), subject="Collision on Monday")["id"]
    second = create(client, widget_headers("P2", "u-9"), subject="Alert emails")["id"]
    client.patch(f"/api/v1/requests/{second}", json={"assignee_id": agent.agent.id, "status": "pending",
                                                     "priority": "high"}, headers=agent_headers)
    assert ids(client, agent_headers, "?view=new") == {first}
    assert ids(client, agent_headers, "?view=pending") == {second}
    assert ids(client, agent_headers, "?view=unassigned") == {first}
    assert ids(client, agent_headers, "?view=mine") == {second}
    assert ids(client, agent_headers, "?view=all&q=collision") == {first}
    assert ids(client, agent_headers, f"?view=all&q=%23{second}") == {second}
    assert ids(client, agent_headers, "?view=all&practice_id=P2") == {second}
    assert ids(client, agent_headers, "?view=all&priority=high") == {second}
    assert ids(client, agent_headers, "?view=all&status=new,pending") == {first, second}
    assert client.get("/api/v1/requests?view=bogus", headers=agent_headers).status_code == 400
    assert client.get("/api/v1/requests?status=bogus", headers=agent_headers).status_code == 400
    assert client.get("/api/v1/requests?page=0", headers=agent_headers).status_code == 400



def test_reply_deadlines_and_overdue(client: FlaskClient, db_session: Session, widget_headers: Headers,
                                     agent_headers: dict[str, str]) -> None:
    user = widget_headers("P1", "u-1")
    request_id = create(client, user)["id"]
    req = fetch(db_session, request_id)
    assert req.due_at is not None
    assert (req.due_at - req.created_at).total_seconds() == 8 * 3600  # normal priority: first reply in 8 h
    client.patch(f"/api/v1/requests/{request_id}", json={"priority": "urgent"}, headers=agent_headers)
    req = fetch(db_session, request_id)
    assert req.due_at is not None and (req.due_at - req.created_at).total_seconds() == 3600

    db_session.execute(update(Request).where(Request.id == request_id)
                       .values(due_at=req.created_at - timedelta(hours=1)))
    db_session.commit()
    assert ids(client, agent_headers, "?view=overdue") == {request_id}
    assert client.get(f"/api/v1/requests/{request_id}", headers=agent_headers).get_json()["due"]["overdue"] is True

    client.post(f"/api/v1/requests/{request_id}/comments", json={"body": "On it"}, headers=agent_headers)
    req = fetch(db_session, request_id)
    assert req.due_at is None and req.first_replied_at is not None and req.status == "open"
    assert ids(client, agent_headers, "?view=overdue") == set()

    client.post(f"/api/v1/requests/{request_id}/comments", json={"body": "Still broken"}, headers=user)
    req = fetch(db_session, request_id)
    assert req.due_kind == "next_reply" and req.due_at is not None and req.awaiting_since is not None
    assert (req.due_at - req.awaiting_since).total_seconds() == 2 * 3600


def test_comments_on_a_closed_request_are_refused(client: FlaskClient, db_session: Session,
                                                  widget_headers: Headers, agent_headers: dict[str, str]) -> None:
    user = widget_headers("P1", "u-1")
    request_id = create(client, user)["id"]
    client.patch(f"/api/v1/requests/{request_id}", json={"status": "solved"}, headers=agent_headers)
    client.patch(f"/api/v1/requests/{request_id}", json={"status": "closed"}, headers=agent_headers)
    before = db_session.query(RequestComment).count()
    response = client.post(f"/api/v1/requests/{request_id}/comments", json={"body": "again"}, headers=user)
    assert response.status_code == 409 and response.get_json()["error"]["code"] == "request_closed"
    assert db_session.query(RequestComment).count() == before


def test_every_requests_route_is_documented(client: FlaskClient, app: Any) -> None:
    spec = client.get("/api/v1/openapi.json").get_json()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1/requests"):
            path = rule.rule.removeprefix("/api/v1").replace("<int:", "{").replace(">", "}")
            assert path in spec["paths"], path
            for method in rule.methods - {"HEAD", "OPTIONS"}:
                assert method.lower() in spec["paths"][path], (method, path)


def test_links_in_emails_never_come_from_the_host_header(client: FlaskClient, db_session: Session,
                                                        widget_headers: Headers) -> None:
    headers = {**widget_headers("P1", "u-1"), "Host": "evil.example", "X-Forwarded-Host": "evil.example"}
    created = create(client, headers)
    emails = db_session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "email")).all()
    assert emails, "the confirmation and the agents' notice are queued"
    for email in emails:
        text = f"{email.payload.get('text', '')} {email.payload.get('html', '')}"
        assert "evil.example" not in text
        assert "http://help.test/hc/requests" in text or f"http://help.test/console/requests/{created['id']}" in text
