"""Text patterns and cleaning shared by every domain."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable
from typing import Any

from markupsafe import Markup, escape

from helpdesk.core.errors import InvalidInput

EMAIL_RE = re.compile(r"^[^@\s<>\"']+@[^@\s<>\"']+\.[^@\s<>\"']+$")
# A booking reference as people write it in text ("RVD-7K2QX9M", "bk-1"): the one definition, used
# to spot references in what people write and to link them (pages written in JavaScript get its
# ``pattern``; it reads the same there).
BOOKING_REFERENCE_RE = re.compile(r"\b[A-Za-z]{2,5}-[A-Za-z0-9]{1,16}\b")

# Control characters other than newline and tab are dropped from text (so are NUL, which
# PostgreSQL cannot store, and the BOM).
_CONTROL = {c for c in range(0x20) if c not in (0x09, 0x0A)} | {0x7F, 0xFEFF}
_STRIP = dict.fromkeys(_CONTROL)
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
# Unicode's control characters (category Cc), as one search rather than a lookup per character.
CONTROL_CHARACTERS = re.compile("[\x00-\x1f\x7f-\x9f]")


def clean_text(value: Any, name: str, limit: int, required: bool = True, label: str = "") -> str:
    """Plain text as typed: line ends unified, control characters dropped, NFC, length-limited.

    Text is stored as text, never as HTML: every view escapes it on the way out. ``label`` is the
    field's name as a form shows it ("Subject"), for messages people read next to that field.
    """
    label = label or name
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise InvalidInput("invalid_field", f"{label} must be text", field=name)
    if len(value) > limit * 4:  # don't normalise megabytes just to refuse them
        raise InvalidInput("too_long", f"{label} must be at most {limit:,} characters", field=name)
    if _LONE_SURROGATE.search(value):
        raise InvalidInput("invalid_field", f"{label} contains an unpaired surrogate", field=name)
    text = unicodedata.normalize("NFC", value.replace("\r\n", "\n").replace("\r", "\n")).translate(_STRIP).strip()
    if required and not text:
        raise InvalidInput("missing_field", f"{label} is required", field=name)
    if len(text) > limit:
        raise InvalidInput("too_long", f"{label} must be at most {limit:,} characters (got {len(text):,})", field=name)
    return text


def breakable_email(address: str) -> Markup:
    """An email address, escaped, that may wrap after its "@" and before each ".", not inside a name."""
    return Markup(str(escape(address)).replace("@", "@<wbr>").replace(".", "<wbr>."))


def link_booking_references(text: str, known: Iterable[str], url_for: Callable[[str], str]) -> Markup:
    """``text`` escaped, each of the ``known`` references in it (any case) a link to ``url_for(reference)``.

    Only known references are linked (a practice's real bookings): "well-known" has the shape too.
    """
    canonical = {reference.lower(): reference for reference in known}
    parts: list[Markup] = []
    done = 0
    for match in BOOKING_REFERENCE_RE.finditer(text):
        reference = canonical.get(match.group(0).lower())
        if reference is None:
            continue
        parts += [escape(text[done:match.start()]),
                  Markup('<a class="booking-ref" href="{}">{}</a>').format(url_for(reference), match.group(0))]
        done = match.end()
    parts.append(escape(text[done:]))
    return Markup("").join(parts)
