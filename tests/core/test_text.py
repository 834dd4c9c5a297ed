"""Text helpers shared by every domain: addresses that wrap, booking references as links."""

from __future__ import annotations

from helpdesk.core.text import breakable_email, link_booking_references


def test_an_address_may_wrap_after_the_at_and_before_each_dot_and_stays_escaped() -> None:
    assert breakable_email("front.desk@riverside.example") == "front<wbr>.desk@<wbr>riverside<wbr>.example"
    assert breakable_email("<b>@x.test") == "&lt;b&gt;@<wbr>x<wbr>.test"


def test_known_booking_references_become_links_and_everything_else_stays_escaped_text() -> None:
    text = 'See rvd-7k2qx9m and BK-404 <script>alert("x")</script>, a well-known fault'
    html = link_booking_references(text, ["RVD-7K2QX9M"], lambda reference: f"/console/practices/P-1?booking={reference}")
    assert str(html) == ('See <a class="booking-ref" href="/console/practices/P-1?booking=RVD-7K2QX9M">rvd-7k2qx9m</a> and BK-404 '
                         '&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;, a well-known fault')


def test_a_link_target_is_escaped_too() -> None:
    html = link_booking_references("BK-1", ["BK-1"], lambda reference: '/x?a=1&b="2"')
    assert str(html) == '<a class="booking-ref" href="/x?a=1&amp;b=&#34;2&#34;">BK-1</a>'
