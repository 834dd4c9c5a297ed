"""Limits count against the verified identity (helpdesk/core/auth.py rate_limit_key); 405 carries
Allow and 429 carries Retry-After; limits live in Redis when it is configured."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from helpdesk.core.auth import mint_widget_token


def submit(client: FlaskClient, authorization: str) -> Any:
    return client.post("/api/v1/requests", json={"subject": "Booking missing", "description": "Please look"},
                       headers={"Authorization": authorization})


def test_varying_the_header_text_does_not_buy_a_fresh_limit(app: Flask, client: FlaskClient) -> None:
    app.config["REQUESTS_RATE_LIMIT"] = "3 per minute"
    with app.app_context():
        token = mint_widget_token("P1", "u-1", "Pat", "pat@p1.test")
        other = mint_widget_token("P1", "u-2", "Sam", "sam@p1.test")
    answers = [submit(client, f"Bearer {token}{' ' * i}").status_code for i in range(3)]
    assert answers == [201, 201, 201]
    limited = submit(client, f"bearer   {token}   ")
    assert limited.status_code == 429 and limited.get_json()["error"]["code"] == "too_many_requests"
    assert int(limited.headers["Retry-After"]) > 0
    assert submit(client, f"Bearer {other}").status_code == 201  # another person has their own limit


def test_unverified_tokens_share_the_address_limit(app: Flask, client: FlaskClient) -> None:
    app.config["REQUESTS_RATE_LIMIT"] = "3 per minute"
    statuses = [submit(client, f"Bearer not-a-token-{i}").status_code for i in range(4)]
    assert statuses[:3] == [401, 401, 401] and statuses[3] == 429


def test_405_carries_allow(client: FlaskClient) -> None:
    response = client.delete("/api/v1/practices")
    assert response.status_code == 405 and "GET" in response.headers["Allow"]
    assert response.get_json()["error"]["code"] == "method_not_allowed"
