"""Terraform drift findings through real storage: an unknown input keeps a finding's status."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from rules.config import RulesConfig
from rules.engine import Engine
from rules.terraform import Missing
from storage.db import Database
from storage.findings import FindingQuery, FindingStore
from storage.reconcile import Reconciler
from tests.factories import resource, scope
from vigil.app.check import run_check
from vigil.core.model import FindingStatus

ACCOUNT = "111111111111"
SERVERS = scope(type_="server")


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def tick(self, minutes: int = 15) -> datetime:
        self.now += timedelta(minutes=minutes)
        return self.now


def write_state(tmp_path: Path, *native_ids: str) -> str:
    instances = [
        {"index_key": i, "attributes": {
            "id": n, "arn": f"arn:aws:ec2:us-east-1:{ACCOUNT}:instance/{n}"}}
        for i, n in enumerate(native_ids)
    ]  # fmt: skip
    path = tmp_path / "prod.tfstate"
    block = {"mode": "managed", "type": "aws_instance", "name": "web", "instances": instances}
    path.write_text(json.dumps({"version": 4, "resources": [block]}))
    return str(path)


def test_a_missing_finding_keeps_its_status_while_the_scan_is_unknown(
    sqlite_db: Database, tmp_path: Path
) -> None:
    clock = Clock()
    reconciler = Reconciler(sqlite_db, clock=clock)
    state = write_state(tmp_path, "i-live", "i-gone")
    rules = RulesConfig(params={"drift.missing": {"state_files": [state]}})
    engine = Engine.from_config(rules, rules=[Missing()])

    def scan(*native_ids: str, fail: bool = False) -> None:
        clock.tick()
        run = reconciler.start(SERVERS)
        reconciler.add_page(run, [resource(n, within=SERVERS) for n in native_ids])
        if fail:
            reconciler.fail(run, "AccessDenied")
        else:
            reconciler.complete(run)

    def check() -> list[str]:
        result = run_check(sqlite_db, engine=engine, now=clock.tick(1))
        return [t.kind.value for t in result.transitions if t.finding.rule == "drift.missing"]

    def status() -> FindingStatus:
        (found,) = FindingStore(sqlite_db).findings(FindingQuery(statuses=()))
        return found.status

    scan("i-live")
    assert check() == ["new"]
    # The server scan now fails, past the staleness window: i-gone may exist unseen. Before,
    # the finding resolved (a Terraform subject's finding is the rule's alone to decide).
    scan(fail=True)
    clock.tick(120)
    assert check() == []
    assert status() is FindingStatus.OPEN
    scan("i-live", "i-gone")
    assert check() == ["resolved"]
