"""No input reaches a 500: each class of hostile input gets a 4xx with the JSON error body, at its
one guard (helpdesk/core/guard.py, helpdesk/core/web.py, the ingest validators), and nothing is
stored half."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from helpdesk.bookings.models import Booking
from helpdesk.core.errors import BadInput
from helpdesk.core.guard import MAX_JSON_DEPTH, check_value, parse_json
from tests.helpdesk.factories import booking_created, practice_upserted

DEEP_ARRAY = "[" * 100_000 + "]" * 100_000
DEEP_OBJECT = '{"a":' * 5_000 + "1" + "}" * 5_000

# JSON endpoints of several domains: each must answer the same guard, not its own luck.
JSON_ENDPOINTS = [
    ("POST", "/api/v1/requests"),
    ("PATCH", "/api/v1/requests/1"),
    ("POST", "/api/v1/requests/1/comments"),
    ("POST", "/api/v1/kb/articles/1/vote"),
]


def error_of(response: Any) -> dict[str, Any]:
    body = response.get_json()
    assert isinstance(body, dict) and set(body["error"]) >= {"code", "message"}, response.text
    return body["error"]


@pytest.mark.parametrize("body", [DEEP_ARRAY, DEEP_OBJECT, "[" * (MAX_JSON_DEPTH + 1) + "]" * (MAX_JSON_DEPTH + 1)],
                         ids=["array-100k", "object-5k", "just-over-limit"])
@pytest.mark.parametrize(("method", "path"), JSON_ENDPOINTS)
def test_deeply_nested_json_is_a_400_everywhere(client: FlaskClient, agent_headers: dict[str, str],
                                                user_headers: dict[str, str], method: str, path: str,
                                                body: str) -> None:
    statuses = []
    for headers in (agent_headers, user_headers):  # one of them may be refused first (401/403): still a 4xx
        response = client.open(path, method=method, data=body, content_type="application/json", headers=headers)
        assert 400 <= response.status_code < 500, (path, response.status_code, response.text[:200])
        if response.status_code == 400:
            assert error_of(response)["code"] in {"too_deep", "invalid_json"}
        statuses.append(response.status_code)
    assert 400 in statuses, statuses


def test_deep_json_at_the_signed_ingest_endpoint(signed: Callable[..., Any]) -> None:
    for body in (DEEP_ARRAY, DEEP_OBJECT):
        response = signed(body)
        assert response.status_code == 400 and error_of(response)["code"] in {"too_deep", "invalid_json"}


@pytest.mark.parametrize("text", ["a\\u0000b", "\\ud800", "x\\udfffy"], ids=["nul", "lone-high", "lone-low"])
def test_nul_and_lone_surrogates_in_json_are_refused(client: FlaskClient, user_headers: dict[str, str],
                                                     signed: Callable[..., Any], db_session: Session,
                                                     text: str) -> None:
    body = f'{{"subject": "{text}", "body": "Help", "email": "pat@p1.test", "name": "Pat"}}'
    response = client.post("/api/v1/requests", data=body, content_type="application/json", headers=user_headers)
    assert response.status_code == 400 and error_of(response)["code"] == "invalid_text"
    event = booking_created("BK-NUL", "P1")
    raw = json.dumps([practice_upserted("P1"), event]).replace('"Jane"', f'"{text}"')
    response = signed(raw)
    assert response.status_code == 400 and error_of(response)["code"] == "invalid_text"
    assert db_session.scalar(select(func.count()).select_from(Booking)) == 0  # nothing half-stored


def test_nul_and_invalid_utf8_in_query_strings_and_forms(client: FlaskClient, agent_headers: dict[str, str],
                                                         signed: Callable[..., Any]) -> None:
    assert signed(json.dumps([practice_upserted("P1", name="Riverside Dental")])).status_code == 200
    for raw in ("Riverside%00", "River%00side"):  # NUL is dropped, once, by the guard: the search still works
        response = client.get(f"/api/v1/practices?q={raw}", headers=agent_headers)
        assert response.status_code == 200 and [p["id"] for p in response.get_json()["practices"]] == ["P1"]
        assert client.get(f"/hc/search?q={raw}").status_code == 200
        assert client.get(f"/api/v1/kb/search?q={raw}").status_code == 200
    response = client.post("/hc/session", data="token=%00", content_type="application/x-www-form-urlencoded")
    assert response.status_code == 401  # an empty token, not a crash
    # Bytes that are not UTF-8 are decoded with replacement, never as surrogates: a normal 200.
    assert client.get("/api/v1/practices?q=%ED%A0%80%FF", headers=agent_headers).status_code == 200


@pytest.mark.parametrize("value", [["booking.created"], {"a": 1}, 7, None], ids=["list", "object", "int", "null"])
def test_an_event_type_of_the_wrong_json_type_is_a_422(signed: Callable[..., Any], value: Any) -> None:
    event = booking_created("BK-T", "P1")
    event["type"] = value
    response = signed(json.dumps([event]))
    assert response.status_code == 422, response.text
    assert error_of(response)["field"] == "type"


@pytest.mark.parametrize("moment", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00",
                                    "0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "1899-12-31T23:59:59Z"])
@pytest.mark.parametrize("field", ["occurred_at", "appointment_at"])
def test_dates_outside_what_can_be_stored_are_refused_at_ingest(signed: Callable[..., Any], db_session: Session,
                                                                moment: str, field: str) -> None:
    event = booking_created("BK-D", "P1")
    if field == "occurred_at":
        event["occurred_at"] = moment
    else:
        event["data"]["appointment_at"] = moment
    response = signed(json.dumps([practice_upserted("P1"), event]))
    assert response.status_code == 422, response.text
    assert error_of(response)["field"].endswith(field)
    assert db_session.scalar(select(func.count()).select_from(Booking)) == 0


def test_extreme_but_valid_stored_values_keep_later_reads_working(signed: Callable[..., Any], client: FlaskClient,
                                                                   agent_headers: dict[str, str]) -> None:
    event = booking_created("BK-OLD", "P1", appointment_at="2199-12-31T23:00:00-00:30")
    event["data"]["patient"]["date_of_birth"] = "0001-01-01"
    assert signed(json.dumps([practice_upserted("P1", timezone_name="Pacific/Kiritimati"), event])).status_code == 200
    for path in ("/api/v1/practices/P1/bookings", "/api/v1/practices/P1/bookings/BK-OLD/diagnosis",
                 "/api/v1/practices/P1/health", "/api/v1/practices/P1/integration-events",
                 "/api/v1/practices/P1/bookings?from=1900-01-01&to=2199-12-31"):
        response = client.get(path, headers=agent_headers)
        assert response.status_code == 200, (path, response.text[:300])


@pytest.mark.parametrize("moment", ["0001-01-01", "9999-12-31", "0001-01-01T00:00:00+14:00",
                                    "9999-12-31T23:59:59-14:00", "2026-13-01", "99999-01-01"])
def test_dates_outside_the_range_in_query_parameters_are_a_400(client: FlaskClient, agent_headers: dict[str, str],
                                                               signed: Callable[..., Any], moment: str) -> None:
    assert signed(json.dumps([practice_upserted("P1", timezone_name="Pacific/Kiritimati")])).status_code == 200
    for name in ("from", "to"):
        response = client.get("/api/v1/practices/P1/bookings", query_string={name: moment}, headers=agent_headers)
        assert response.status_code == 400, response.text
        assert error_of(response)["field"] == name


@pytest.mark.parametrize("number", ["2147483648", "9223372036854775808", "9" * 40, "1" + "0" * 5000])
def test_integers_beyond_the_database_in_paths_are_404(client: FlaskClient, agent_headers: dict[str, str],
                                                      user_headers: dict[str, str], number: str) -> None:
    for path, headers in ((f"/api/v1/requests/{number}", agent_headers), (f"/api/v1/requests/{number}", user_headers),
                          (f"/api/v1/kb/articles/{number}", user_headers), (f"/hc/requests/{number}", {}),
                          (f"/console/requests/{number}", {})):
        response = client.get(path, headers=headers)
        assert response.status_code == 404, (path, response.status_code)


def test_the_largest_database_integer_in_a_path_is_still_routed(client: FlaskClient,
                                                                agent_headers: dict[str, str]) -> None:
    response = client.get("/api/v1/requests/2147483647", headers=agent_headers)
    assert response.status_code == 404 and error_of(response)["code"] == "not_found"  # the view answered


@pytest.mark.parametrize("number", ["99999999999999999999999", "1e999", "-9223372036854775809", "NaN", "Infinity"])
def test_numbers_beyond_64_bits_or_not_finite_in_bodies_are_400(client: FlaskClient, user_headers: dict[str, str],
                                                               number: str) -> None:
    body = f'{{"helpful": true, "n": {number}}}'
    response = client.post("/api/v1/kb/articles/1/vote", data=body, content_type="application/json",
                           headers=user_headers)
    assert response.status_code == 400 and error_of(response)["code"] == "invalid_json"


def test_numbers_beyond_64_bits_in_query_strings_are_400(client: FlaskClient, agent_headers: dict[str, str]) -> None:
    response = client.get("/api/v1/requests", query_string={"per_page": "9" * 30}, headers=agent_headers)
    assert response.status_code == 400


def test_a_chunked_body_is_read_within_the_limit(app: Flask, client: FlaskClient, user_headers: dict[str, str]) -> None:
    """The test client (like werkzeug's server) hands over the whole chunked stream: read, bounded."""
    app.config["MAX_CONTENT_LENGTH"] = 1024
    big = b'{"subject": "' + b"x" * 4096 + b'"}'
    response = client.post("/api/v1/requests", input_stream=__import__("io").BytesIO(big),
                           headers={**user_headers, "Transfer-Encoding": "chunked", "Content-Type": "application/json"},
                           environ_overrides={"wsgi.input_terminated": True})
    assert response.status_code == 413, response.text
    assert error_of(response)


def test_a_chunked_body_the_server_cannot_bound_is_411(client: FlaskClient, user_headers: dict[str, str]) -> None:
    response = client.post("/api/v1/requests", data=b'{"subject": "x"}',
                           headers={**user_headers, "Transfer-Encoding": "chunked", "Content-Type": "application/json"})
    assert response.status_code == 411 and error_of(response)["code"] == "length_required"


def test_json_to_a_console_form_is_refused_not_a_crash(client: FlaskClient) -> None:
    for body in ("[1, 2]", '{"email": ["a"], "password": {"x": 1}}'):
        response = client.post("/console/login", data=body, content_type="application/json")
        assert response.status_code == 400, response.text[:200]


def test_check_value_is_iterative_and_exact() -> None:
    ok = [[[{"a": "b"}]]]
    assert check_value(ok) is ok
    with pytest.raises(BadInput):
        check_value(json.loads("[" * 33 + "]" * 33))
    with pytest.raises(BadInput):
        check_value({"k\x00": 1})
    with pytest.raises(BadInput):
        parse_json(b'"\\ud83d"')
    assert parse_json(b'"\\ud83d\\ude00"') == "\U0001f600"  # a proper pair is fine


def test_a_small_chunked_body_is_read_whole(client: FlaskClient, app: Flask) -> None:
    import io

    from helpdesk.core.clock import unix_now
    from helpdesk.core.signing import sign

    raw = json.dumps([practice_upserted("P1"), booking_created("BK-C", "P1")]).encode()
    stamp = str(int(unix_now()))
    response = client.post("/api/v1/ingest/events", input_stream=io.BytesIO(raw), headers={
        "Transfer-Encoding": "chunked", "Content-Type": "application/json", "X-Helpdesk-Timestamp": stamp,
        "X-Helpdesk-Signature": sign(app.config["INGEST_SECRET"], stamp, raw)},
        environ_overrides={"wsgi.input_terminated": True})
    assert response.status_code == 200, response.text
    assert response.get_json() == {"accepted": 2, "duplicates": 0, "queued": 0}


@pytest.mark.parametrize("body", [
    b'{"a": {"b": [1, "x"]}}',
    "[" * 32 + "]" * 32,                                   # exactly the limit
    "[" * 33 + "]" * 33,                                   # one level deeper
    '{"a": ' * 33 + "1" + "}" * 33,
    b'["caf\xc3\xa9", {"k": "\xe2\x82\xac"}]',             # UTF-8 text with no escape
    b'["\\u00e9", "\\u0000"]',                             # an escaped NUL
    b'{"\\u0000": 1}',                                     # ... in a key
    b'["\\ud83d"]',                                        # an escaped lone surrogate
    b'["\\uDE00", "\\u00E9"]',                              # ... in capitals
    b'["Zo\\u00eb", "\\u20ac"]',                            # escapes of plain letters (PHP's default)
    b'["\\ud83d\\ude00"]',                                  # a proper pair
    b'["\xed\xa0\xbd"]',                                   # a surrogate spelt in raw bytes
    '["\ud83d"]',                                          # ... in a str payload (Socket.IO)
    b'\xef\xbb\xbf["bom"]',                                # a UTF-8 byte-order mark
    '\ufeff["bom"]',                                       # ... in a str, which json.loads refuses
    '["a", "b"]'.encode("utf-16"),                         # another encoding JSON accepts
    b'["C:\\\\users"]',                                    # an escaped backslash before a "u"
    b'"plain"', b"12",                                     # a scalar body
])
def test_a_body_with_no_escapes_is_judged_as_the_full_walk_judges_it(body: bytes | str) -> None:
    """``parse_json`` skips walking the strings of a body that cannot hold NUL or a lone surrogate."""

    def verdict(parse: Callable[[], Any]) -> Any:
        try:
            return ("ok", parse())
        except BadInput as exc:
            return ("refused", exc.code)
        except (ValueError, UnicodeError):
            return ("refused", "invalid_json")

    def full_walk() -> Any:
        try:
            return check_value(json.loads(body))
        except RecursionError:
            return ("refused", "too_deep")

    assert verdict(lambda: parse_json(body)) == verdict(full_walk)
