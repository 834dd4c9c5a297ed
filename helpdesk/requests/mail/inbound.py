"""One received email into the helpdesk: thread it, or open a request, or drop it.

The verb never commits (the receiver does, once per message). Routing, in order:

1. a signed reply address ``support+<id>.<mac>@...`` names its request (a bad mac is refused);
2. else ``In-Reply-To``/``References`` naming an email we sent for a request, or received into one;
3. else a ``[#123]`` / ``[Request #123]`` subject tag, only from that request's requester or practice;
4. else a new request; its sender is matched to a practice by the practices' booking and alert
   emails, else an anonymous requester, as on the web form.

Mail never lands in another practice's request: a sender known to practice A cannot post into a
request of practice B by any of the three ways. Machine mail (auto-replies, bounces, lists, our
own emails coming back) and a sender over ``HELPDESK_MAIL_SENDER_PER_HOUR`` are dropped, and
noted; a Message-ID seen before is stored once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import String, cast, func, select
from sqlalchemy.orm import Session

from helpdesk.bookings.models import Practice
from helpdesk.bookings.queries import find_booking
from helpdesk.core.errors import DomainError, Forbidden, NotFound
from helpdesk.requests import service, storage
from helpdesk.requests.mail import tokens
from helpdesk.requests.mail.models import MailMessage
from helpdesk.requests.mail.parse import ParsedMail, parse, subject_tag
from helpdesk.requests.models import Request, RequestAttachment, RequestComment

ORIGINAL_NAME = "original-email.eml"
ORIGINAL_TYPE = "message/rfc822"


@dataclass(frozen=True)
class Outcome:
    action: str  # created | replied | duplicate | dropped
    request_id: int | None = None
    reason: str | None = None  # why dropped, or how threaded (token | references | subject)


# --- recipients -------------------------------------------------------------------------------

def _token_request(session: Session, address: str, config: Mapping[str, Any]) -> Request | None:
    """The request a recipient address names; ``None`` for the plain support address."""
    parsed = tokens.parse_recipient(address, config)
    if parsed is None:
        raise NotFound("unknown_recipient", f"no such mailbox here: {address}")
    kind, request_id, mac = parsed
    if kind == "support":
        return None
    req = session.get(Request, request_id) if request_id is not None else None
    if req is None or mac is None or not tokens.verify(req.id, mac, req.requester_email, config):
        raise Forbidden("invalid_reply_address", "this reply address is not valid (forged or mistyped)")
    return req


def check_recipient(session: Session, address: str, config: Mapping[str, Any]) -> None:
    """Raise unless we take mail for ``address`` (the support address or a valid reply address)."""
    _token_request(session, address, config)


# --- who sent it ------------------------------------------------------------------------------

def practice_for_sender(session: Session, email: str) -> str | None:
    """The one practice whose booking or alert emails include ``email``; ``None`` if none or several."""
    if not email:
        return None
    needle = '%"' + email.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + '"%'
    rows = session.execute(select(Practice.id, Practice.booking_emails, Practice.alert_emails).where(
        func.lower(cast(Practice.booking_emails, String)).like(needle, escape="\\")
        | func.lower(cast(Practice.alert_emails, String)).like(needle, escape="\\")
    )).all()
    found = {pid for pid, booking, alerts in rows
             if email in {str(e).strip().lower() for e in [*(booking or []), *(alerts or [])]}}
    return found.pop() if len(found) == 1 else None


def _may_post(req: Request, sender: str, sender_practice: str | None) -> bool:
    """Never into another practice's request."""
    return not (sender_practice and req.practice_id and sender_practice != req.practice_id)


def _is_requester_side(req: Request, sender: str, sender_practice: str | None) -> bool:
    return sender == req.requester_email.lower() or bool(req.practice_id and sender_practice == req.practice_id)


# --- safety -----------------------------------------------------------------------------------

def _our_domains(config: Mapping[str, Any]) -> set[str]:
    sender = str(config.get("MAIL_FROM") or "helpdesk@localhost")
    return {sender.rpartition("@")[2].strip(" >").lower(), tokens.reply_domain(config)}


def _drop_reason(session: Session, mail: ParsedMail, config: Mapping[str, Any], now: datetime) -> str | None:
    ours = {tokens.support_address(config),
            str(config.get("MAIL_FROM") or "").rpartition("<")[2].strip(" >").lower()}
    if mail.from_email in ours or mail.from_email.startswith(tokens.LOCAL_PART + "+") and \
            mail.from_email.rpartition("@")[2] == tokens.reply_domain(config):
        return "loop"
    if mail.message_id and mail.message_id.rpartition("@")[2] in _our_domains(config):
        return "loop"  # one of our own Message-IDs
    if mail.automatic:
        return mail.automatic
    limit = int(config.get("MAIL_SENDER_PER_HOUR") or 0)
    if limit > 0:
        recent = session.scalar(select(func.count()).select_from(MailMessage).where(
            MailMessage.direction == "in", MailMessage.sender == mail.from_email,
            MailMessage.created_at >= now - timedelta(hours=1))) or 0
        if recent >= limit:
            return "sender_rate"
    return None


# --- content ----------------------------------------------------------------------------------

def _content(mail: ParsedMail) -> tuple[str, list[service.Upload]]:
    """The comment's text and the files that pass the form's checks; the rest are named in the text."""
    notes = []
    kept: list[service.Upload] = []
    for upload in mail.uploads:
        if len(kept) >= storage.MAX_ATTACHMENTS:
            notes.append(f"{upload.filename}: more than {storage.MAX_ATTACHMENTS} attachments")
            continue
        try:
            service.check_uploads([upload])
        except DomainError as exc:
            notes.append(f"{upload.filename}: {exc.message}")
            continue
        kept.append(upload)
    text = mail.text or mail.full_text.strip()
    if len(text) > service.BODY_MAX - 500:
        text = text[:service.BODY_MAX - 500].rstrip() + "\n\n(cut short: the whole email is attached)"
    if notes:
        text += "\n\n(not attached, the original email keeps them: " + "; ".join(notes) + ")"
    return text.strip() or "(no text: see the attached email)", kept


def _keep_original(session: Session, req: Request, comment: RequestComment, raw: bytes) -> None:
    saved = storage.attachment_store().save(raw)
    session.add(RequestAttachment(request_id=req.id, comment_id=comment.id, filename=ORIGINAL_NAME,
                                  content_type=ORIGINAL_TYPE, size=saved.size, sha256=saved.sha256,
                                  storage_key=saved.key))


def _alert_reference(session: Session, mail: ParsedMail, practice_id: str | None) -> str:
    ref = mail.alert_reference
    if ref and practice_id and service.REFERENCE_RE.match(ref) and find_booking(session, practice_id, ref):
        return ref
    return ""


# --- the verb ---------------------------------------------------------------------------------

def _thread(session: Session, mail: ParsedMail, recipients: Sequence[str], sender_practice: str | None,
            config: Mapping[str, Any]) -> tuple[Request | None, str | None]:
    for address in recipients:
        req = _token_request(session, address, config)
        if req is not None:
            if not _may_post(req, mail.from_email, sender_practice):
                raise Forbidden("foreign_reply_address", "this reply address belongs to another practice's request")
            return req, "token"
    if mail.references:
        req = session.scalar(select(Request).join(MailMessage, MailMessage.request_id == Request.id).where(
            MailMessage.message_id.in_(mail.references[:50])).order_by(MailMessage.id.desc()).limit(1))
        if req is not None and _may_post(req, mail.from_email, sender_practice):
            return req, "references"
    tagged = subject_tag(mail.subject)
    if tagged is not None:
        req = session.get(Request, tagged)
        if req is not None and _is_requester_side(req, mail.from_email, sender_practice):
            return req, "subject"
    return None, None


def receive(session: Session, raw: bytes, recipients: Sequence[str], config: Mapping[str, Any],
            now: datetime) -> Outcome:
    """Store one email (``raw``, as received) sent to ``recipients``; raises DomainError to refuse it."""
    mail = parse(raw)
    if mail.message_id:
        seen = session.scalar(select(MailMessage).where(MailMessage.message_id == mail.message_id))
        if seen is not None:
            if seen.direction == "out":
                return Outcome("dropped", None, "loop")
            return Outcome("duplicate", seen.request_id)
    reason = _drop_reason(session, mail, config, now)
    if reason is not None:
        session.add(MailMessage(message_id=mail.message_id, direction="in", sender=mail.from_email[:320],
                                status="dropped", reason=reason, created_at=now))
        return Outcome("dropped", None, reason)

    sender_practice = practice_for_sender(session, mail.from_email)
    req, how = _thread(session, mail, recipients, sender_practice, config)
    text, uploads = _content(mail)
    requester = service.Requester(email=mail.from_email, name=mail.from_name)
    if req is not None and req.status != "closed":
        comment = service.add_comment(session, req, requester, text, uploads=uploads, now=now)
        if req.booking_snapshot is None and req.practice_id:
            reference = _alert_reference(session, mail, req.practice_id)
            if reference:
                req.booking_reference = reference
                req.booking_snapshot = service._booking_snapshot(session, requester, reference, now, req.practice_id)
        action = "replied"
    else:
        subject = mail.subject[:service.SUBJECT_MAX].strip() or "(no subject)"
        # A reply to a closed request: a follow-up is a new request, of the same practice.
        if req is not None and _is_requester_side(req, mail.from_email, sender_practice):
            sender_practice = sender_practice or req.practice_id
        submission = service.Submission(subject=subject, description=text, uploads=uploads,
                                        booking_reference=_alert_reference(session, mail, sender_practice))
        req = service.submit_request(session, requester, submission, "email", now, practice_id=sender_practice)
        comment = session.scalars(select(RequestComment).where(RequestComment.request_id == req.id)
                                  .order_by(RequestComment.id.desc()).limit(1)).one()
        action, how = "created", None
    _keep_original(session, req, comment, raw)
    session.add(MailMessage(message_id=mail.message_id, direction="in", request_id=req.id, comment_id=comment.id,
                            sender=mail.from_email[:320], status="stored", reason=how, created_at=now))
    session.flush()
    return Outcome(action, req.id, how)
