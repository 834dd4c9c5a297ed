"""Submitting a request from the Help Center form: what is stored and sent, and bad input."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from helpdesk.outbox.models import OutboxMessage
from helpdesk.requests.models import Request, RequestAttachment
from tests.helpdesk.outbox.servers import SmtpServer, parts
from tests.helpdesk.requests.helpers import (
    PDF,
    PNG,
    counts,
    csrf_token,
    files,
    sign_in_practice_user,
    submit_form,
)


def test_the_form_page_has_csrf_honeypot_and_deflection(client: FlaskClient) -> None:
    page = client.get("/hc/requests/new?subject=Diary")
    assert page.status_code == 200
    html = page.text
    assert 'name="csrf_token"' in html and 'name="website"' in html
    assert 'data-deflect-url="/api/v1/kb/suggest"' in html and "deflect.js" in html
    assert 'value="Diary"' in html
    assert client.get("/hc/requests/static/deflect.js").status_code == 200


def test_anonymous_submission_with_attachment(client: FlaskClient, db_session: Session, smtp: SmtpServer,
                                              agent: Any, send: Callable[[], Any]) -> None:
    response = submit_form(client, attachments=files(("screen shot.png", PNG), ("letter.pdf", PDF)))
    assert response.status_code == 303, response.text
    req = db_session.scalars(select(Request)).one()
    assert response.headers["Location"].endswith(f"/hc/requests/{req.id}")
    assert (req.status, req.priority, req.channel, req.practice_id) == ("new", "normal", "web", None)
    assert req.requester_email == "sam@example.test" and req.due_kind == "first_reply" and req.due_at
    stored = db_session.scalars(select(RequestAttachment).order_by(RequestAttachment.id)).all()
    assert [(a.filename, a.content_type) for a in stored] == [("screen shot.png", "image/png"),
                                                               ("letter.pdf", "application/pdf")]

    # The requester can see it straight away (the browser holds the grant) and download the file.
    page = client.get(response.headers["Location"])
    assert page.status_code == 200 and "A patient arrived" in page.text and "request #" in page.text.lower()
    download = client.get(f"/hc/requests/{req.id}/attachments/{stored[0].id}")
    assert download.data == PNG and download.headers["X-Content-Type-Options"] == "nosniff"

    report = send()
    assert report.sent == 2 and report.failed == 0
    confirmation = smtp.inbox.to("sam@example.test")[0]
    assert confirmation["Subject"] == f"[Request #{req.id}] Booking missing"
    text, html = parts(confirmation)
    assert "We received your request" in text and "http://help.test/hc/requests/access/" in text
    assert "A patient arrived" in html
    to_agent = smtp.inbox.to("ada@helpdesk.test")[0]
    assert to_agent["Subject"].startswith(f"[Request #{req.id}] New request:")
    assert f"http://help.test/console/requests/{req.id}" in parts(to_agent)[0]


def test_signed_in_practice_user_submits_with_booking_snapshot(client: FlaskClient, db_session: Session,
                                                               world: None) -> None:
    sign_in_practice_user(client, "P1", "u-1", email="pat@riverside.test")
    form = client.get("/hc/requests/new").text
    assert 'name="email"' not in form and "Signed in as" in form
    response = submit_form(client, email="", booking_reference="BK-1")
    assert response.status_code == 303, response.text
    req = db_session.scalars(select(Request)).one()
    assert (req.practice_id, req.requester_user_id, req.requester_email, req.channel) == \
        ("P1", "u-1", "pat@riverside.test", "widget")
    assert req.booking_snapshot["reference"] == "BK-1"
    assert "diary_collision" in req.booking_snapshot["causes"]


def test_a_booking_of_another_practice_is_refused(client: FlaskClient, db_session: Session, world: None) -> None:
    sign_in_practice_user(client, "P1", "u-1")
    before = counts(db_session)
    response = submit_form(client, booking_reference="OT-1")
    assert response.status_code == 422
    assert "Your practice has no booking with reference OT-1" in response.text
    assert counts(db_session) == before


def assert_refused(client: FlaskClient, db_session: Session, status: int, message: str, **kw: Any) -> None:
    before = counts(db_session)
    response = submit_form(client, **kw)
    assert response.status_code == status, response.text[:500]
    assert message in response.text
    assert counts(db_session) == before, "bad input must store nothing"


def test_missing_fields(client: FlaskClient, db_session: Session) -> None:
    assert_refused(client, db_session, 422, "Subject is required", subject="  ")
    assert_refused(client, db_session, 422, "Description is required", description="")
    assert_refused(client, db_session, 422, "Email address is required", email="")
    assert_refused(client, db_session, 422, "Enter an email address like name@example.com", email="not-an-email")


def field_tag(html: str, field: str) -> str:
    match = re.search(rf'<(?:input|textarea)[^>]*\bid="{field}"[^>]*>', html)
    assert match, f"no {field} field"
    return match.group(0)


def test_every_invalid_field_is_shown_beside_it_and_what_was_typed_is_kept(client: FlaskClient,
                                                                            db_session: Session) -> None:
    before = counts(db_session)
    response = submit_form(client, email="sam-at-example", subject=" ", description="",
                           booking_reference="no spaces allowed", name="Sam <b>Requester</b>")
    assert response.status_code == 422
    assert counts(db_session) == before
    html = response.text
    expected = {
        "email": "Enter an email address like name@example.com",
        "subject": "Subject is required",
        "description": "Description is required",
        "booking_reference": "A booking reference has only letters, digits and . _ / - (no spaces)",
    }
    for field, message in expected.items():
        assert f'<p class="form-error" id="{field}-error">{message}</p>' in html, field
        tag = field_tag(html, field)
        assert 'aria-invalid="true"' in tag and f'aria-describedby="{field}-error' in tag, tag
        assert f'<a href="#{field}">{message}</a>' in html  # and listed above the form
    assert "Please check these 4 fields" in html and 'class="hc-alert form-problems" role="alert"' in html
    assert 'aria-describedby="description-error description-hint"' in field_tag(html, "description")
    assert 'value="sam-at-example"' in field_tag(html, "email")
    assert 'value="Sam &lt;b&gt;Requester&lt;/b&gt;"' in field_tag(html, "name")
    assert 'value="no spaces allowed"' in field_tag(html, "booking_reference")
    assert "aria-invalid" not in field_tag(html, "name")


def test_a_form_refused_for_another_field_asks_for_the_files_again(client: FlaskClient, db_session: Session) -> None:
    response = submit_form(client, subject="", attachments=files(("screen.png", PNG)))
    assert response.status_code == 422
    assert "Choose your files again" in response.text
    assert "aria-invalid" not in field_tag(response.text, "attachments")
    refused = submit_form(client, subject="", attachments=files(("empty.png", b"")))
    assert '<p class="form-error" id="attachments-error">empty.png is empty</p>' in refused.text
    assert "Choose your files again" not in refused.text
    assert "aria-invalid" in field_tag(refused.text, "attachments")


def test_huge_bodies(client: FlaskClient, db_session: Session) -> None:
    assert_refused(client, db_session, 422, "Description must be at most 20,000 characters", description="x" * 20_001)
    assert_refused(client, db_session, 422, "Subject must be at most 200 characters", subject="y" * 201)
    before = counts(db_session)
    response = submit_form(client, attachments=files(("big.png", PNG + b"\x00" * (16 * 1024 * 1024))))
    assert response.status_code == 413 and "10 MB" in response.text
    assert counts(db_session) == before


def test_an_attachment_just_over_10_mb_is_refused(client: FlaskClient, db_session: Session) -> None:
    before = counts(db_session)
    response = submit_form(client, attachments=files(("big.pdf", PDF + b"\x00" * (10 * 1024 * 1024))))
    assert response.status_code == 413 and "larger than 10 MB" in response.text
    assert counts(db_session) == before


def test_a_fake_pdf_is_refused_by_its_content(client: FlaskClient, db_session: Session) -> None:
    fake = b"MZ\x90\x00 this is a Windows program, not a PDF"
    before = counts(db_session)
    response = submit_form(client, attachments=files(("good.png", PNG), ("invoice.pdf", fake)))
    assert response.status_code == 422
    assert "invoice.pdf is not a PNG, JPEG, GIF or WebP images, or PDF documents" in response.text
    assert "checked by its content" in response.text
    assert counts(db_session) == before, "one bad file refuses the whole submission"


def test_script_tags_are_stored_as_text_and_shown_inert(client: FlaskClient, db_session: Session,
                                                         smtp: SmtpServer, send: Callable[[], Any]) -> None:
    script = "<script>alert('x')</script>"
    response = submit_form(client, subject=f"Help {script}", description=f"Body {script}")
    assert response.status_code == 303
    page = client.get(response.headers["Location"]).text
    assert script not in page and "&lt;script&gt;alert(" in page
    send()
    _, html = parts(smtp.inbox.to("sam@example.test")[0])
    assert script not in html and "&lt;script&gt;" in html
    # The error page echoes input safely too.
    again = submit_form(client, subject=script, description="", email="sam@example.test")
    assert again.status_code == 422 and script not in again.text


def test_a_forged_csrf_token_is_refused(client: FlaskClient, db_session: Session) -> None:
    client.get("/hc/requests/new")
    before = counts(db_session)
    response = client.post("/hc/requests/new", data={"csrf_token": "forged", "email": "a@b.test",
                                                     "subject": "s", "description": "d"})
    assert response.status_code == 400 and "CSRF" in response.text
    response = client.post("/hc/requests/new", data={"email": "a@b.test", "subject": "s", "description": "d"})
    assert response.status_code == 400
    assert counts(db_session) == before


def test_the_honeypot_catches_bots(client: FlaskClient, db_session: Session) -> None:
    assert_refused(client, db_session, 400, "could not be accepted", website="http://spam.example")


def test_a_flood_of_submissions_is_rate_limited(client: FlaskClient, db_session: Session) -> None:
    for _ in range(5):
        assert submit_form(client).status_code == 303
    before = counts(db_session)
    token = csrf_token(client.get("/hc/requests/new").text)
    for _ in range(3):
        response = client.post("/hc/requests/new", data={"csrf_token": token, "email": "x@y.test",
                                                         "subject": "s", "description": "d"})
        assert response.status_code == 429
        assert "Too many requests" in response.text
    assert counts(db_session) == before


def test_nothing_is_queued_for_webhooks_without_urls(client: FlaskClient, db_session: Session, agent: Any) -> None:
    submit_form(client)
    kinds = {row.kind for row in db_session.scalars(select(OutboxMessage))}
    assert kinds == {"email"}


def test_attachment_names_are_made_safe() -> None:
    from helpdesk.requests.storage import safe_filename

    assert safe_filename("../../etc/passwd.png", "image/png") == "passwd.png"
    assert safe_filename("C:\\Users\\me\\résumé 履歴.pdf", "application/pdf") == "r_sum.pdf"
    assert safe_filename("report.exe", "application/pdf") == "report.pdf"
    assert safe_filename("", "image/gif") == "attachment.gif"
