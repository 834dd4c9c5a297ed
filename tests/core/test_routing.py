"""Builders compiled once per process build what werkzeug's own would, for every rule of the app."""

from __future__ import annotations

from typing import Any

from flask import Flask, url_for
from werkzeug.routing import Map, Rule

from helpdesk import create_app
from helpdesk.core.routing import BuilderCachingRule


def same_function(one: Any, other: Any) -> bool:
    a, b = one.__code__, other.__code__
    return (a.co_code, a.co_consts, a.co_names, a.co_varnames) == (b.co_code, b.co_consts, b.co_names, b.co_varnames)


def test_every_rule_of_the_app_gets_werkzeugs_own_builders(app: Flask) -> None:
    rules = list(app.url_map.iter_rules())
    assert len(rules) > 100 and all(isinstance(rule, BuilderCachingRule) for rule in rules)
    for rule in rules:
        for append_unknown in (False, True):
            assert same_function(rule._compile_builder(append_unknown), Rule._compile_builder(rule, append_unknown))


def test_a_second_app_reuses_the_first_apps_builders_and_builds_the_same_urls(app: Flask,
                                                                               app_config: dict[str, Any]) -> None:
    other = create_app(app_config)
    mine = {(rule.endpoint, rule.rule): rule for rule in app.url_map.iter_rules()}
    for rule in other.url_map.iter_rules():
        assert rule._build.__func__ is mine[rule.endpoint, rule.rule]._build.__func__
        assert rule._build.__self__ is rule  # bound to its own rule, so its own converters
    for application in (app, other):
        with application.test_request_context():
            assert url_for("hc.article", ref="7-a b") == "/hc/articles/7-a%20b"
            assert url_for("kb_api.follow", kind="sections", target_id=3, src="widget") \
                == "/api/v1/kb/sections/3/follow?src=widget"


def test_rules_differing_only_in_a_default_get_different_builders() -> None:
    url_map = Map([BuilderCachingRule("/page/<int:n>", endpoint="first", defaults={"n": 1}),
                   BuilderCachingRule("/page/<int:n>", endpoint="other", defaults={"n": 2}),
                   BuilderCachingRule("/page/<int:n>", endpoint="any")])
    urls = url_map.bind("example.org")
    assert urls.build("first") == "/page/1"
    assert urls.build("other") == "/page/2"
    assert urls.build("any", {"n": 5}) == "/page/5"


def test_a_default_that_cannot_be_hashed_still_builds() -> None:
    url_map = Map([BuilderCachingRule("/tags", endpoint="tags", defaults={"tags": ["a"]})])
    assert url_map.bind("example.org").build("tags") == "/tags"
