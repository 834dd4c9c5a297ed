"""Configuration from ``HELPDESK_*`` environment variables, with safe embedded defaults."""

from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
INSTANCE_DIR = Path(os.environ.get("HELPDESK_INSTANCE_DIR", PROJECT_ROOT / "instance"))


def _env(name: str, default: str | None = None) -> str | None:
    return os.environ.get(f"HELPDESK_{name}", default)


def _env_bool(name: str, default: bool) -> bool:
    value = _env(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in (_env(name, default) or "").split(",") if item.strip()]


def _instance_secret(name: str) -> str:
    """Secrets never live in the repository: take the env var, else one generated per instance.

    The generated value is kept in ``instance/`` so that restarts keep sessions and tokens valid.
    """
    value = _env(name)
    if value:
        return value
    INSTANCE_DIR.mkdir(parents=True, exist_ok=True)
    path = INSTANCE_DIR / f"{name.lower()}.secret"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(32))
        path.chmod(0o600)
    return path.read_text().strip()


class Config:
    """Read once, when the app is created, so tests can set the environment first."""

    def __init__(self) -> None:
        self.DATABASE_URL = _env("DATABASE_URL") or f"sqlite:///{INSTANCE_DIR / 'helpdesk.db'}"
        self.SECRET_KEY = _instance_secret("SECRET_KEY")
        self.INGEST_SECRET = _instance_secret("INGEST_SECRET")
        self.WIDGET_SECRET = _instance_secret("WIDGET_SECRET")
        self.INGEST_MAX_SKEW_SECONDS = int(_env("INGEST_MAX_SKEW_SECONDS", "300"))
        self.INGEST_MAX_BATCH = int(_env("INGEST_MAX_BATCH", "5000"))
        # A bigger batch is queued: stored and answered, then projected by the projection loop
        # (helpdesk/bookings/projection.py) once batches pause, or after the lag at the latest.
        self.INGEST_INLINE_MAX_EVENTS = int(_env("INGEST_INLINE_MAX_EVENTS", "100"))
        self.INGEST_PROJECTION_CHUNK = int(_env("INGEST_PROJECTION_CHUNK", "2000"))
        self.INGEST_PROJECTION_QUIET_SECONDS = float(_env("INGEST_PROJECTION_QUIET_SECONDS", "0.2"))
        self.INGEST_PROJECTION_MAX_LAG_SECONDS = float(_env("INGEST_PROJECTION_MAX_LAG_SECONDS", "5"))
        self.INGEST_PROJECTION_POLL_SECONDS = float(_env("INGEST_PROJECTION_POLL_SECONDS", "0.1"))
        self.PROJECTION_LOOP = _env_bool("PROJECTION_LOOP", True)
        self.MAX_CONTENT_LENGTH = int(_env("MAX_CONTENT_LENGTH", str(16 * 1024 * 1024)))
        self.HOST = _env("HOST", "127.0.0.1")
        self.PORT = int(_env("PORT", "5000"))
        self.ASYNC_MODE = _env("ASYNC_MODE", "eventlet")
        self.SOCKETIO_MESSAGE_QUEUE = _env("SOCKETIO_MESSAGE_QUEUE")
        self.SOCKETIO_CHANNEL = _env("SOCKETIO_CHANNEL", "flask-socketio")  # the message queue's channel: one per deployment
        self.ALLOWED_ORIGINS = _env_list("ALLOWED_ORIGINS")
        self.WIDGET_ORIGINS = _env_list("WIDGET_ORIGINS")  # portals allowed to embed the help widget (helpdesk/widget)
        # /demo/portal (helpdesk/widget): on in the embedded SQLite setup, off once a database URL is set.
        self.DEMO_PORTAL = _env_bool("DEMO_PORTAL", _env("DATABASE_URL") is None)
        # Where practice staff sign in (the platform's practice admin portal, with the help widget):
        # the Help Center's "Sign in" page links there. Unset: the demo portal when it is served.
        self.PORTAL_URL = _env("PORTAL_URL")
        self.CHAT_MESSAGE_BURST = float(_env("CHAT_MESSAGE_BURST", "30"))
        self.CHAT_MESSAGES_PER_SECOND = float(_env("CHAT_MESSAGES_PER_SECOND", "10"))  # 0: no limit
        self.TCP_NODELAY = _env_bool("TCP_NODELAY", True)  # wsgi.py, eventlet: see docs/PERFORMANCE.md "Live chat"
        self.WEBSOCKET_COMPRESSION = _env_bool("WEBSOCKET_COMPRESSION", False)  # permessage-deflate: helpdesk.core.sockets
        self.MAX_CONNECTIONS = int(_env("MAX_CONNECTIONS", "10000"))  # wsgi.py, eventlet: open sockets per process
        self.RATELIMIT_STORAGE_URI = _env("RATELIMIT_STORAGE_URI", "memory://")
        self.LOGIN_RATE_LIMIT = _env("LOGIN_RATE_LIMIT", "10 per minute")
        self.RATELIMIT_ENABLED = _env_bool("RATELIMIT_ENABLED", True)
        self.RATELIMIT_HEADERS_ENABLED = True  # a 429 carries Retry-After (and X-RateLimit-*)
        self.SESSION_COOKIE_SECURE = _env_bool("SESSION_COOKIE_SECURE", False)  # also turns on HSTS (core/security.py)
        self.PROXY_FIX = int(_env("PROXY_FIX", "0"))  # proxies in front that set X-Forwarded-*; 0: trust none
        self.SESSION_COOKIE_HTTPONLY = True
        self.SESSION_COOKIE_SAMESITE = "Lax"
        self.PERMANENT_SESSION_LIFETIME = timedelta(hours=int(_env("SESSION_HOURS", "12")))
        self.WTF_CSRF_TIME_LIMIT = None
        self.BOOKINGS_PAGE_SIZE = int(_env("BOOKINGS_PAGE_SIZE", "50"))
        self.HEALTH_WINDOW_DAYS = int(_env("HEALTH_WINDOW_DAYS", "30"))
        self.CONNECTOR_SILENT_AFTER_MINUTES = int(_env("CONNECTOR_SILENT_AFTER_MINUTES", "15"))
        self.WORKSPACE_POLL_SECONDS = float(_env("WORKSPACE_POLL_SECONDS", "10"))  # console counts (helpdesk/workspace)
        # Bookings at risk, the morning digest and incidents (helpdesk/bookings: digest, incidents, watch).
        self.DIGEST_DEFAULT_TIME = _env("DIGEST_DEFAULT_TIME", "07:00")  # local, when a practice sets none
        self.DIGEST_CATCH_UP_MINUTES = int(_env("DIGEST_CATCH_UP_MINUTES", "180"))  # still sent this late, not later
        self.INCIDENT_CONNECTOR_MINUTES = int(_env("INCIDENT_CONNECTOR_MINUTES", "15"))  # of opening time
        self.INCIDENT_FAILED_INSERTS = int(_env("INCIDENT_FAILED_INSERTS", "3"))
        self.INCIDENT_FAILED_WINDOW_MINUTES = int(_env("INCIDENT_FAILED_WINDOW_MINUTES", "60"))
        self.INCIDENT_PLATFORM_PRACTICES = int(_env("INCIDENT_PLATFORM_PRACTICES", "5"))
        self.INCIDENT_DETECT_AT_INGEST = _env_bool("INCIDENT_DETECT_AT_INGEST", True)  # off only to measure its cost
        self.BACKGROUND_LOOPS = _env_bool("BACKGROUND_LOOPS", True)  # off on cluster web processes: `flask worker run` runs them
        self.WATCH_LOOP = _env_bool("WATCH_LOOP", True)  # the server's incident sweep and digest loop
        self.WATCH_INTERVAL_SECONDS = float(_env("WATCH_INTERVAL_SECONDS", "60"))
        self.SQL_ECHO = _env_bool("SQL_ECHO", False)
        # Requests and the outbox (helpdesk/requests, helpdesk/outbox).
        self.PUBLIC_URL = _env("PUBLIC_URL")  # how emails link back, e.g. https://help.example.com
        self.SMTP_URL = _env("SMTP_URL")  # e.g. smtp://127.0.0.1:1025; unset: emails wait in the outbox
        self.MAIL_FROM = _env("MAIL_FROM", "Practice Helpdesk <helpdesk@localhost>")
        self.WEBHOOK_URLS = _env_list("WEBHOOK_URLS")
        self.WEBHOOK_SECRET = _instance_secret("WEBHOOK_SECRET")
        self.OUTBOX_LOOP = _env_bool("OUTBOX_LOOP", True)  # the server's background sender
        self.OUTBOX_INTERVAL_SECONDS = float(_env("OUTBOX_INTERVAL_SECONDS", "5"))
        self.REQUESTS_CLOSE_AFTER_DAYS = int(_env("REQUESTS_CLOSE_AFTER_DAYS", "4"))
        self.REQUESTS_RATE_LIMIT = _env("REQUESTS_RATE_LIMIT", "5 per minute;30 per day")
        self.OUTBOX_BACKOFF_SECONDS = float(_env("OUTBOX_BACKOFF_SECONDS", "30"))
        self.OUTBOX_BACKOFF_MAX_SECONDS = float(_env("OUTBOX_BACKOFF_MAX_SECONDS", "3600"))
        self.OUTBOX_MAX_ATTEMPTS = int(_env("OUTBOX_MAX_ATTEMPTS", "25"))  # with the cap, about a day of retries
        self.KB_WRITE_RATE_LIMIT = _env("KB_WRITE_RATE_LIMIT", "60 per minute")  # votes, follows, comments
        # The email channel (helpdesk/requests/mail): `flask mail serve` listens here.
        self.MAIL_LISTEN = _env("MAIL_LISTEN", "127.0.0.1:2525")
        self.MAIL_REPLY_DOMAIN = _env("MAIL_REPLY_DOMAIN")  # support+<token>@this; unset: MAIL_FROM's domain
        self.MAIL_MAX_BYTES = int(_env("MAIL_MAX_BYTES", str(25 * 1024 * 1024)))
        self.MAIL_SENDER_PER_HOUR = int(_env("MAIL_SENDER_PER_HOUR", "30"))  # mails kept per sender per hour
        self.IMAP_URL = _env("IMAP_URL")  # imap(s)://user:pass@host/INBOX: `flask mail poll` instead of SMTP
        self.IMAP_INTERVAL_SECONDS = float(_env("IMAP_INTERVAL_SECONDS", "60"))

    def as_mapping(self) -> dict[str, object]:
        return {key: value for key, value in vars(self).items() if key.isupper()}
