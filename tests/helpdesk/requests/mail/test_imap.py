"""Polling a hosted mailbox: Debian's Dovecot, started by the test on a loopback port, as the IMAP server."""

from __future__ import annotations

import imaplib
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from helpdesk.requests.mail import imap, tokens
from helpdesk.requests.models import Request, RequestComment
from tests.conftest import unavailable
from tests.helpdesk.outbox.servers import free_port
from tests.helpdesk.requests.mail.conftest import P1_MANAGER, mail

pytestmark = pytest.mark.usefixtures("world", "app_context")
DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"

CONFIG = """protocols = imap
listen = 127.0.0.1
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:{root}/mail/%u
first_valid_uid = 1
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/users
}}
userdb {{
  driver = static
  args = uid={user} gid={user} home={root}/mail/%u
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  chroot =
}}
"""


@dataclass
class Mailbox:
    url: str
    port: int

    def client(self) -> imaplib.IMAP4:
        client = imaplib.IMAP4("127.0.0.1", self.port, timeout=10)
        client.login("helpdesk", "s3cret pass")
        client.select("INBOX")
        return client

    def append(self, raw: bytes) -> None:
        client = self.client()
        try:
            status, _ = client.append("INBOX", None, None, raw)  # type: ignore[arg-type]
            assert status == "OK"
        finally:
            client.logout()

    def flags(self) -> list[bytes]:
        client = self.client()
        try:
            _, count = client.select("INBOX")
            if count[0] == b"0":
                return []
            _, data = client.fetch("1:*", "(FLAGS)")
            return [d for d in data if isinstance(d, bytes)]
        finally:
            client.logout()


@pytest.fixture
def dovecot() -> Iterator[Mailbox]:
    if not os.access(DOVECOT, os.X_OK):
        unavailable(f"{DOVECOT} is missing: `make test-deps` installs Debian's dovecot-imapd")
    try:
        user = pwd.getpwnam("dovecot").pw_name
    except KeyError:
        unavailable("the dovecot system user is missing (dovecot-core creates it)")
    # Not under pytest's tmp_path: its parents are private to root, and Dovecot's auth worker runs as "dovecot".
    root = Path(tempfile.mkdtemp(prefix="helpdesk-dovecot-"))
    root.chmod(0o755)
    for sub in ("run", "state", "mail"):
        (root / sub).mkdir(parents=True)
    shutil.chown(root / "mail", user, user)
    (root / "users").write_text("helpdesk:{PLAIN}s3cret pass\n")
    port = free_port()
    (root / "dovecot.conf").write_text(CONFIG.format(root=root, user=user, port=port))
    process = subprocess.Popen([DOVECOT, "-F", "-c", str(root / "dovecot.conf")],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                imaplib.IMAP4("127.0.0.1", port, timeout=2).logout()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    log = (root / "dovecot.log").read_text() if (root / "dovecot.log").exists() else ""
                    pytest.fail(f"dovecot did not start: {log}")
                time.sleep(0.1)
        yield Mailbox(f"imap://helpdesk:s3cret%20pass@127.0.0.1:{port}/INBOX", port)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        shutil.rmtree(root, ignore_errors=True)


def test_unseen_mail_is_fetched_stored_and_removed_from_the_mailbox(
        app: Any, db_session: Session, dovecot: Mailbox) -> None:
    dovecot.append(mail(P1_MANAGER, "By IMAP", "A booking is missing from our diary.").as_bytes())
    report = imap.poll_once(app, dovecot.url)
    assert (report.stored, report.refused, report.retry) == (1, 0, 0)
    [req] = db_session.scalars(select(Request).execution_options(populate_existing=True))
    assert (req.subject, req.practice_id, req.channel) == ("By IMAP", "P1", "email")
    assert dovecot.flags() == []  # stored, so deleted and expunged

    # A reply delivered to the signed address (Delivered-To) lands on the request; a forged one is
    # refused and left flagged for a person; a second pass finds nothing new.
    reply = mail(P1_MANAGER, "Re: By IMAP", "Found it, thanks.\n\n> old text", to="support@help.test")
    reply["Delivered-To"] = tokens.reply_address(req.id, P1_MANAGER)
    dovecot.append(reply.as_bytes())
    forged = mail(P1_MANAGER, "Re: someone else's", "Let me in.", to=f"support+{req.id}.{'0' * 20}@help.test")
    dovecot.append(forged.as_bytes())
    report = imap.poll_once(app, dovecot.url)
    assert (report.stored, report.refused) == (1, 1)
    bodies = [c.body for c in db_session.scalars(select(RequestComment).where(RequestComment.request_id == req.id)
                                                 .order_by(RequestComment.id))]
    assert bodies == ["A booking is missing from our diary.", "Found it, thanks."]
    [flags] = dovecot.flags()
    assert b"\\Flagged" in flags and b"\\Seen" in flags
    assert imap.poll_once(app, dovecot.url).stored == 0
