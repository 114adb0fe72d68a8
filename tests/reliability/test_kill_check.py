"""kill -9 of `vigil check` between enqueue and send, and between send and mark-sent, on
SQLite and PostgreSQL.

Each round brings new findings (certificates expiring and expired, in a new scope), so a
check enqueues four messages: two rules, each routed to Slack and to a webhook. The check is
killed at a random point: a few milliseconds after its messages reached the outbox, or while
a receiver holds its answer (the message arrived, Vigil has not marked it sent). The next
`vigil check` delivers what was never sent; a message whose sender died mid-send is taken
again once the dead sender's lease is over. In the end every message was delivered, and any
duplicate carries the same idempotency key and the same content.
"""

from __future__ import annotations

import json
import random
import re
from collections import Counter, defaultdict
from datetime import timedelta
from typing import Any

import pytest

from notifiers.delivery import LEASE
from storage import outbox as store
from storage.db import Database
from storage.reconcile import Reconciler
from tests.factories import resource, scope
from tests.fixtures.cli import VigilCli
from tests.fixtures.slack_api import HttpRecorder, Recorded, SlackApi
from tests.reliability.conftest import Killed, backend, kill_when, report
from vigil.app.config import load_config
from vigil.app.notify import deliver
from vigil.core.model import utcnow

HOOK, SLACK = "/hook", "/api/chat.postMessage"

POINTS = ("enqueued", HOOK, SLACK)
ROUNDS = {"sqlite": 3 * len(POINTS), "postgresql": 2 * len(POINTS)}
"""Rounds per backend: each point as often on each (PostgreSQL's rounds are slower)."""
CONFIG = """\
notifiers:
  - name: chat
    type: slack
    token: ${SLACK_BOT_TOKEN}
    channel: "#oncall"
    base_url: {slack}
    backoff: 0s
  - name: tickets
    type: webhook
    url: ${HOOK_URL}
    backoff: 0s
routes:
  - notifiers: [chat, tickets]
    continue: true
"""


def new_findings(db: Database, round_: int) -> None:
    """Two certificates expiring in 20 days and one expired, in a scope of their own."""
    certs = scope(type_="certificate", region=f"round-{round_}")
    soon = (utcnow() + timedelta(days=20, hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    gone = (utcnow() - timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    reconciler = Reconciler(db)
    run = reconciler.start(certs)
    reconciler.add_page(
        run,
        [resource(f"arn:cert-{round_}-{n}", within=certs, common_name=f"api{n}.example.com",
                  not_after=soon if n else gone) for n in range(3)],
    )  # fmt: skip
    reconciler.complete(run)


def key_of(request: Recorded) -> str:
    """The idempotency key a delivered message carried (header or Slack metadata)."""
    if request.path == HOOK:
        return request.headers["x-vigil-idempotency-key"]
    metadata = request.json["metadata"]
    metadata = json.loads(metadata) if isinstance(metadata, str) else metadata
    return str(metadata["event_payload"]["idempotency_key"])


def content(request: Recorded) -> Any:
    body = dict(request.json)
    body.pop("metadata", None)  # the key, checked on its own
    return body


def kill_check(
    cli: VigilCli, db: Database, servers: dict[str, HttpRecorder], point: str, jitter: float
) -> tuple[str, Killed]:
    """Start `vigil check` and kill it at `point` (+ `jitter` s once enqueued); how it ended."""
    queued = len(list(store.entries(db)))
    if point in servers:
        path = point
        arrived = servers[path].hold(path)
        try:
            killed = kill_when(cli, arrived.is_set, 0, "check")
        finally:
            servers[path].release()
        return f"{path.rsplit('/', 1)[-1]} received, not marked sent", killed
    enqueued = lambda: len(list(store.entries(db))) > queued  # noqa: E731
    return "enqueued", kill_when(cli, enqueued, jitter, "check")


@pytest.mark.slow
def test_check_killed_mid_delivery_delivers_every_message_with_one_key_each(
    cli_on: VigilCli,
    db_url: str,
    http_recorder: HttpRecorder,
    slack_api: SlackApi,
    rng: random.Random,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    (cli_on.cwd / "vigil.yaml").write_text(CONFIG.replace("{slack}", slack_api.base_url))
    env = {
        "SLACK_BOT_TOKEN": SlackApi.TOKEN,
        "HOOK_URL": f"{http_recorder.url}{HOOK}",
    }
    cli_on.env.update(env)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    servers: dict[str, HttpRecorder] = {HOOK: http_recorder, SLACK: slack_api}
    db = Database(db_url)
    outcomes: Counter[str] = Counter()
    try:
        rounds = ROUNDS[backend(db_url)]
        points = list(POINTS) * (rounds // len(POINTS))
        rng.shuffle(points)
        for round_, chosen in enumerate(points):
            new_findings(db, round_)
            point, killed = kill_check(cli_on, db, servers, chosen, rng.uniform(0, 0.004))
            outcomes[point if not killed.finished else "finished before the kill"] += 1
            assert "Traceback" not in killed.stderr, killed.stderr
            left = Counter(e.status for e in store.entries(db) if e.status != "sent")
            outcomes[f"left {'+'.join(sorted(left)) or 'nothing'}"] += 1

            again = cli_on("check")
            assert again.returncode == 0, again.stdout + again.stderr
            sent = re.search(r"notifications: (\d+) sent", again.stdout)
            outcomes["sent by the next check"] += int(sent.group(1)) if sent else 0
            # A message its dead sender had claimed waits for the lease; then it goes again.
            late = deliver(db, load_config(cli_on.cwd / "vigil.yaml"), now=utcnow() + LEASE)
            outcomes["re-sent after the lease"] += late.sent
            unsent = [(e.notifier, e.status) for e in store.entries(db) if e.status != "sent"]
            assert unsent == []
        entries = list(store.entries(db))
    finally:
        db.dispose()

    delivered: dict[str, list[Recorded]] = defaultdict(list)
    for path, server in servers.items():
        for request in server.ok(path):
            delivered[key_of(request)].append(request)
    assert set(delivered) == {e.key for e in entries}, "every message delivered, none unknown"
    for key, copies in delivered.items():
        assert all(content(c) == content(copies[0]) for c in copies), f"{key}: differs"
    duplicates = sum(len(copies) - 1 for copies in delivered.values())
    report(
        f"kill -9 vigil check [{backend(db_url)}]: {rounds} rounds, {len(entries)} messages, "
        f"{dict(outcomes)}; all delivered, {duplicates} duplicates, each with its original "
        "key and content"
    )
