"""The Socket.IO message queue's Redis client manager, with a listener that cannot go deaf.

python-socketio's ``RedisManager`` listens with ``pubsub.listen()``: a blocking read with no
timeout. When the connection to Redis dies without the socket being closed (Redis paused or
restarted behind a proxy, a dropped NAT entry, a half-open TCP connection: python-socketio
issue 1581), that read never returns, and the process stops receiving every other process's
emits while still looking healthy. Here the listener reads with a timeout, PINGs Redis on the
subscribed connection whenever it has heard nothing for ``heartbeat`` seconds, and treats
silence for two heartbeats as a dead connection: it drops it, reconnects (backing off up to
``max_retry_sleep``) and subscribes again. A closed connection (Redis restarted) is caught
the same way, on the next read.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator
from typing import Any

from socketio import RedisManager

log = logging.getLogger(__name__)


class DeadListener(ConnectionError):
    """Redis did not answer a PING on the pub/sub connection in time."""


class WatchfulRedisManager(RedisManager):  # type: ignore[misc]
    name = "redis"

    def __init__(self, url: str, channel: str = "socketio", write_only: bool = False, logger: Any = None,
                 json: Any = None, heartbeat: float = 5.0, max_retry_sleep: float = 5.0,
                 redis_options: dict[str, Any] | None = None) -> None:
        options = {"socket_keepalive": True, "socket_connect_timeout": 5.0, "health_check_interval": 0,
                   **(redis_options or {})}
        super().__init__(url, channel=channel, write_only=write_only, logger=logger, json=json,
                         redis_options=options)
        self.heartbeat = heartbeat
        self.max_retry_sleep = max_retry_sleep
        self.reconnects = 0  # how often the listener came back (tests read it from the log)

    def _close_pubsub(self) -> None:
        # Closing a dead connection may fail; it is dropped anyway.
        with contextlib.suppress(Exception):
            if self.pubsub is not None:
                self.pubsub.close()
        self.connected = False

    def _redis_listen_with_retries(self) -> Iterator[dict[str, Any]]:  # pragma: no cover (tests/cluster)
        retry_sleep = 0.5
        first = True
        while True:
            try:
                self._redis_connect()
                self.pubsub.subscribe(self.channel)
                if not first:
                    self.reconnects += 1
                    log.warning("socketio pub/sub: listening again on %r (reconnect %d)", self.channel, self.reconnects)
                first = False
                retry_sleep = 0.5
                heard = pinged = time.monotonic()
                while True:
                    message = self.pubsub.get_message(timeout=min(1.0, self.heartbeat))
                    now = time.monotonic()
                    if message is not None:
                        heard = now
                        if message.get("type") == "message":
                            yield message
                        continue
                    if now - heard > 2 * self.heartbeat:
                        raise DeadListener(f"no answer from Redis for {now - heard:.1f}s")
                    if now - heard > self.heartbeat and now - pinged > self.heartbeat:
                        self.pubsub.ping()
                        pinged = now
            except Exception as exc:  # noqa: BLE001 (whatever broke, listen again)
                log.error("socketio pub/sub: cannot receive from Redis (%s); retrying in %.1fs", exc, retry_sleep)
                self._close_pubsub()
                time.sleep(retry_sleep)
                retry_sleep = min(retry_sleep * 2, self.max_retry_sleep)
