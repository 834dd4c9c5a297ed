"""Fixtures for the outbox tests: real SMTP and webhook servers on loopback."""

from __future__ import annotations

from typing import Any

import pytest

from tests.helpdesk.outbox.servers import (  # noqa: F401 (fixtures)
    SmtpServer,
    smtp,
    smtp_server,
    webhook_receiver,
)


@pytest.fixture
def app_config(app_config: dict[str, Any], smtp_server: SmtpServer) -> dict[str, Any]:
    return {**app_config, "SMTP_URL": smtp_server.url, "PUBLIC_URL": "http://help.test",
            "MAIL_FROM": "Practice Helpdesk <support@help.test>"}
