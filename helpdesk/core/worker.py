"""Background loops (the outbox sender, the incident watch and digest), and where they run.

Domains register their loop in ``init_app`` with :func:`register_loop`; this module never
imports a domain. A single server (``python wsgi.py``) runs every registered loop in-process,
as it always has. In a cluster the web processes run none of them
(``HELPDESK_BACKGROUND_LOOPS=false``) and ONE separate process runs them all::

    flask --app wsgi worker run

so N web processes never sweep, digest or send N times over (the outbox claims rows safely
anyway; the digest and the sweep would just do the same work N times).
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import click
from flask import Flask, current_app
from flask.cli import AppGroup

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Loop:
    name: str
    run: Callable[[Flask], Any]  # runs forever
    setting: str | None = None  # a boolean config key that can switch this loop off


def register_loop(app: Flask, name: str, run: Callable[[Flask], Any], setting: str | None = None) -> None:
    app.extensions.setdefault("background_loops", {})[name] = Loop(name, run, setting)


def loops(app: Flask) -> list[Loop]:
    """The registered loops that their own setting leaves on."""
    registered: dict[str, Loop] = app.extensions.get("background_loops", {})
    return [loop for loop in registered.values() if not loop.setting or app.config.get(loop.setting, True)]


def start_in_server(app: Flask) -> list[str]:
    """``wsgi.py``: start the loops inside the web process, unless BACKGROUND_LOOPS is off."""
    if app.config.get("TESTING") or not app.config.get("BACKGROUND_LOOPS", True):
        return []
    from helpdesk.core.extensions import socketio

    started = []
    for loop in loops(app):
        socketio.start_background_task(loop.run, app)
        started.append(loop.name)
    return started


def _guarded(app: Flask, loop: Loop) -> None:
    """A loop that raises is logged and started again: the worker outlives its loops' bugs."""
    while True:
        try:
            loop.run(app)
            return
        except Exception:  # noqa: BLE001
            log.exception("worker: the %s loop crashed; restarting it in 5 s", loop.name)
            threading.Event().wait(5)


def worker_group() -> AppGroup:
    group = AppGroup("worker", help="The separate process for the background loops (cluster mode).")

    @group.command("run")
    @click.option("--only", multiple=True, help="Run only these loops (repeatable).")
    def run(only: tuple[str, ...]) -> None:
        """Run every registered loop until SIGTERM or Ctrl+C."""
        app = current_app._get_current_object()  # type: ignore[attr-defined]
        chosen = [loop for loop in loops(app) if not only or loop.name in only]
        if not chosen:
            raise click.ClickException("no background loop is enabled")
        stop = threading.Event()
        for stopping in (signal.SIGTERM, signal.SIGINT):  # systemd's stop, or Ctrl+C
            signal.signal(stopping, lambda *_: stop.set())
        for loop in chosen:
            threading.Thread(target=_guarded, args=(app, loop), name=f"loop-{loop.name}", daemon=True).start()
        click.echo(f"worker: running {', '.join(loop.name for loop in chosen)}", err=True)
        stop.wait()
        click.echo("worker: stopped", err=True)

    return group
