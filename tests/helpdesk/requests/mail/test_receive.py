"""The email channel over real SMTP: our receiver on a loopback port, smtplib as the sending server."""

from __future__ import annotations

import smtplib
from collections.abc import Callable
from email.message import EmailMessage
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from helpdesk.outbox.models import OutboxMessage
from helpdesk.requests.mail import tokens
from helpdesk.requests.mail.models import MailMessage
from helpdesk.requests.mail.server import make_controller
from helpdesk.requests.models import Request, RequestAttachment, RequestComment
from tests.helpdesk.outbox.servers import SmtpServer, free_port
from tests.helpdesk.requests.helpers import PNG, counts
from tests.helpdesk.requests.mail.conftest import (
    P1_FRONT,
    P1_MANAGER,
    P2_MANAGER,
    SUPPORT,
    Receiver,
    mail,
)

pytestmark = pytest.mark.usefixtures("world", "app_context")

QUOTED = """Thanks, we will try that tomorrow morning.

Pat
-- 
Pat Staff | Riverside Dental | 01234 567890

On Tue, 1 Dec 2026 at 10:00, Practice Helpdesk <support@help.test> wrote:
> Ada Agent replied to your request:
> Please check the diary settings.
"""


def requests_in(session: Session) -> list[Request]:
    return list(session.scalars(select(Request).order_by(Request.id).execution_options(populate_existing=True)))


def thread(session: Session, req: Request) -> list[RequestComment]:
    return list(session.scalars(select(RequestComment).where(RequestComment.request_id == req.id)
                                .order_by(RequestComment.id)))


def confirmation_to(session: Session, address: str) -> OutboxMessage:
    rows = list(session.scalars(select(OutboxMessage).where(OutboxMessage.recipient == address,
                                                            OutboxMessage.kind == "email").order_by(OutboxMessage.id)))
    assert rows, f"no email queued to {address}"
    return rows[-1]


def open_request(session: Session, receiver: Receiver, sender: str = P1_MANAGER,
                 subject: str = "A patient is missing from our diary") -> Request:
    code, reply = receiver.send(mail(sender, subject, "Jane Smith booked online but is not in the diary.",
                                     name="Morgan Manager"))
    assert code == 250, reply
    return requests_in(session)[-1]


# --- a new request --------------------------------------------------------------------------

def test_a_new_email_opens_a_request_for_the_practice_that_knows_the_sender(
        db_session: Session, receiver: Receiver, send: Callable[[], Any], smtp: SmtpServer) -> None:
    code, reply = receiver.send(mail(P1_MANAGER, "A patient is missing from our diary",
                                     "Jane Smith booked online but is not in the diary.", name="Morgan Manager"))
    assert code == 250 and "stored in request #" in reply
    [req] = requests_in(db_session)
    assert (req.channel, req.practice_id, req.requester_email, req.requester_name, req.status) == (
        "email", "P1", P1_MANAGER, "Morgan Manager", "new")
    assert req.subject == "A patient is missing from our diary"
    [comment] = thread(db_session, req)
    assert comment.body == "Jane Smith booked online but is not in the diary."
    [original] = db_session.scalars(select(RequestAttachment).where(RequestAttachment.comment_id == comment.id))
    assert (original.content_type, original.filename) == ("message/rfc822", "original-email.eml")

    # The confirmation goes out with a signed reply address and says how to answer.
    assert send().sent >= 1
    [confirmation] = smtp.inbox.wait_for(1) and smtp.inbox.to(P1_MANAGER)
    assert str(confirmation["Reply-To"]) == tokens.reply_address(req.id, P1_MANAGER)
    assert str(confirmation["Reply-To"]).startswith("support+") and str(confirmation["Reply-To"]).endswith("@help.test")
    assert "Reply to this email, or open the request" in confirmation.get_body(("plain",)).get_content()
    stored = db_session.scalar(select(MailMessage).where(MailMessage.direction == "out",
                                                         MailMessage.request_id == req.id))
    assert stored is not None and f"<{stored.message_id}>" == str(confirmation["Message-ID"]).lower()


def test_an_unknown_sender_is_an_anonymous_requester(db_session: Session, receiver: Receiver) -> None:
    req = open_request(db_session, receiver, sender="sam@example.test")
    assert (req.practice_id, req.requester_email, req.channel) == (None, "sam@example.test", "email")


# --- replies: the three ways ----------------------------------------------------------------

def test_a_reply_to_the_signed_address_lands_on_its_request_with_quotes_and_signature_stripped(
        db_session: Session, receiver: Receiver) -> None:
    req = open_request(db_session, receiver)
    address = tokens.reply_address(req.id, P1_MANAGER)
    code, reply = receiver.send(mail(P1_MANAGER, "Re: something else entirely", QUOTED, to=address, name="Pat"))
    assert code == 250 and f"#{req.id}" in reply
    assert len(requests_in(db_session)) == 1
    comments = thread(db_session, req)
    assert [c.author_kind for c in comments] == ["requester", "requester"]
    assert comments[-1].body == "Thanks, we will try that tomorrow morning.\n\nPat"
    stored = db_session.scalar(select(MailMessage).where(MailMessage.comment_id == comments[-1].id))
    assert stored is not None and stored.reason == "token"


def test_a_reply_by_in_reply_to_lands_on_the_request_of_the_email_it_answers(
        db_session: Session, receiver: Receiver, agent_headers: dict[str, str], client: Any) -> None:
    req = open_request(db_session, receiver)
    confirmation = confirmation_to(db_session, P1_MANAGER)
    message_id = confirmation.payload["headers"]["Message-ID"]
    code, _ = receiver.send(mail(P1_MANAGER, "Re: our problem", "Any news?", In_Reply_To=message_id,
                                 References=message_id))
    assert code == 250
    assert len(requests_in(db_session)) == 1
    assert [c.body for c in thread(db_session, req)][-1] == "Any news?"
    # The agent sees it in the request's conversation, as the practice's comment.
    shown = client.get(f"/api/v1/requests/{req.id}", headers=agent_headers).get_json()
    assert [(c["author"]["kind"] if isinstance(c.get("author"), dict) else c.get("author_kind"), c["body"])
            for c in shown["comments"]][-1] == ("requester", "Any news?")


def test_a_subject_tag_threads_only_from_the_requester_or_their_practice(db_session: Session, receiver: Receiver) -> None:
    req = open_request(db_session, receiver)
    code, _ = receiver.send(mail(P1_FRONT, f"Re: [Request #{req.id}] A patient is missing", "Front desk here: it is Jane."))
    assert code == 250
    assert len(requests_in(db_session)) == 1 and thread(db_session, req)[-1].body == "Front desk here: it is Jane."

    # Another practice naming the same number opens its own request instead.
    code, _ = receiver.send(mail(P2_MANAGER, f"[#{req.id}] our diary", "Hilltop here."))
    assert code == 250
    first, second = requests_in(db_session)
    assert len(thread(db_session, first)) == 2
    assert (second.practice_id, second.requester_email) == ("P2", P2_MANAGER)


def test_html_only_mail_becomes_safe_text_and_files_pass_the_forms_checks(db_session: Session, receiver: Receiver) -> None:
    message = EmailMessage()
    message["From"] = P1_MANAGER
    message["To"] = SUPPORT
    message["Subject"] = "Screenshot of the error"
    message.set_content("<p>See the <b>screenshot</b> &amp; the log.</p><script>alert(1)</script>"
                        "<style>p{}</style><p onclick='x()'>Thanks</p>", subtype="html")
    message.add_attachment(PNG, maintype="image", subtype="png", filename="../../error.png")
    message.add_attachment(b"MZ\x90\x00 not an image", maintype="application", subtype="octet-stream",
                           filename="tool.exe")
    code, _ = receiver.send(message)
    assert code == 250
    [req] = requests_in(db_session)
    [comment] = thread(db_session, req)
    assert comment.body.startswith("See the screenshot & the log.\nThanks")
    assert "alert(1)" not in comment.body and "<" not in comment.body.split("(not attached")[0]
    assert "tool.exe" in comment.body  # named as not attached
    files = sorted((a.filename, a.content_type) for a in db_session.scalars(
        select(RequestAttachment).where(RequestAttachment.comment_id == comment.id)))
    assert files == [("error.png", "image/png"), ("original-email.eml", "message/rfc822")]


# --- a forwarded platform alert -------------------------------------------------------------

ALERT = """Can you tell us what happened here?

---------- Forwarded message ---------
From: Booking Platform <alerts@platform.test>
Subject: Booking could not be added to your diary

A booking could not be written to your practice diary because of a collision with another
appointment.

Booking reference: BK-1
Patient: Jane Smith
"""


def test_a_forwarded_collision_alert_attaches_the_bookings_diagnosis(db_session: Session, receiver: Receiver) -> None:
    code, _ = receiver.send(mail(P1_MANAGER, "Fwd: Booking could not be added to your diary", ALERT))
    assert code == 250
    [req] = requests_in(db_session)
    assert req.booking_reference == "BK-1"
    assert req.booking_snapshot is not None and req.booking_snapshot["practice_id"] == "P1"
    assert req.booking_snapshot["causes"], req.booking_snapshot


def test_a_forwarded_alert_naming_another_practices_booking_attaches_nothing(db_session: Session, receiver: Receiver) -> None:
    code, _ = receiver.send(mail(P1_MANAGER, "Fwd: collision", ALERT.replace("BK-1", "OT-1")))
    assert code == 250
    [req] = requests_in(db_session)
    assert (req.booking_reference, req.booking_snapshot) == (None, None)


# --- safety ---------------------------------------------------------------------------------

@pytest.mark.parametrize("headers", [{"Auto-Submitted": "auto-replied"}, {"X-Autoreply": "yes"},
                                     {"Precedence": "bulk"}])
def test_auto_replies_are_accepted_and_dropped(db_session: Session, receiver: Receiver, headers: dict[str, str]) -> None:
    req = open_request(db_session, receiver)
    before = counts(db_session)
    message = mail(P1_MANAGER, "Out of office", "I am away until Monday.", to=tokens.reply_address(req.id, P1_MANAGER))
    for key, value in headers.items():
        message[key] = value
    code, reply = receiver.send(message)
    assert code == 250 and "dropped" in reply
    assert counts(db_session) == before


def test_a_bounce_is_accepted_and_dropped(db_session: Session, receiver: Receiver) -> None:
    req = open_request(db_session, receiver)
    before = counts(db_session)
    bounce = mail("MAILER-DAEMON@mx.riverside.test", "Undelivered Mail Returned to Sender",
                  "This is the mail system. I'm sorry to have to inform you...", to=tokens.reply_address(req.id, P1_MANAGER))
    code, reply = receiver.send(bounce, sender="<>")
    assert code == 250 and "dropped" in reply
    assert counts(db_session) == before


def test_nul_and_undecodable_bytes_are_replaced_not_refused(db_session: Session, receiver: Receiver) -> None:
    raw = (b"From: sam@example.test\r\nTo: support@help.test\r\nSubject: bad \xff bytes\r\n"
           b"Content-Type: text/plain; charset=utf-8\r\n\r\nhello\x00 \xff\xfe world\r\n")
    with smtplib.SMTP(receiver.host, receiver.port) as smtp:
        smtp.sendmail("sam@example.test", [SUPPORT], raw)
    [req] = requests_in(db_session)
    [comment] = thread(db_session, req)
    assert "\x00" not in comment.body and comment.body.startswith("hello") and comment.body.endswith("world")


def test_our_own_email_coming_back_is_a_loop_and_dropped(db_session: Session, receiver: Receiver,
                                                         send: Callable[[], Any], smtp: SmtpServer) -> None:
    open_request(db_session, receiver)
    send()
    [confirmation] = smtp.inbox.wait_for(1) and smtp.inbox.to(P1_MANAGER)
    before = counts(db_session)
    # A forwarding rule bounces our confirmation straight back to the support address.
    code, reply = receiver.send(confirmation, to=[SUPPORT], sender=P1_MANAGER)
    assert code == 250 and "dropped (loop)" in reply
    assert counts(db_session) == before


def test_a_sender_over_the_hourly_rate_is_dropped(app: Any, db_session: Session, receiver: Receiver) -> None:
    app.config["MAIL_SENDER_PER_HOUR"] = 3
    replies = [receiver.send(mail("loopy@example.test", f"Ticket {n}", "Hello"))[1] for n in range(5)]
    assert [("dropped" in r) for r in replies] == [False, False, False, True, True]
    assert len(requests_in(db_session)) == 3


def test_the_same_message_id_is_stored_once(db_session: Session, receiver: Receiver) -> None:
    message = mail(P1_MANAGER, "Diary problem", "Jane Smith is missing.")
    assert receiver.send(message)[0] == 250
    code, reply = receiver.send(message)  # the sending server retries after a lost 250
    assert code == 250 and "already received" in reply
    assert len(requests_in(db_session)) == 1


def test_a_forged_reply_address_is_refused(db_session: Session, receiver: Receiver) -> None:
    req = open_request(db_session, receiver)
    before = counts(db_session)
    good = tokens.reply_address(req.id, P1_MANAGER)
    forged = [good.replace(f"+{req.id}.", f"+{req.id + 1}."),  # another request's number, same mac
              good[:good.index(".") + 1] + "0" * tokens.MAC_CHARS + "@help.test",
              f"support+{req.id}@help.test"]
    for address in forged:
        with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
            receiver.send(mail(P1_MANAGER, "Re: hi", "Let me in.", to=address))
        [(code, _)] = refused.value.recipients.values()
        assert code == 550
    with pytest.raises(smtplib.SMTPRecipientsRefused):
        receiver.send(mail(P1_MANAGER, "hi", "Who are you?", to="billing@help.test"))
    assert counts(db_session) == before


def test_another_practice_cannot_post_through_a_valid_reply_address(db_session: Session, receiver: Receiver) -> None:
    req = open_request(db_session, receiver)
    before = counts(db_session)
    with pytest.raises(smtplib.SMTPDataError) as refused:
        receiver.send(mail(P2_MANAGER, "Re: yours", "Hilltop writing into Riverside's request.",
                           to=tokens.reply_address(req.id, P1_MANAGER)))
    assert refused.value.smtp_code == 550
    assert counts(db_session) == before
    # Nor by In-Reply-To: it opens a request of its own.
    message_id = confirmation_to(db_session, P1_MANAGER).payload["headers"]["Message-ID"]
    assert receiver.send(mail(P2_MANAGER, "Re: yours", "Hilltop again.", In_Reply_To=message_id))[0] == 250
    first, second = requests_in(db_session)
    assert len(thread(db_session, first)) == 1 and second.practice_id == "P2"


def test_a_reply_to_a_closed_request_opens_a_follow_up(db_session: Session, receiver: Receiver) -> None:
    req = open_request(db_session, receiver)
    req.status = "closed"
    db_session.commit()
    assert receiver.send(mail(P1_MANAGER, "Re: thanks", "It happened again.",
                              to=tokens.reply_address(req.id, P1_MANAGER)))[0] == 250
    first, second = requests_in(db_session)
    assert len(thread(db_session, first)) == 1
    assert (second.practice_id, thread(db_session, second)[0].body) == ("P1", "It happened again.")


def test_mail_over_the_size_limit_is_refused_and_nothing_stored(app: Any, db_session: Session) -> None:
    app.config["MAIL_MAX_BYTES"] = 20_000
    port = free_port()
    controller = make_controller(app, f"127.0.0.1:{port}", workers=1)
    controller.start()
    try:
        small = Receiver("127.0.0.1", port)
        with pytest.raises(smtplib.SMTPDataError) as refused:
            small.send(mail(P1_MANAGER, "Big", "a line of text\n" * 2000))
        assert refused.value.smtp_code == 552
        assert small.send(mail(P1_MANAGER, "Small", "a line of text\n" * 100))[0] == 250
    finally:
        controller.stop()
    assert [r.subject for r in requests_in(db_session)] == ["Small"]
