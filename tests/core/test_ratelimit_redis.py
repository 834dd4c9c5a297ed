"""Limits live in Redis when ``HELPDESK_RATELIMIT_STORAGE_URI`` names it: shared by every process."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from helpdesk.core.auth import mint_widget_token
from tests.core.test_abuse import submit

PATTERN = "*practice:P-redis:user:u-redis*"


@pytest.fixture
def app_config(app_config: dict[str, Any], redis_url: str) -> dict[str, Any]:
    return {**app_config, "RATELIMIT_STORAGE_URI": redis_url, "REQUESTS_RATE_LIMIT": "2 per minute"}


@pytest.fixture
def store(redis_url: str) -> Iterator[Any]:
    import redis

    client = redis.Redis.from_url(redis_url)
    for key in client.scan_iter(PATTERN):
        client.delete(key)
    yield client
    for key in client.scan_iter(PATTERN):
        client.delete(key)
    client.close()


def test_limits_are_kept_in_redis(app: Flask, client: FlaskClient, store: Any) -> None:
    with app.app_context():
        token = mint_widget_token("P-redis", "u-redis", "Pat", "pat@redis.test")
    assert [submit(client, f"Bearer {token}").status_code for _ in range(3)] == [201, 201, 429]
    assert list(store.scan_iter(PATTERN)), "the limit's counter lives in Redis"
