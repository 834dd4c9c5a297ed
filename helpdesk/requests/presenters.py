"""Request text as a page shows it: escaped, with the booking references it names as links.

A reference is linked only when the practice has a booking by that name (one query for the whole
page), so a word that merely looks like one stays text. The shape of a reference and the linking
are helpdesk.core.text's, shared with the chat console.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from markupsafe import Markup, escape
from sqlalchemy.orm import Session

from helpdesk.core.text import BOOKING_REFERENCE_RE, link_booking_references
from helpdesk.requests import queries

MAX_CANDIDATES = 500


@dataclass(frozen=True)
class ReferenceLinks:
    """Renders text escaped, each mention of one of ``references`` (key: lower-cased) a link.

    ``ReferenceLinks()`` links nothing: the text escaped, for readers with no page to send a
    reference to.
    """

    references: Mapping[str, str] = field(default_factory=dict)
    url: Callable[[str], str] = str

    def __call__(self, text: str) -> Markup:
        if not self.references:
            return escape(text)
        return link_booking_references(text, self.references.values(), self.url)


def reference_links(session: Session, practice_id: str, texts: Iterable[str],
                    url: Callable[[str], str]) -> ReferenceLinks:
    """Links for the practice's booking references named anywhere in ``texts``, to ``url(reference)``."""
    keys: dict[str, None] = {}
    for text in texts:
        keys.update((match.group(0).lower(), None) for match in BOOKING_REFERENCE_RE.finditer(text))
    return ReferenceLinks(queries.booking_references(session, practice_id, list(keys)[:MAX_CANDIDATES]), url)
