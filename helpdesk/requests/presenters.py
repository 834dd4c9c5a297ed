"""Request text as a page shows it: escaped, with the booking references it names as links.

A reference is linked only when the practice has a booking by that name (one query for the whole
page), so a word that merely looks like one ("COVID-19") stays text.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from markupsafe import Markup, escape
from sqlalchemy.orm import Session

from helpdesk.requests import queries
from helpdesk.requests.service import REFERENCE_RE

# A run of the characters a reference is made of; the punctuation that ends a sentence is not part of it.
_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/-]*")
_TRAILING = "._/-"
MAX_CANDIDATES = 500


def _reference_words(text: str) -> Iterable[tuple[int, str]]:
    """Where each word that could be a booking reference starts, and the word."""
    for match in _WORD.finditer(text):
        word = match.group(0).rstrip(_TRAILING)
        if len(word) >= 3 and REFERENCE_RE.match(word) and any(ch.isdigit() for ch in word):
            yield match.start(), word


@dataclass(frozen=True)
class ReferenceLinks:
    """Renders text escaped, each mention of one of ``references`` (key: lower-cased) a link.

    ``ReferenceLinks()`` links nothing: the text escaped, for readers with no page to send a
    reference to.
    """

    references: Mapping[str, str] = field(default_factory=dict)
    url: Callable[[str], str] = str

    def __call__(self, text: str) -> Markup:
        parts, done = [], 0
        for start, word in _reference_words(text) if self.references else ():
            reference = self.references.get(word.lower())
            if reference is None:
                continue
            parts += [escape(text[done:start]),
                      Markup('<a class="booking-ref" href="{}">{}</a>').format(self.url(reference), word)]
            done = start + len(word)
        parts.append(escape(text[done:]))
        return Markup("").join(parts)


def reference_links(session: Session, practice_id: str, texts: Iterable[str],
                    url: Callable[[str], str]) -> ReferenceLinks:
    """Links for the practice's booking references named anywhere in ``texts``, to ``url(reference)``."""
    keys: dict[str, None] = {}
    for text in texts:
        keys.update((word.lower(), None) for _, word in _reference_words(text))
    return ReferenceLinks(queries.booking_references(session, practice_id, list(keys)[:MAX_CANDIDATES]), url)
