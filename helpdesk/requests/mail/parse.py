"""Read a received email: who, which thread, the new text without quotes, files, and whether it is
an automatic message (auto-reply, bounce, list mail) that must never open or feed a request."""

from __future__ import annotations

import email
import email.policy
import html
import re
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import getaddresses, parseaddr

import nh3
from email_reply_parser import EmailReplyParser

from helpdesk.requests.service import Upload

_MSGID = re.compile(r"<([^<>\s]{1,250})>")
_TAG = re.compile(r"\[(?:request\s*)?#(\d{1,12})\]", re.IGNORECASE)
_SIGNATURE = re.compile(r"^(?:-- ?|__+|—+)\s*$", re.MULTILINE)
# A platform alert, forwarded: what it is about, and the booking reference it names.
_ALERT = re.compile(r"collision|could not (?:be )?(?:add|insert|write)|lost (?:its |the )?connection|"
                    r"connection (?:was |has been )?lost|connector (?:is )?offline", re.IGNORECASE)
_ALERT_REFERENCE = re.compile(r"\b(?:booking\s+)?ref(?:erence)?\b\s*(?:no\.?|number)?\s*[:#]?\s*"
                              r"([A-Za-z0-9][A-Za-z0-9._/-]{0,63}[A-Za-z0-9])", re.IGNORECASE)
_BLOCK_END = re.compile(r"<\s*(?:br\s*/?|/p|/div|/li|/tr|/h[1-6]|/blockquote)\s*>", re.IGNORECASE)
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
_AUTO_SENDERS = ("mailer-daemon", "postmaster", "noreply", "no-reply", "donotreply", "do-not-reply")


@dataclass
class ParsedMail:
    message_id: str | None
    references: list[str]
    from_email: str
    from_name: str
    subject: str
    text: str  # the new part only: quotes and signature removed
    full_text: str  # everything, for recognising a forwarded alert
    uploads: list[Upload] = field(default_factory=list)
    automatic: str | None = None  # why this is machine mail, or None
    alert_reference: str | None = None


def _clean(value: str) -> str:
    """Mail is not typed text: a NUL or a lone surrogate (undecodable bytes) is replaced, not refused."""
    return _LONE_SURROGATE.sub("\ufffd", value.replace("\x00", ""))


def message_ids(value: str | None) -> list[str]:
    return [m.lower() for m in _MSGID.findall(value or "")]


def subject_tag(subject: str) -> int | None:
    match = _TAG.search(subject)
    return int(match.group(1)) if match else None


def html_to_text(markup: str) -> str:
    """Safe plain text from HTML: tags (and script/style content) removed, entities decoded."""
    markup = _BLOCK_END.sub("\n", markup)
    markup = re.sub(r"<\s*blockquote[^>]*>.*?<\s*/\s*blockquote\s*>", "\n", markup, flags=re.IGNORECASE | re.DOTALL)
    text = html.unescape(nh3.clean(markup, tags=set()))
    lines = [" ".join(line.split()) for line in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def strip_reply(text: str) -> str:
    text = text.replace("\r\n", "\n")
    reply = EmailReplyParser.parse_reply(text)
    match = _SIGNATURE.search(reply)
    if match:
        reply = reply[:match.start()]
    return reply.strip()


def _automatic(msg: EmailMessage, raw: dict[str, str], from_email: str) -> str | None:
    auto = raw.get("auto-submitted", "").strip().lower()
    if auto and auto != "no":
        return "auto_submitted"
    if "x-autoreply" in raw or "x-autorespond" in raw:
        return "autoreply"
    suppress = raw.get("x-auto-response-suppress", "").lower()
    if "all" in suppress or "oof" in suppress:
        return "autoreply"
    if raw.get("precedence", "").strip().lower() in ("bulk", "junk", "list", "auto_reply"):
        return "precedence"
    if "list-id" in raw or "list-unsubscribe" in raw:
        return "mailing_list"
    if msg.get_content_type() == "multipart/report" or "x-failed-recipients" in raw:
        return "bounce"
    local = from_email.partition("@")[0]
    if not from_email or any(local == s or local.startswith(s + "+") for s in _AUTO_SENDERS):
        return "automatic_sender"
    return None


def _body(msg: EmailMessage) -> str:
    part = msg.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    try:
        content = part.get_content()
    except (LookupError, ValueError):
        payload = part.get_payload(decode=True) or b""
        content = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else str(payload)
    if part.get_content_type() == "text/html":
        return html_to_text(str(content))
    return str(content)


def _uploads(msg: EmailMessage) -> list[Upload]:
    uploads = []
    for part in msg.iter_attachments():
        if part.get_content_maintype() in ("multipart", "text") and not part.get_filename():
            continue
        data = part.get_payload(decode=True)
        if isinstance(data, bytes) and data:
            uploads.append(Upload(part.get_filename() or "attachment", data))
    return uploads


def parse(raw: bytes) -> ParsedMail:
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    # Raw header values (the first of each name), unparsed: the policy's parsing of every header is slow.
    raw_headers: dict[str, str] = {}
    for key, value in msg.raw_items():
        raw_headers.setdefault(key.lower(), " ".join(str(value).split()))
    name, address = parseaddr(str(msg.get("From", "")))
    if not address:
        found = getaddresses([str(msg.get("Sender", ""))])
        name, address = found[0] if found else ("", "")
    from_email = address.strip().lower()
    ids = message_ids(raw_headers.get("message-id"))
    references = message_ids(raw_headers.get("in-reply-to")) + message_ids(raw_headers.get("references"))
    subject = _clean(" ".join(str(msg.get("Subject", "")).split()))
    full_text = _clean(_body(msg))
    name = _clean(name)
    parsed = ParsedMail(
        message_id=ids[0] if ids else None, references=list(dict.fromkeys(references)), from_email=from_email,
        from_name=" ".join(name.split())[:200], subject=subject, text=strip_reply(full_text), full_text=full_text,
        uploads=_uploads(msg), automatic=_automatic(msg, raw_headers, from_email),
    )
    haystack = f"{subject}\n{full_text}"
    if _ALERT.search(haystack):
        match = _ALERT_REFERENCE.search(haystack)
        if match:
            parsed.alert_reference = match.group(1)
    return parsed
