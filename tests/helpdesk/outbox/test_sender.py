"""The outbox sender against a real SMTP server: delivery, retries with backoff, no loss when the
server is down, permanent refusals, leases, and concurrent senders never sending a row twice."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from helpdesk.core import db
from helpdesk.core.clock import utcnow
from helpdesk.outbox import sender
from helpdesk.outbox.models import OutboxMessage
from helpdesk.outbox.service import enqueue_email
from tests.helpdesk.outbox.servers import SmtpServer, free_port, parts


@pytest.fixture
def ctx(app: Flask, db_session: Session) -> Iterator[Session]:
    """An app context (templates render) on the test's rolled-back session."""
    with app.app_context():
        yield db_session


def queue(session: Session, to: str = "rita@example.test", subject: str = "Hello", **kw: Any) -> OutboxMessage:
    row = enqueue_email(session, to, subject, "requests/email/kb_notification",
                        {"notification": {"body": f"Body for {to}", "url": "http://help.test/a",
                                          "unfollow_url": "http://help.test/u"}}, **kw)
    assert row is not None
    session.commit()
    return row


def config(app: Flask, **changes: Any) -> dict[str, Any]:
    return {**app.config, **changes}


def test_an_email_goes_out_with_text_and_html(app: Flask, ctx: Session, smtp: SmtpServer) -> None:
    row = queue(ctx, thread="request-7")
    report = sender.send_pending(ctx, app.config)
    assert (report.sent, report.retrying, report.failed) == (1, 0, 0)
    [message] = smtp.inbox.wait_for(1)
    assert message["To"] == "rita@example.test" and message["Subject"] == "Hello"
    assert message["From"] == "Practice Helpdesk <support@help.test>"
    assert message["Message-ID"] == row.payload["headers"]["Message-ID"]
    assert message["References"] == "<request-7@help.test>"
    text, html = parts(message)
    assert "Body for rita@example.test" in text and "<a href=\"http://help.test/a\"" in html
    ctx.refresh(row)
    assert (row.status, row.attempts, row.claim_token) == ("sent", 1, None) and row.sent_at is not None
    assert sender.send_pending(ctx, app.config).claimed == 0, "a sent row is never sent again"


def test_smtp_down_keeps_every_row_and_backs_off(app: Flask, ctx: Session, smtp: SmtpServer) -> None:
    rows = [queue(ctx, f"r{i}@example.test") for i in range(3)]
    down = config(app, SMTP_URL=f"smtp://127.0.0.1:{free_port()}")
    start = utcnow()
    report = sender.send_pending(ctx, down, now=start)
    assert (report.sent, report.retrying, report.failed) == (0, 3, 0)
    for row in rows:
        ctx.refresh(row)
        assert row.status == "pending" and row.attempts == 1 and "cannot reach the SMTP server" in row.last_error
        assert row.next_attempt_at >= start + timedelta(seconds=29)
    assert sender.send_pending(ctx, down, now=start).claimed == 0, "not due again before the backoff"

    report = sender.send_pending(ctx, down, now=start + timedelta(seconds=31))
    assert report.retrying == 3
    ctx.refresh(rows[0])
    assert rows[0].attempts == 2 and rows[0].next_attempt_at >= utcnow() + timedelta(seconds=59)

    # The server is back: everything arrives, once.
    report = sender.send_pending(ctx, app.config, now=utcnow() + timedelta(minutes=5))
    assert report.sent == 3
    assert sorted(str(m["To"]) for m in smtp.inbox.wait_for(3)) == [f"r{i}@example.test" for i in range(3)]


def test_backoff_doubles_up_to_a_cap(app: Flask) -> None:
    waits = [sender.backoff(n, app.config).total_seconds() for n in (1, 2, 3, 4, 10, 30)]
    assert waits == [30, 60, 120, 240, 3600, 3600]


def test_a_permanent_refusal_fails_the_row_and_not_the_others(app: Flask, ctx: Session, smtp: SmtpServer) -> None:
    smtp.inbox.refuse.add("gone@example.test")
    bad, good = queue(ctx, "gone@example.test"), queue(ctx, "here@example.test")
    report = sender.send_pending(ctx, app.config)
    assert (report.sent, report.failed) == (1, 1)
    ctx.refresh(bad)
    ctx.refresh(good)
    assert bad.status == "failed" and "550" in bad.last_error and good.status == "sent"


def test_transient_failures_give_up_after_max_attempts_but_keep_the_row(app: Flask, ctx: Session) -> None:
    row = queue(ctx)
    down = config(app, SMTP_URL=f"smtp://127.0.0.1:{free_port()}", OUTBOX_MAX_ATTEMPTS=2)
    sender.send_pending(ctx, down)
    sender.send_pending(ctx, down, now=utcnow() + timedelta(hours=1))
    ctx.refresh(row)
    assert (row.status, row.attempts) == ("failed", 2)


def test_without_an_smtp_url_emails_wait(app: Flask, ctx: Session) -> None:
    row = queue(ctx)
    assert sender.send_pending(ctx, config(app, SMTP_URL=None)).claimed == 0
    ctx.refresh(row)
    assert (row.status, row.attempts) == ("pending", 0)


def test_a_dead_senders_lease_runs_out_and_its_late_report_is_ignored(app: Flask, ctx: Session,
                                                                       smtp: SmtpServer) -> None:
    row = queue(ctx)
    now = utcnow()
    token, [claimed] = sender.claim(ctx, app.config, now, 10)  # ... and the sender dies
    assert sender.send_pending(ctx, app.config, now=now + timedelta(minutes=1)).claimed == 0, "leased"
    assert sender.send_pending(ctx, app.config, now=now + sender.LEASE + timedelta(seconds=1)).sent == 1
    sender._record(ctx, claimed, token, sender.DeliveryError("late news"), app.config, sender.PassReport())
    ctx.refresh(row)
    assert row.status == "sent" and row.last_error is None
    assert len(smtp.inbox.wait_for(1)) == 1


def test_dedupe_key_queues_once(app: Flask, ctx: Session) -> None:
    assert queue(ctx, dedupe_key="thing:1") is not None
    assert enqueue_email(ctx, "x@example.test", "again", "requests/email/kb_notification",
                         {"notification": {"body": "", "url": "", "unfollow_url": ""}}, dedupe_key="thing:1") is None


def test_cli_send_status_and_retry(app: Flask, ctx: Session, cli_runner: FlaskCliRunner, smtp: SmtpServer) -> None:
    smtp.inbox.refuse.add("gone@example.test")
    queue(ctx, "gone@example.test")
    queue(ctx, "here@example.test")
    result = cli_runner.invoke(args=["outbox", "send"])
    assert result.exit_code == 0 and "1 sent, 0 to retry, 1 failed" in result.output, result.output
    result = cli_runner.invoke(args=["outbox", "status"])
    assert "email    failed   1" in result.output and "email    sent     1" in result.output
    smtp.inbox.refuse.clear()
    assert "1 row(s) queued again" in cli_runner.invoke(args=["outbox", "retry", "--failed"]).output
    assert "1 sent" in cli_runner.invoke(args=["outbox", "send"]).output
    assert cli_runner.invoke(args=["outbox", "retry"]).exit_code == 2


def test_the_background_loop_sends_and_survives_a_bad_pass(app: Flask, ctx: Session, smtp: SmtpServer,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    queue(ctx)
    passes = iter([RuntimeError("database went away"), None, None])

    def flaky(session: Session, cfg: Any, now: Any = None, limit: int = 100) -> sender.PassReport:
        failure = next(passes)
        if failure:
            raise failure
        return real(session, cfg, now, limit)

    real = sender.send_pending
    monkeypatch.setattr(sender, "send_pending", flaky)
    rounds = []
    sender.run_forever(app, interval=0, sleep=rounds.append, should_stop=lambda: len(rounds) >= 3)
    assert len(smtp.inbox.wait_for(1)) == 1
    assert sender.start_background_sender(app) is None, "never under tests"


def test_two_senders_never_send_one_row_twice(app: Flask, smtp: SmtpServer) -> None:
    """Concurrent senders on separate connections, on committed rows (no test transaction here)."""
    engine = db.get_engine(app)
    marker = f"concurrent-{threading.get_ident()}"
    with app.app_context(), Session(engine) as session:
        for i in range(40):
            queue(session, f"c{i}@example.test", subject=marker)
    results: list[sender.PassReport] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            with app.app_context(), Session(engine) as session:
                while True:
                    report = sender.send_pending(session, app.config, limit=3)
                    results.append(report)
                    if report.claimed == 0:
                        return
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert not errors, errors
        messages = smtp.inbox.wait_for(40)
        mine = [m for m in messages if m["Subject"] == marker]
        assert len(mine) == 40 and len({m["Message-ID"] for m in mine}) == 40
        assert sum(r.sent for r in results) == 40
        with Session(engine) as session:
            statuses = session.scalars(select(OutboxMessage.status).where(OutboxMessage.subject == marker)).all()
            assert statuses == ["sent"] * 40
    finally:
        with Session(engine) as session:
            session.execute(delete(OutboxMessage).where(OutboxMessage.subject == marker))
            session.commit()


def test_a_row_that_cannot_be_built_fails_alone(app: Flask, ctx: Session, smtp: SmtpServer) -> None:
    broken = queue(ctx, "broken@example.test")
    broken.payload = {**broken.payload, "headers": {"X-Bad": "line\r\nBcc: victim@example.test"}}
    ctx.commit()
    queue(ctx, "fine@example.test")
    report = sender.send_pending(ctx, app.config)
    assert (report.sent, report.failed) == (1, 1)
    assert [str(m["To"]) for m in smtp.inbox.wait_for(1)] == ["fine@example.test"]


def test_subjects_are_one_line(app: Flask, ctx: Session) -> None:
    assert queue(ctx, subject="Hello\r\nBcc: victim@example.test").subject == "Hello Bcc: victim@example.test"
