"""Text helpers shared by every domain."""

from __future__ import annotations

from helpdesk.core.text import breakable_email


def test_an_address_may_wrap_after_the_at_and_before_each_dot_and_stays_escaped() -> None:
    assert breakable_email("front.desk@riverside.example") == "front<wbr>.desk@<wbr>riverside<wbr>.example"
    assert breakable_email("<b>@x.test") == "&lt;b&gt;@<wbr>x<wbr>.test"
