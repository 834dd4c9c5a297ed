"""The email channel's receiver: messages per second received, parsed and stored over SMTP.

    .venv/bin/python bench/mail.py                       # SQLite in a temporary folder
    .venv/bin/python bench/mail.py --messages 2000 --clients 4 --workers 4
    .venv/bin/python bench/mail.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/bench_mail

Starts the real receiver (``flask mail serve``'s controller) on a loopback port over a freshly
migrated database with 20 practices and one agent, then ``--clients`` threads each hold one SMTP
connection and send their share of ``--messages``: a third open new requests from practice
addresses, a third reply to the signed reply address of an earlier request (with quoted history
and a signature to strip), a third reply by In-Reply-To. Every message is stored (request or
comment, the original email as an attachment, the notifications and Message-IDs queued) and
committed before its 250. The figure is messages / wall-clock seconds from the first MAIL FROM
to the last 250; the run fails unless every message was stored. The CPU time this process spent
per message (receiver and the SMTP clients together) is printed too: on a shared machine it says
more than the wall clock.
"""

from __future__ import annotations

import argparse
import os
import smtplib
import socket
import sys
import tempfile
import threading
import time
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HELPDESK_INSTANCE_DIR", tempfile.mkdtemp(prefix="bench-mail-"))

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bench.common import fresh_database
from tests.conftest import TEST_SECRETS

QUOTE = ("Thanks, that helped. The booking shows now.\n\nPat\n-- \nPat Staff | Practice {n}\n\n"
         "On Tue, 1 Dec 2026 at 10:00, Practice Helpdesk <support@help.test> wrote:\n"
         + "> an earlier message line that must be stripped\n" * 20)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def message(sender: str, to: str, subject: str, body: str, **headers: str) -> bytes:
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = to
    mail["Subject"] = subject
    mail["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2])
    for key, value in headers.items():
        mail[key.replace("_", "-")] = value
    mail.set_content(body)
    return mail.as_bytes(policy=mail.policy.clone(linesep="\r\n"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", help="an empty database (PostgreSQL: its public schema is reset)")
    parser.add_argument("--messages", type=int, default=1500)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--workers", type=int, default=4)
    args = parser.parse_args()
    url = fresh_database(args.database_url)
    from helpdesk import create_app
    from helpdesk.bookings.models import Practice
    from helpdesk.core import db
    from helpdesk.core.agents import create_agent
    from helpdesk.requests.mail import tokens
    from helpdesk.requests.mail.models import MailMessage
    from helpdesk.requests.mail.server import make_controller
    from helpdesk.requests.models import Request, RequestComment

    app = create_app({"DATABASE_URL": url, "TESTING": True, "ASYNC_MODE": "threading", "SOCKETIO_MESSAGE_QUEUE": None,
                      "MAIL_FROM": "Practice Helpdesk <support@help.test>", "PUBLIC_URL": "http://help.test",
                      "MAIL_SENDER_PER_HOUR": 0, **TEST_SECRETS})
    engine = db.get_engine(app)
    with app.app_context(), Session(engine) as session:
        for n in range(20):
            session.add(Practice(id=f"P{n}", name=f"Practice {n}", name_key=f"practice {n}",
                                 booking_emails=[f"front@p{n}.test"], alert_emails=[f"manager@p{n}.test"],
                                 profile_known=True))
        session.commit()
        create_agent(session, "ada@helpdesk.test", "Ada Agent")
        session.commit()

    port = free_port()
    controller = make_controller(app, f"127.0.0.1:{port}", workers=args.workers)
    controller.start()
    support = "support@help.test"
    # Seed: one request per practice, to reply to.
    seeds: list[tuple[int, str, str]] = []  # (request id, requester, a Message-ID we sent for it)
    with smtplib.SMTP("127.0.0.1", port) as smtp:
        for n in range(20):
            sender = f"manager@p{n}.test"
            smtp.sendmail(sender, [support], message(sender, support, f"Seed {n}", "A booking is missing."))
    with app.app_context(), Session(engine) as session:
        for req in session.scalars(select(Request).order_by(Request.id)):
            sent = session.scalar(select(MailMessage.message_id).where(MailMessage.request_id == req.id,
                                                                       MailMessage.direction == "out"))
            seeds.append((req.id, req.requester_email, f"<{sent}>"))
        reply_to = {rid: tokens.reply_address(rid, email, app.config) for rid, email, _ in seeds}

    errors: list[str] = []
    per_client = args.messages // args.clients

    def build(n: int) -> tuple[str, str, bytes]:
        rid, requester, sent_id = seeds[n % len(seeds)]
        kind = n % 3
        if kind == 0:
            sender = f"front@p{n % 20}.test"
            return sender, support, message(sender, support, f"New problem {n}", f"Booking BK-{n} did not arrive.\n")
        if kind == 1:
            return requester, reply_to[rid], message(requester, reply_to[rid], f"Re: request {rid}", QUOTE.format(n=n))
        return requester, support, message(requester, support, "Re: our request", QUOTE.format(n=n),
                                           In_Reply_To=sent_id, References=sent_id)

    # Built before the clock starts: the clients share this process (and its GIL) with the receiver.
    outgoing = [[build(index * per_client + k) for k in range(per_client)] for index in range(args.clients)]

    def client(index: int) -> None:
        try:
            with smtplib.SMTP("127.0.0.1", port, timeout=60) as smtp:
                for sender, to, raw in outgoing[index]:
                    smtp.sendmail(sender, [to], raw)
        except Exception as exc:  # noqa: BLE001 (reported below)
            errors.append(f"client {index}: {exc!r}")

    threads = [threading.Thread(target=client, args=(i,)) for i in range(args.clients)]
    started, cpu_started = time.perf_counter(), time.process_time()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    controller.stop()
    sent = per_client * args.clients
    with Session(engine) as session:
        stored = session.scalar(select(func.count()).select_from(MailMessage).where(
            MailMessage.direction == "in", MailMessage.status == "stored")) or 0
        comments = session.scalar(select(func.count()).select_from(RequestComment)) or 0
        requests_total = session.scalar(select(func.count()).select_from(Request)) or 0
    backend = engine.url.get_backend_name()
    print(f"mail in ({backend}, {args.clients} SMTP clients, {args.workers} workers): {sent} messages in "
          f"{elapsed:.2f} s = {sent / elapsed:.0f} messages/s; stored {stored - 20} "
          f"({requests_total - 20} new requests, {comments - requests_total} replies); "
          f"this process's CPU {1000 * cpu / sent:.1f} ms per message (receiver and clients)")
    for line in errors:
        print(line, file=sys.stderr)
    ok = not errors and stored - 20 == sent
    if not ok:
        print("FAILED: not every message was stored", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
