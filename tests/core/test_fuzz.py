"""Schema fuzzing: schemathesis against the served OpenAPI document (``/api/v1/openapi.json``),
as an agent, as a practice user and anonymously. Any 5xx fails, and so does a response outside
the documented contract (an undocumented status, a body or header that does not match, a 405
without ``Allow``). Whatever is documented is fuzzed: new endpoints join automatically.

Bounded: ``HELPDESK_FUZZ_EXAMPLES`` examples per operation and identity (default 25), so the
whole run stays within a few minutes. Select it with ``-m fuzz``; the counts are written to
``tests/artifacts/fuzz_counts.json``.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy.orm import Session

from helpdesk.core.agents import create_agent
from helpdesk.core.auth import mint_widget_token

pytestmark = pytest.mark.fuzz

EXAMPLES = int(os.environ.get("HELPDESK_FUZZ_EXAMPLES", "25"))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
          response_headers_conformance]
COUNTS: Counter[str] = Counter()
COUNTS_PATH = Path(__file__).resolve().parents[1] / "artifacts" / "fuzz_counts.json"


@pytest.fixture(scope="module", autouse=True)
def _write_counts() -> Iterator[None]:
    yield
    if COUNTS:
        COUNTS_PATH.parent.mkdir(exist_ok=True)
        COUNTS_PATH.write_text(json.dumps({"examples_per_operation": EXAMPLES, **COUNTS}, indent=2, sort_keys=True) + "\n")


@pytest.fixture
def api_schema(app: Flask, db_session: Session) -> Any:
    app.config["RATELIMIT_ENABLED"] = True
    return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)


@pytest.fixture
def agent_identity(db_session: Session) -> dict[str, str]:
    created = create_agent(db_session, "fuzz@helpdesk.test", "Fuzz Agent", role="admin")
    db_session.commit()
    return {"Authorization": f"Bearer {created.token}"}


@pytest.fixture
def user_identity(app: Flask) -> dict[str, str]:
    with app.app_context():
        return {"Authorization": f"Bearer {mint_widget_token('P1', 'u-fuzz', 'Fuzz', 'fuzz@p1.test')}"}


FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate])


def fuzz(api_schema: Any, identity: dict[str, str], who: str) -> None:
    """Every documented operation, ``EXAMPLES`` cases each; all failures are collected, then reported."""
    failures: dict[str, str] = {}
    operations = 0
    for key in ("cases", "server_errors", "schema_violations"):
        COUNTS.setdefault(key, 0)
    for result in api_schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @given(case=operation.as_strategy())
        @FUZZ
        def send(case: Any) -> None:
            response = case.call(headers={**(case.headers or {}), **identity})
            COUNTS["cases"] += 1
            COUNTS[f"cases_{who}"] += 1
            server_error = response.status_code >= 500
            COUNTS["server_errors"] += server_error
            try:
                case.validate_response(response, checks=CHECKS)
            except BaseException as exc:  # noqa: BLE001  schemathesis raises one failure (group) naming each check
                COUNTS["schema_violations"] += not server_error
                failures.setdefault(f"{operation.method.upper()} {operation.path}",  # noqa: B023 (run at once)
                                    f"{response.status_code}: {str(exc)[:600]}\n{case.as_curl_command()}")

        send()
    COUNTS[f"operations_{who}"] = operations
    assert operations > 10, "the served document lists the API's operations"
    assert not failures, "\n\n".join(f"{op}: {why}" for op, why in failures.items())


def test_as_an_agent(api_schema: Any, agent_identity: dict[str, str]) -> None:
    fuzz(api_schema, agent_identity, "agent")


def test_as_a_practice_user(api_schema: Any, user_identity: dict[str, str]) -> None:
    fuzz(api_schema, user_identity, "practice_user")


def test_anonymous(api_schema: Any) -> None:
    fuzz(api_schema, {}, "anonymous")
