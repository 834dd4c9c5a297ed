"""Text helpers shared by every domain: booking references in what people write, as links."""

from __future__ import annotations

from helpdesk.core.text import link_booking_references


def test_known_booking_references_become_links_and_everything_else_stays_escaped_text() -> None:
    text = 'See rvd-7k2qx9m and BK-404 <script>alert("x")</script>, a well-known fault'
    html = link_booking_references(text, ["RVD-7K2QX9M"], lambda reference: f"/console/practices/P-1?booking={reference}")
    assert str(html) == ('See <a href="/console/practices/P-1?booking=RVD-7K2QX9M">rvd-7k2qx9m</a> and BK-404 '
                         '&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;, a well-known fault')


def test_a_link_target_is_escaped_too() -> None:
    html = link_booking_references("BK-1", ["BK-1"], lambda reference: '/x?a=1&b="2"')
    assert str(html) == '<a href="/x?a=1&amp;b=&#34;2&#34;">BK-1</a>'
