"""One daemon cycle against moto: collect, check, notify — and what a stop leaves behind."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from storage import history, inventory, runs
from storage.db import Database
from storage.findings import FindingQuery, FindingStore
from tests.factories.aws import source_entry
from vigil.app.config import VigilConfig, parse_config
from vigil.app.cycle import CycleOutcome, CycleRunner
from vigil.app.demo_estate import seed_estate


class Receiver:
    """A loopback webhook endpoint that records every message it is sent."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        received = self.bodies

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                received.append(json.loads(self.rfile.read(length)))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    hook = Receiver()
    yield hook
    hook.server.shutdown()


def config_for(
    moto: str, receiver: Receiver | None = None, regions: tuple[str, ...] = ()
) -> VigilConfig:
    data: dict[str, Any] = {
        "sources": [
            {"name": f"aws-{region}", "provider": "aws", "regions": [region], "endpoint_url": moto}
            for region in regions or ("us-east-1",)
        ]
    }
    if receiver is not None:
        data["notifiers"] = [{"name": "hook", "type": "webhook", "url": receiver.url}]
        data["routes"] = [{"notifiers": ["hook"]}]
    return parse_config(data)


@pytest.mark.slow
def test_a_cycle_collects_checks_and_notifies(
    sqlite_db: Database, moto: str, receiver: Receiver
) -> None:
    seed_estate(moto, regions=("us-east-1",), servers_per_region=2)
    runner = CycleRunner(sqlite_db, config_for(moto, receiver))

    report = runner.run_source("aws-us-east-1")

    assert report.outcome == CycleOutcome.OK, report
    assert report.collection is not None and report.collection.seen > 0
    assert report.check is not None and report.check.findings
    assert report.delivery is not None and report.delivery.sent == len(receiver.bodies) > 0
    assert runner.status.last_success == report.finished_at


@pytest.mark.slow
def test_two_sources_finishing_together_send_each_message_once(
    sqlite_db: Database, moto: str, receiver: Receiver
) -> None:
    regions = ("us-east-1", "eu-west-1")
    seed_estate(moto, regions=regions, servers_per_region=2)
    runner = CycleRunner(sqlite_db, config_for(moto, receiver, regions))
    threads = [threading.Thread(target=runner.run_source, args=(f"aws-{r}",)) for r in regions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    keys = [body["key"] for body in receiver.bodies]
    assert keys and len(keys) == len(set(keys))
    assert runner.status.outcomes[CycleOutcome.OK] == 2


def test_a_stopped_cycle_changes_nothing_and_skips_the_check(
    sqlite_db: Database, moto: str
) -> None:
    seed_estate(moto, regions=("us-east-1",), servers_per_region=2)
    config = config_for(moto)
    CycleRunner(sqlite_db, config).run_source("aws-us-east-1")
    before = sorted(r.uid for r in inventory.inventory(sqlite_db))
    findings_before = FindingStore(sqlite_db).counts()
    stop = threading.Event()
    stop.set()

    report = CycleRunner(sqlite_db, config, stop=stop).run_source("aws-us-east-1")

    assert report.outcome == CycleOutcome.ABANDONED and report.check is None
    assert sorted(r.uid for r in inventory.inventory(sqlite_db)) == before
    assert FindingStore(sqlite_db).counts() == findings_before
    statuses = runs.scope_statuses(sqlite_db, source="aws-us-east-1")
    assert statuses and all(s.status == "failed" for s in statuses)


# -- retirement under the daemon: what leaves the config leaves the inventory ------------------

BOTH = ("us-east-1", "eu-west-1")
TYPES = ["server", "security_group", "disk", "snapshot"]


def one_source(
    moto: str, regions: tuple[str, ...], receiver: Receiver | None = None, **extra: Any
) -> VigilConfig:
    data: dict[str, Any] = {"sources": [source_entry(moto, "aws", regions, types=TYPES, **extra)]}
    if receiver is not None:
        data["notifiers"] = [{"name": "hook", "type": "webhook", "url": receiver.url}]
        data["routes"] = [{"notifiers": ["hook"]}]
    return parse_config(data)


def regions_present(db: Database) -> set[str]:
    return {r.region for r in inventory.inventory(db)}


@pytest.mark.slow
def test_a_cycle_retires_a_removed_region_and_resolves_its_findings_silently(
    sqlite_db: Database, moto: str, receiver: Receiver
) -> None:
    seed_estate(moto, regions=BOTH, servers_per_region=1)
    CycleRunner(sqlite_db, one_source(moto, BOTH, receiver)).run_source("aws")
    # The estate's problems (an open SSH port, a disk with no backup) live in its first region.
    opened = {f.fingerprint for f in FindingStore(sqlite_db).findings() if f.region == "us-east-1"}
    assert opened and regions_present(sqlite_db) == set(BOTH)
    sent = len(receiver.bodies)

    report = CycleRunner(sqlite_db, one_source(moto, ("eu-west-1",), receiver)).run_source("aws")

    assert report.outcome == CycleOutcome.OK and report.collection is not None
    assert report.collection.retired > 0
    assert regions_present(sqlite_db) == {"eu-west-1"}
    retired = {e.region for e in history.changes(sqlite_db, kinds=("retired",))}
    assert retired == {"us-east-1"}
    resolved = [
        f
        for f in FindingStore(sqlite_db).findings(FindingQuery(statuses=("resolved",)))
        if f.fingerprint in opened
    ]
    assert {f.fingerprint for f in resolved} == opened
    assert {f.resolution.value if f.resolution else None for f in resolved} == {"retired"}
    assert len(receiver.bodies) == sent  # a retired resource's findings send no resolve message


@pytest.mark.slow
def test_the_daemons_start_retires_nothing_of_a_renamed_source_before_its_first_cycle(
    sqlite_db: Database, moto: str
) -> None:
    seed_estate(moto, regions=("us-east-1",), servers_per_region=1)
    CycleRunner(sqlite_db, one_source(moto, ("us-east-1",))).run_source("aws")
    before = {r.uid for r in inventory.inventory(sqlite_db)}
    renamed = parse_config({"sources": [source_entry(moto, "aws-renamed", types=TYPES)]})
    runner = CycleRunner(sqlite_db, renamed)

    assert runner.retire_unconfigured() == 0  # its new scopes have not run: held back
    report = runner.run_source("aws-renamed")

    assert report.collection is not None and report.collection.retired == 0
    after = list(inventory.inventory(sqlite_db))
    assert {r.uid for r in after} == before and {r.source for r in after} == {"aws-renamed"}
    assert list(history.changes(sqlite_db, kinds=("retired",))) == []
    moved = [e for e in history.changes(sqlite_db, kinds=("changed",)) if e.uid in before]
    assert len(moved) == len(before)


@pytest.mark.slow
def test_the_daemon_never_retires_while_a_source_cannot_be_planned(
    sqlite_db: Database, moto: str
) -> None:
    seed_estate(moto, regions=BOTH, servers_per_region=1)
    CycleRunner(sqlite_db, one_source(moto, BOTH)).run_source("aws")
    config = parse_config(
        {
            "sources": [
                source_entry(moto, types=TYPES),
                source_entry("http://127.0.0.1:9", "unreachable", max_attempts=1),
            ]
        }
    )
    runner = CycleRunner(sqlite_db, config)

    assert runner.retire_unconfigured() == 0
    report = runner.run_source("aws")

    assert report.collection is not None and report.collection.retired == 0
    assert regions_present(sqlite_db) == set(BOTH)
