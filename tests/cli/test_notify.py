"""`vigil check` notifying, `vigil notify status` and `vigil notify test`, run as a user would."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from notifiers.delivery import LEASE
from notifiers.webhook import KEY_HEADER
from storage import outbox as store
from storage.db import Database
from storage.reconcile import Reconciler
from tests.factories import resource, scope
from tests.fixtures.cli import VigilCli
from tests.fixtures.services import free_port
from tests.fixtures.slack_api import HttpRecorder
from vigil.app.config import load_config
from vigil.app.notify import deliver
from vigil.core.model import utcnow

CONFIG = """\
notifiers:
  - name: tickets
    type: webhook
    url: ${HOOK_URL}
    backoff: 0s
routes:
  - notifiers: [tickets]
"""


def seed(cli: VigilCli) -> None:
    """Two certificates expiring in 20 days: one message for both."""
    db = Database(f"sqlite:///{cli.database_path}")
    certs = scope(type_="certificate")
    expires = (utcnow() + timedelta(days=20, hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    reconciler = Reconciler(db)
    run = reconciler.start(certs)
    reconciler.add_page(
        run,
        [resource(f"arn:cert-{n}", within=certs, common_name=f"api{n}.example.com",
                  not_after=expires, tags={"team": "web"}) for n in (1, 2)],
    )  # fmt: skip
    reconciler.complete(run)
    db.dispose()


@pytest.fixture
def configured(vigil_cli: VigilCli) -> VigilCli:
    (vigil_cli.cwd / "vigil.yaml").write_text(CONFIG)
    vigil_cli.env["HOOK_URL"] = "http://127.0.0.1:9/unused"
    seed(vigil_cli)
    return vigil_cli


def status(cli: VigilCli) -> list[dict[str, object]]:
    result = cli("notify", "status", "--format", "json")
    assert result.returncode == 0, result.stderr
    return list(json.loads(result.stdout))


@pytest.mark.slow
def test_check_notifies_once_and_status_has_nothing_left(
    configured: VigilCli, http_recorder: HttpRecorder
) -> None:
    env = {"HOOK_URL": f"{http_recorder.url}/hook"}
    first = configured("check", env=env)
    assert first.returncode == 0, first.stderr
    assert "notifications: 1 sent, 0 failed (will retry), 0 dead" in first.stdout
    assert "notifications: 0 sent" in configured("check", env=env).stdout
    (request,) = http_recorder.requests
    assert sorted(a["resource"]["native_id"] for a in request.json["alerts"]) == [
        "arn:cert-1",
        "arn:cert-2",
    ]
    assert {a["labels"]["team"] for a in request.json["alerts"]} == {"web"}
    assert status(configured) == []
    table = configured("notify", "status", env=env)
    assert "outbox: pending 0, sent 1, failed 0, dead 0" in table.stdout


@pytest.mark.slow
def test_a_check_that_could_not_send_delivers_exactly_once_on_the_next_run(
    configured: VigilCli, http_recorder: HttpRecorder
) -> None:
    down = configured("check", env={"HOOK_URL": f"http://127.0.0.1:{free_port()}/hook"})
    assert down.returncode == 0, down.stderr
    assert "notifications: 0 sent, 1 failed (will retry)" in down.stdout
    (queued,) = status(configured)
    assert queued["status"] == "failed" and queued["attempts"] == 1
    assert queued["last_error"] == "cannot reach the webhook: ConnectionError"
    env = {"HOOK_URL": f"{http_recorder.url}/hook"}
    assert "notifications: 1 sent" in configured("check", env=env).stdout
    assert "notifications: 0 sent" in configured("check", env=env).stdout
    assert len(http_recorder.requests) == 1 and status(configured) == []


@pytest.mark.slow
def test_a_check_killed_between_send_and_mark_sent_resends_with_the_same_key(
    configured: VigilCli, http_recorder: HttpRecorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    hook = f"{http_recorder.url}/hook"
    arrived = http_recorder.hold("/hook")  # the receiver has the message; Vigil waits for 2xx
    process = configured.start("check", env={"HOOK_URL": hook})
    try:
        assert arrived.wait(timeout=90), "vigil check never sent the message"
    finally:
        process.kill()  # SIGKILL: no handler, no cleanup, between send and mark-sent
        process.communicate(timeout=30)
    http_recorder.release()
    (interrupted,) = status(configured)
    assert interrupted["status"] == "sending" and interrupted["attempts"] == 0

    # The next sender takes the row once the dead one's lease is over, and sends it again.
    monkeypatch.setenv("HOOK_URL", hook)
    db = Database(f"sqlite:///{configured.database_path}")
    report = deliver(db, load_config(configured.cwd / "vigil.yaml"), now=utcnow() + LEASE)
    (entry,) = store.entries(db)
    db.dispose()
    assert report.sent == 1 and (entry.status, entry.attempts) == ("sent", 1)
    first, again = http_recorder.requests
    assert first.headers[KEY_HEADER.lower()] == again.headers[KEY_HEADER.lower()] == entry.key
    assert first.json == again.json  # the same message, which the receiver can drop by key
    assert status(configured) == []
    assert "sent 1, failed 0, dead 0" in configured("notify", "status").stdout


@pytest.mark.slow
def test_no_notify_queues_nothing(configured: VigilCli, http_recorder: HttpRecorder) -> None:
    result = configured("check", "--no-notify", env={"HOOK_URL": f"{http_recorder.url}/hook"})
    assert result.returncode == 0, result.stderr
    assert "notifications:" not in result.stdout
    assert http_recorder.requests == [] and status(configured) == []


@pytest.mark.slow
def test_notify_test_sends_through_one_notifier(
    configured: VigilCli, http_recorder: HttpRecorder
) -> None:
    env = {"HOOK_URL": f"{http_recorder.url}/hook"}
    sent = configured("notify", "test", "tickets", env=env)
    assert sent.returncode == 0, sent.stderr
    assert sent.stdout.strip() == "sent a test message through tickets (webhook)"
    assert http_recorder.requests[0].json["rule"]["id"] == "vigil.test"
    unknown = configured("notify", "test", "nope", env=env)
    assert unknown.returncode == 2
    assert "no notifier named 'nope'" in unknown.stderr and "use one of: tickets" in unknown.stderr


def test_a_literal_secret_is_refused_with_its_line_and_nothing_is_written(
    vigil_cli: VigilCli,
) -> None:
    config = CONFIG.replace("    backoff: 0s\n", "    secret: hunter2-literal\n")
    (vigil_cli.cwd / "vigil.yaml").write_text(config)
    result = vigil_cli("check", env={"HOOK_URL": "http://127.0.0.1:9/"})
    assert result.returncode == 2
    assert "vigil.yaml:5" in result.stderr and "environment reference" in result.stderr
    assert "hunter2-literal" not in result.stderr
    assert not Path(vigil_cli.database_path).exists()
