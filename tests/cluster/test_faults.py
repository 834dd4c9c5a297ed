"""Faults through the proxy: a web process killed mid-chat, Redis restarted, PostgreSQL restarted."""

from __future__ import annotations

import json
import signal
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from chat.models import Message
from deploy.cluster import Cluster
from helpdesk.core.agents import NewAgent
from tests.chat.conftest import Peer, widget_token
from tests.cluster.conftest import CLUSTER_ENV, agent_maker, fresh_database
from tests.cluster.servers import PrivatePostgres, PrivateRedis


class Resilient:
    """A client that resends what was not acknowledged (same client_id) and reconnects through
    the proxy with ``last_seq`` when its connection breaks, as the widget and the console do."""

    def __init__(self, cluster: Cluster, token: str, pin: int) -> None:
        self.cluster, self.token, self.headers = cluster, token, cluster.pin(pin)
        self.connections: list[Peer] = []
        self.reconnects = 0
        self.conversation_id: int | None = None
        self.connect()

    @property
    def peer(self) -> Peer:
        return self.connections[-1]

    def seen(self) -> set[int]:
        assert self.conversation_id is not None
        return {s for peer in self.connections for s in peer.seqs(self.conversation_id)}

    def connect(self) -> None:
        last = {self.conversation_id: max(self.seen(), default=0)} if self.conversation_id else None
        deadline = time.monotonic() + 30
        while True:
            try:
                self.connections.append(Peer(self.cluster.url, self.token, last_seq=last, headers=self.headers))
                return
            except Exception:  # noqa: BLE001 (the proxy may still route to the dead one for a moment)
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def ok(self, event: str, data: dict[str, Any]) -> Any:
        deadline = time.monotonic() + 40
        while True:
            try:
                answer = self.peer.call(event, data, timeout=3)
                assert isinstance(answer, dict) and "error" not in answer, answer
                return answer
            except AssertionError:
                raise
            except Exception:  # noqa: BLE001 (no ack: the process died; resend through a survivor)
                if time.monotonic() > deadline:
                    raise
                self.peer.close()
                self.reconnects += 1
                self.connect()

    def close(self) -> None:
        for peer in self.connections:
            peer.close()


@pytest.fixture
def cluster(cluster_database_url: str, cluster_redis_url: str, channel: str, workdir: Path) -> Iterator[Cluster]:
    with Cluster(cluster_database_url, cluster_redis_url, workdir, 2, channel=channel, env=CLUSTER_ENV) as running:
        yield running


def open_chat(cluster: Cluster, agent: NewAgent, practice_id: str) -> tuple[Resilient, Resilient, int]:
    """An agent on web1 and a practice on web2, in one active conversation."""
    agent_client = Resilient(cluster, agent.token, pin=0)
    agent_client.ok("presence", {"presence": "online"})
    practice = Resilient(cluster, widget_token(practice_id), pin=1)
    conversation_id = practice.ok("start_conversation", {"body": "Hello", "client_id": "start"})["conversation"]["id"]
    agent_client.ok("accept", {"conversation_id": conversation_id})
    agent_client.conversation_id = practice.conversation_id = conversation_id
    practice.peer.wait_for("conversation", lambda c: c["status"] == "active")
    return agent_client, practice, conversation_id


def test_a_web_process_killed_mid_chat_loses_and_doubles_nothing(
    cluster: Cluster, cluster_engine: Engine, practice_id: str = "P-cluster-kill",
) -> None:
    agent, practice, conversation_id = open_chat(cluster, agent_maker(cluster_engine)(), practice_id)
    # the two really are on different processes: web1's log has the agent, web2's the practice
    per_side, kill_after = 30, 8
    acked: dict[str, list[int]] = {"a": [], "p": []}
    errors: list[BaseException] = []
    halfway = threading.Barrier(3, timeout=60)

    def talk(client: Resilient, prefix: str) -> None:
        try:
            for i in range(per_side):
                if i == kill_after:
                    halfway.wait()
                answer = client.ok("send_message", {"conversation_id": conversation_id, "client_id": f"{prefix}{i}",
                                                    "body": f"{prefix} says {i}"})
                acked[prefix].append(answer["message"]["seq"])
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)
            halfway.abort()

    threads = [threading.Thread(target=talk, args=(agent, "a")), threading.Thread(target=talk, args=(practice, "p"))]
    for thread in threads:
        thread.start()
    halfway.wait()
    cluster.kill(0, signal.SIGKILL)  # the agent's process, with both sides mid-flow
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    assert agent.reconnects >= 1  # the agent came back through the proxy, to the survivor
    assert cluster.web[1].alive() and not cluster.web[0].alive()

    with Session(cluster_engine) as session:
        rows = session.execute(select(Message.seq, Message.client_id).where(
            Message.conversation_id == conversation_id)).all()
    stored = {client_id: seq for seq, client_id in rows if client_id and client_id[0] in "ap" and client_id[1:].isdigit()}
    assert sorted(stored) == sorted([f"a{i}" for i in range(per_side)] + [f"p{i}" for i in range(per_side)])
    assert len([r for r in rows if r.client_id in stored]) == 2 * per_side  # nothing doubled
    seqs = sorted(seq for seq, _ in rows)
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))  # no gap, no repeat
    assert sorted(acked["a"] + acked["p"]) == sorted(stored.values())  # every ack is the stored row's seq

    # Nothing lost for either side: each has (live or replayed after last_seq) every message,
    # and no single connection received one twice.
    for client in (agent, practice):
        deadline = time.monotonic() + 15
        while not set(stored.values()) <= client.seen() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert set(stored.values()) <= client.seen()
        for peer in client.connections:
            got = peer.seqs(conversation_id)
            assert len(got) == len(set(got)), got
    agent.close()
    practice.close()


def wait_until(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} within {timeout}s")
        time.sleep(0.2)


def test_every_listener_comes_back_after_redis_restarts(
    cluster_database_url: str, cluster_engine: Engine, channel: str, tmp_path: Path,
) -> None:
    redis_server = PrivateRedis(tmp_path / "redis").start()
    try:
        with Cluster(cluster_database_url, redis_server.url, tmp_path / "cluster", 2, channel=channel,
                     env=CLUSTER_ENV, worker=False) as cluster:
            agent, practice, conversation_id = open_chat(cluster, agent_maker(cluster_engine)(), "P-cluster-redis")

            def flows(sender: Resilient, receiver: Resilient, tag: str) -> bool:
                answer = sender.ok("send_message", {"conversation_id": conversation_id, "client_id": tag, "body": tag})
                seq = answer["message"]["seq"]
                try:
                    receiver.peer.wait_for("message", lambda m: m["seq"] == seq, timeout=1)
                    return True
                except AssertionError:
                    return False

            assert flows(agent, practice, "before-1") and flows(practice, agent, "before-2")
            redis_server.stop()
            time.sleep(1)
            redis_server.start()
            n = iter(range(10_000))
            # web1 -> web2 and web2 -> web1 both flow again: each process's listener is back
            wait_until(lambda: flows(agent, practice, f"after-a-{next(n)}"), 30, "agent -> practice did not flow again")
            wait_until(lambda: flows(practice, agent, f"after-p-{next(n)}"), 30, "practice -> agent did not flow again")
            for node in cluster.web:
                assert "listening again" in node.log.read_text(), node.name
            assert agent.reconnects == 0 and practice.reconnects == 0  # the clients never noticed
            agent.close()
            practice.close()
    finally:
        redis_server.stop()


def get_json(url: str, token: str) -> tuple[int, Any]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}", "Accept": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_requests_answer_503_while_postgresql_is_down_and_recover(
    redis_url: str, haproxy: None, channel: str, tmp_path: Path,
) -> None:
    postgres = PrivatePostgres(tmp_path / "pg").init()
    postgres.start()
    try:
        url = fresh_database(postgres.url, "helpdesk")
        from sqlalchemy import create_engine

        engine = create_engine(url)
        agent = agent_maker(engine)()
        engine.dispose()
        with Cluster(url, redis_url, tmp_path / "cluster", 1, channel=channel, env=CLUSTER_ENV) as cluster:
            practices = f"{cluster.url}/api/v1/practices"
            assert get_json(practices, agent.token)[0] == 200
            postgres.stop()
            status, body = get_json(practices, agent.token)
            assert status == 503, body
            assert body["error"]["code"] == "database_unavailable"
            postgres.start()
            wait_until(lambda: get_json(practices, agent.token)[0] == 200, 20, "requests did not recover")
            assert cluster.web[0].alive()  # the same process: no restart needed
    finally:
        postgres.stop()
