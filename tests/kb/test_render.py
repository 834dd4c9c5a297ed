"""Markdown rendering and the one allow-list sanitizer that guards articles and comments."""

from __future__ import annotations

from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest

from kb.render import (
    ALLOWED_ATTRIBUTES,
    ALLOWED_TAGS,
    MARK_END,
    MARK_START,
    highlighted,
    html_to_text,
    render_article,
    render_comment,
    sanitize,
    slugify,
)

ATTACKS = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "<a href=\"javascript:alert(1)\">click</a>",
    "[click](javascript:alert(1))",
    "[click](JaVaScRiPt:alert(1))",
    "![x](javascript:alert(1))",
    "<iframe src=\"https://evil.test\"></iframe>",
    "<svg onload=alert(1)><circle/></svg>",
    "<div style=\"background:url(javascript:alert(1))\" onclick=\"alert(1)\">x</div>",
    "<a href=\"data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==\">x</a>",
    "<object data=\"x\"></object><embed src=\"x\">",
    "<form action=\"https://evil.test\"><input name=q></form>",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    "<details open ontoggle=alert(1)>",
    "<<script>script>alert(1)<</script>/script>",
    "<p>\ue000fake mark\ue001</p>",
]


class _Elements(HTMLParser):
    """Every element and attribute the browser would build from the HTML."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, dict(attrs)))


def _inert(html: str) -> None:
    """Only allowed elements and attributes, and no link or image that runs or embeds code."""
    parser = _Elements()
    parser.feed(html)
    for tag, attrs in parser.found:
        assert tag in ALLOWED_TAGS, (tag, html)
        for name, value in attrs.items():
            assert name in ALLOWED_ATTRIBUTES.get(tag, set()) | {"rel"}, (tag, name, html)
            if name in ("href", "src"):
                assert urlsplit(value or "").scheme in ("", "http", "https", "mailto"), (value, html)
    assert MARK_START not in html and MARK_END not in html


@pytest.mark.parametrize("attack", ATTACKS)
def test_articles_and_comments_come_out_inert(attack: str) -> None:
    _inert(render_article(attack))
    _inert(render_comment(attack))
    _inert(render_article(f"Some text\n\n{attack}\n\nmore"))


def test_markdown_renders_the_allowed_elements() -> None:
    html = render_article(
        "## Steps\n\n1. **Open** the [bookings list](https://portal.test/bookings)\n2. Check `BK-1`\n\n"
        "| Channel | Status |\n|---|---|\n| Diary | failed |\n\n> Note\n\n<kbd>Ctrl</kbd>"
    )
    for fragment in ("<h2>Steps</h2>", "<ol>", "<strong>Open</strong>", '<a href="https://portal.test/bookings" rel="noopener noreferrer nofollow">',
                     "<code>BK-1</code>", "<table>", "<td>Diary</td>", "<blockquote>", "<kbd>Ctrl</kbd>"):
        assert fragment in html, fragment


def test_comments_show_html_as_text_but_keep_markdown() -> None:
    html = render_comment("I typed <b>bold</b> and **bold**\nnew line")
    assert "&lt;b&gt;bold&lt;/b&gt;" in html and "<strong>bold</strong>" in html and "<br>" in html


def test_sanitize_is_an_allow_list() -> None:
    assert sanitize('<p class="x" id="y">ok</p><marquee>no</marquee>') == "<p>ok</p>no"
    assert sanitize('<a href="/hc/articles/1-x" title="t">in</a>') == \
        '<a href="/hc/articles/1-x" title="t" rel="noopener noreferrer nofollow">in</a>'


def test_search_snippets_escape_everything_but_their_own_marks() -> None:
    raw = f"<script>x</script> {MARK_START}collision{MARK_END} & more"
    assert highlighted(raw) == "&lt;script&gt;x&lt;/script&gt; <mark>collision</mark> &amp; more"


def test_snippets_have_no_space_before_punctuation_and_marks_add_none() -> None:
    assert highlighted(f"may show as {MARK_START}pending{MARK_END} . That means") == \
        "may show as <mark>pending</mark>. That means"
    assert highlighted(f"{MARK_START}alerts{MARK_END}, {MARK_START}emails{MARK_END} ; and (the diary )") == \
        "<mark>alerts</mark>, <mark>emails</mark>; and (the diary)"


def test_plain_text_and_slugs() -> None:
    assert html_to_text("<p>A &amp; B</p>\n<ul><li>one</li><li>two</li></ul>") == "A & B one two"
    assert html_to_text("<p>the diary may show as <strong>pending</strong>. That means</p>") == \
        "the diary may show as pending. That means"
    assert html_to_text('<p><a href="/x">book</a>ings, <em>one</em><br>two</p><p>three</p>') == "bookings, one two three"
    assert slugify("What is a Booking Collision?") == "what-is-a-booking-collision"
    assert slugify("Réglages des e-mails") == "reglages-des-e-mails"
    assert slugify("🙂🙂") == "article"
    assert len(slugify("word " * 100)) <= 80
