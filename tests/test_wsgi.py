"""Eventlet stays at the edge: only wsgi.py imports it, and only when it serves."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
APP_PACKAGES = ("helpdesk", "chat", "kb")
EVENTLET_IMPORT = re.compile(r"^\s*(?:import|from)\s+eventlet\b|import_module\(\s*['\"]eventlet", re.MULTILINE)


def _import_wsgi(tmp_path: Path, code: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k not in {"HELPDESK_ASYNC_MODE", "FLASK_RUN_FROM_CLI"}}
    environ |= {
        "HELPDESK_INSTANCE_DIR": str(tmp_path),
        "HELPDESK_DATABASE_URL": f"sqlite:///{tmp_path / 'wsgi.db'}",
        "HELPDESK_PUBLIC_URL": "https://help.example.test",
        **env,
    }
    # Leave at once once the checks passed: the rate limiter's timer thread would be joined at exit,
    # and under a shifted clock (faketime, make test-shifted) a timed wait never ends.
    code += "; import os; os._exit(0)"
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=environ, capture_output=True, text=True, timeout=120
    )


def _passes_under_wsgi(tmp_path: Path, code: str, **env: str) -> None:
    """``code`` runs to its end in a fresh interpreter that imported wsgi.py as the server would."""
    result = _import_wsgi(tmp_path, code, **env)
    assert result.returncode == 0, result.stderr


def test_flask_cli_does_not_import_eventlet(tmp_path: Path) -> None:
    code = (
        "import os; os.environ['FLASK_RUN_FROM_CLI'] = 'true'; import wsgi, sys; "
        "assert 'eventlet' not in sys.modules; assert wsgi.app.config['ASYNC_MODE'] == 'threading'"
    )
    _passes_under_wsgi(tmp_path, code)


def test_threading_mode_does_not_import_eventlet(tmp_path: Path) -> None:
    code = "import wsgi, sys; assert 'eventlet' not in sys.modules"
    _passes_under_wsgi(tmp_path, code, HELPDESK_ASYNC_MODE="threading")


def test_serving_with_eventlet_monkey_patches(tmp_path: Path) -> None:
    code = (
        "import wsgi, eventlet.patcher; assert eventlet.patcher.is_monkey_patched('socket'); "
        "assert wsgi.app.config['ASYNC_MODE'] == 'eventlet'"
    )
    _passes_under_wsgi(tmp_path, code)


@pytest.mark.parametrize("package", APP_PACKAGES)
def test_app_code_never_imports_eventlet(package: str) -> None:
    offenders = [
        f"{path.relative_to(ROOT)}:{text.count(chr(10), 0, match.start()) + 1}"
        for path in sorted((ROOT / package).rglob("*.py"))
        for text in [path.read_text(encoding="utf-8")]
        for match in EVENTLET_IMPORT.finditer(text)
    ]
    assert not offenders, f"only wsgi.py may import eventlet: {offenders}"


def test_under_eventlet_psycopg_waits_through_the_patched_select(tmp_path: Path) -> None:
    """psycopg picks its C wait unless it sees gevent; under eventlet that froze the hub."""
    code = "import wsgi, psycopg.waiting; assert psycopg.waiting.wait is psycopg.waiting.wait_select"
    _passes_under_wsgi(tmp_path, code)


def test_under_eventlet_websocket_frames_are_unmasked_in_one_operation(tmp_path: Path) -> None:
    code = (
        "import wsgi, eventlet.websocket as ws; from helpdesk.core.sockets import apply_websocket_mask; "
        "assert ws.RFC6455WebSocket._apply_mask is apply_websocket_mask"
    )
    _passes_under_wsgi(tmp_path, code)


def test_a_postgresql_query_lets_the_other_green_threads_run(tmp_path: Path, database_url: str) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("PostgreSQL's wait: SQLite answers in-process, with no server to wait for")
    code = (
        "import wsgi, eventlet; from sqlalchemy import text; from helpdesk.core.db import get_engine; "
        "ticks = []; "
        "eventlet.spawn(lambda: [(ticks.append(1), eventlet.sleep(0.01)) for _ in range(200)]); "
        "connection = get_engine(wsgi.app).connect(); connection.execute(text('SELECT pg_sleep(0.5)')); "
        "connection.close(); assert len(ticks) >= 20, f'{len(ticks)} ticks while PostgreSQL slept 0.5 s'"
    )
    _passes_under_wsgi(tmp_path, code, HELPDESK_DATABASE_URL=database_url)
