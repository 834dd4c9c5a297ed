"""Markdown to safe HTML, one sanitizer for articles and comments, and slugs.

Markdown is rendered by markdown-it-py (CommonMark, plus tables and strikethrough); the HTML is
then cleaned by nh3 (ammonia) against an allow-list of tags, attributes and URL schemes. Articles
may carry inline HTML (editors are trusted with layout, not with scripts); comments may not, and
both go through the same ``sanitize``.
"""

from __future__ import annotations

import html
import re
import unicodedata

import nh3
from markdown_it import MarkdownIt

ALLOWED_TAGS = frozenset({
    "a", "abbr", "b", "blockquote", "br", "code", "dd", "del", "details", "dl", "dt", "em", "h1", "h2",
    "h3", "h4", "h5", "h6", "hr", "i", "img", "kbd", "li", "mark", "ol", "p", "pre", "s", "small", "strong",
    "sub", "summary", "sup", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "u", "ul",
})
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "abbr": {"title"},
    "img": {"src", "alt", "title", "width", "height"},
    "ol": {"start"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan", "scope"},
}
ALLOWED_URL_SCHEMES = frozenset({"http", "https", "mailto"})
# Markers for highlighted search terms: private-use characters, so user text can never forge them.
MARK_START, MARK_END = "\ue000", "\ue001"

_articles = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])
_comments = MarkdownIt("commonmark", {"html": False, "breaks": True}).enable("strikethrough")


def sanitize(markup: str) -> str:
    """The one allow-list sanitizer: anything not on the list is dropped, text is escaped."""
    return nh3.clean(
        markup,
        tags=set(ALLOWED_TAGS),
        attributes={tag: set(attrs) for tag, attrs in ALLOWED_ATTRIBUTES.items()},
        url_schemes=set(ALLOWED_URL_SCHEMES),
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
    )


def render_article(markdown: str) -> str:
    return sanitize(_articles.render(_strip_markers(markdown)))


def render_comment(text: str) -> str:
    return sanitize(_comments.render(_strip_markers(text)))


# Tags inside a line of text: "<strong>pending</strong>." is one word and a full stop, not two words.
_INLINE_TAG = re.compile(r"</?(?:a|abbr|b|code|del|em|i|kbd|mark|s|small|strong|sub|sup|u)\b[^>]*>", re.IGNORECASE)
_TAG = re.compile(r"<[^>]*>")
_SPACE = re.compile(r"\s+")
_SPACE_BEFORE_PUNCTUATION = re.compile(r"\s+(?=[.,;:!?)])")


def tidy_spacing(text: str) -> str:
    """One space between words and none before punctuation ("pending . That" -> "pending. That")."""
    return _SPACE_BEFORE_PUNCTUATION.sub("", _SPACE.sub(" ", text)).strip()


def html_to_text(markup: str) -> str:
    """Plain text of (already sanitized) HTML, for the search index: block tags part words,
    inline tags do not."""
    return tidy_spacing(html.unescape(_TAG.sub(" ", _INLINE_TAG.sub("", markup))))


def highlighted(fragment: str) -> str:
    """Escape a search snippet, then turn the term markers into ``<mark>`` elements. The spacing
    is tidied too, for text indexed before ``html_to_text`` kept inline tags together."""
    escaped = html.escape(tidy_spacing(fragment), quote=False)
    return escaped.replace(MARK_START, "<mark>").replace(MARK_END, "</mark>")


# 'Read "What is a booking collision?"' / 'See: “Lost connection to the practice server”'.
_REFERENCE = re.compile(r'\b((?:read|see):?\s+)("|“|&quot;)([^"“”<>]{3,300}?)("|”|&quot;)', re.IGNORECASE)
_MARKUP = re.compile(r"(<[^>]*>)")
_NO_LINKS_INSIDE = ("a", "code", "pre")


def _text_outside_links(markup: str) -> list[tuple[str, bool]]:
    """The markup in pieces, each flagged True when it is text that may hold a link (not a tag,
    and not inside a link or code)."""
    pieces, inside = [], 0
    for piece in _MARKUP.split(markup):
        if piece.startswith("<"):
            name = piece.strip("</>").split(None, 1)[0].lower() if piece.strip("</>") else ""
            if name in _NO_LINKS_INSIDE and not piece.endswith("/>"):
                inside += -1 if piece.startswith("</") else 1
            pieces.append((piece, False))
        else:
            pieces.append((piece, inside <= 0))
    return pieces


def referenced_titles(markup: str) -> set[str]:
    """The titles (or slugs) an article's HTML refers to with 'Read "..."' or 'See "..."'."""
    return {html.unescape(m.group(3)).strip() for piece, linkable in _text_outside_links(markup) if linkable
            for m in _REFERENCE.finditer(piece)}


def link_references(markup: str, paths: dict[str, tuple[int, str]]) -> str:
    """Turn each 'Read "Title"' whose title ``paths`` knows (as ``{title: (article id, path)}``)
    into a link to that article; an unknown reference stays text."""
    def link(match: re.Match[str]) -> str:
        found = paths.get(html.unescape(match.group(3)).strip())
        if found is None:
            return match.group(0)
        article_id, path = found
        before, opening, title, closing = match.groups()
        return f'{before}{opening}<a href="{html.escape(path)}" data-article-id="{article_id}">{title}</a>{closing}'

    pieces = _text_outside_links(markup)
    return "".join(_REFERENCE.sub(link, piece) if linkable else piece for piece, linkable in pieces)


def _strip_markers(text: str) -> str:
    return text.replace(MARK_START, "").replace(MARK_END, "")


def slugify(text: str, fallback: str = "article", max_length: int = 80) -> str:
    """``"What is a Booking Collision?"`` -> ``"what-is-a-booking-collision"``."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    slug = slug[:max_length].rstrip("-")
    return slug or fallback
