"""URL rules whose ``url_for`` builders are compiled once per process, not once per app.

Werkzeug compiles two Python functions for every rule it binds (generated source through
``compile``): about 40 of the 55 ms ``create_app`` took with the helpdesk's 130 rules, paid
again by every app the process creates (every test, every worker start). The function depends
only on the rule's text, its converters and its defaults, and reads the converters through the
rule it is bound to, so one compiled function serves every rule that has the same of those.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from werkzeug.routing import Rule

_BUILDERS: dict[tuple[Any, ...], Callable[..., tuple[str, str]]] = {}


class BuilderCachingRule(Rule):
    def _compile_builder(self, append_unknown: bool = True) -> Callable[..., tuple[str, str]]:
        key = self._builder_key(append_unknown)
        if key is None:  # a default that is not hashable: compile as werkzeug does
            return super()._compile_builder(append_unknown)
        builder = _BUILDERS.get(key)
        if builder is None:
            builder = _BUILDERS[key] = super()._compile_builder(append_unknown)
        return builder

    def _builder_key(self, append_unknown: bool) -> tuple[Any, ...] | None:
        """Everything the generated function is made of: the parsed parts, each default, and
        each converter's class (a default in a dynamic part is built with its ``to_url``)."""
        defaults = tuple(sorted((self.defaults or {}).items()))
        converters = tuple(sorted((name, type(converter)) for name, converter in self._converters.items()))
        key = (self.rule, tuple(self._trace), defaults, converters, append_unknown)
        try:
            hash(key)
        except TypeError:
            return None
        return key
