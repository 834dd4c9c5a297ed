"""Headers on every page, proxies trusted only when configured, links never from the Host header
(helpdesk/core/security.py, helpdesk/core/extensions.py origin_check, helpdesk/core/web.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from helpdesk import create_app
from helpdesk.core.extensions import origin_check
from helpdesk.core.web import absolute_link

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_DIRS = [p for p in ROOT.glob("**/templates") if ".venv" not in p.parts and "node_modules" not in p.parts]


@pytest.mark.parametrize("path", ["/console/login", "/hc", "/hc/search?q=x", "/hc/requests", "/hc/nope"])
def test_console_and_help_center_pages_send_a_strict_policy(client: FlaskClient, path: str) -> None:
    response = client.get(path)
    assert "text/html" in response.content_type
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy.split("script-src")[1].split(";")[0]
    assert "frame-ancestors 'none'" in policy
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
    assert "Strict-Transport-Security" not in response.headers  # cookies are not secure here


def test_the_widget_panel_keeps_its_own_frame_list(app: Flask, client: FlaskClient) -> None:
    app.config["WIDGET_ORIGINS"] = ["https://portal.example"]
    response = client.get("/widget/panel")
    assert "frame-ancestors 'self' https://portal.example" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_json_answers_are_nosniff_too(client: FlaskClient) -> None:
    response = client.get("/api/v1/practices")
    assert response.status_code == 401 and response.headers["X-Content-Type-Options"] == "nosniff"


def test_hsts_when_cookies_are_secure(app_config: dict[str, Any], db_session: Any) -> None:
    app = create_app({**app_config, "SESSION_COOKIE_SECURE": True})
    response = app.test_client().get("/console/login")
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")


def test_no_template_has_an_inline_script() -> None:
    import re

    found = []
    for folder in TEMPLATE_DIRS:
        for template in folder.rglob("*.html"):
            text = template.read_text()
            for tag in re.findall(r"<script\b[^>]*>", text, flags=re.IGNORECASE):
                if "src=" not in tag and 'type="application/json"' not in tag:
                    found.append(f"{template.relative_to(ROOT)}: {tag}")
            if re.search(r"\son[a-z]+\s*=\s*[\"']", text):
                found.append(f"{template.relative_to(ROOT)}: an inline on...= handler")
    assert not found, found


def test_the_origin_check_trusts_forwarded_headers_only_behind_a_configured_proxy() -> None:
    environ = {"wsgi.url_scheme": "http", "HTTP_HOST": "app:5000",
               "HTTP_X_FORWARDED_HOST": "evil.example", "HTTP_X_FORWARDED_PROTO": "https"}
    assert origin_check([])("http://app:5000", environ)
    assert not origin_check([])("https://evil.example", environ)  # a header the attacker wrote
    assert origin_check([], trust_proxy=True)("https://evil.example", environ)
    assert origin_check(["https://portal.example"])("https://portal.example", environ)


def test_proxy_fix_applies_only_when_configured(app_config: dict[str, Any], db_session: Any) -> None:
    headers = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "help.example.com"}
    plain = create_app(app_config)
    with plain.test_request_context("/", headers=headers):
        from flask import request

        assert request.host == "localhost" and request.scheme == "http"
    proxied = create_app({**app_config, "PROXY_FIX": 1})

    @proxied.get("/_where")
    def where() -> str:
        from flask import request

        return f"{request.scheme}://{request.host}"

    assert proxied.test_client().get("/_where", headers=headers).text == "https://help.example.com"


def test_email_links_never_come_from_the_host_header(app: Flask) -> None:
    app.config["PUBLIC_URL"] = "https://help.example.com/"
    with app.test_request_context("/", headers={"Host": "evil.example"}):
        assert absolute_link("/hc/requests/1") == "https://help.example.com/hc/requests/1"
    app.config["PUBLIC_URL"] = None
    with app.test_request_context("/", headers={"Host": "evil.example"}):
        assert "evil.example" not in absolute_link("/hc/requests/1")


def _start(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("HELPDESK_") and k != "FLASK_RUN_FROM_CLI"}
    environ |= {"HELPDESK_INSTANCE_DIR": str(tmp_path), "HELPDESK_ASYNC_MODE": "threading", **env}
    # os._exit: the rate limiter's timer thread is not joined (under faketime a timed wait never ends).
    code = ("import os, traceback\nfrom helpdesk import create_app\ntry:\n    create_app()\n"
            "except BaseException:\n    traceback.print_exc()\n    os._exit(1)\nos._exit(0)")
    return subprocess.run([sys.executable, "-c", code], check=False, cwd=ROOT, env=environ, capture_output=True, text=True,
                          timeout=120)


def test_public_url_is_required_outside_the_embedded_default(tmp_path: Path) -> None:
    database = f"sqlite:///{tmp_path / 'x.db'}"
    refused = _start(tmp_path, HELPDESK_DATABASE_URL=database)
    assert refused.returncode != 0 and "HELPDESK_PUBLIC_URL is required" in refused.stderr
    assert _start(tmp_path, HELPDESK_DATABASE_URL=database, HELPDESK_PUBLIC_URL="https://help.example.com").returncode == 0
    assert _start(tmp_path).returncode == 0, "the embedded default needs no PUBLIC_URL"


def test_session_cookies_follow_a_key_rotation(app: Flask) -> None:
    """The session serializer is built once per set of keys: a rotated key signs new cookies,
    the old one (now a fallback) still reads the cookies it signed, and a dropped key reads none."""
    cookies = app.session_interface
    old_serializer = cookies.get_signing_serializer(app)
    assert old_serializer is cookies.get_signing_serializer(app)
    signed_before = old_serializer.dumps({"agent_id": 7})
    previous_key = app.secret_key
    try:
        app.secret_key = "rotated-" + str(previous_key)
        app.config["SECRET_KEY_FALLBACKS"] = [previous_key]
        rotated = cookies.get_signing_serializer(app)
        assert rotated is not old_serializer
        assert rotated.loads(signed_before) == {"agent_id": 7}
        assert rotated.loads(rotated.dumps({"agent_id": 8})) == {"agent_id": 8}
        app.config["SECRET_KEY_FALLBACKS"] = []
        with pytest.raises(Exception, match="Signature"):
            cookies.get_signing_serializer(app).loads(signed_before)
    finally:
        app.secret_key = previous_key
        app.config["SECRET_KEY_FALLBACKS"] = []


def test_a_console_session_survives_many_requests_on_the_cached_serializer(client: FlaskClient, app: Flask) -> None:
    with client.session_transaction() as session:
        session["probe"] = "kept"
    for _ in range(3):
        client.get("/hc")
        with client.session_transaction() as session:
            assert session["probe"] == "kept"
