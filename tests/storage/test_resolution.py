"""Why a finding resolved, and who hears of it: fixed findings send a resolve message to a
real loopback receiver; retired resources and disabled rules resolve silently."""

from __future__ import annotations

from typing import Any

from storage.db import Database
from storage.findings import FindingQuery, FindingStore
from storage.retire import retire_unplanned
from tests.factories.notifiers import webhook
from tests.fixtures.slack_api import HttpRecorder
from tests.storage.test_findings import DISKS, SNAPSHOTS, Estate, disk, snapshot_of
from vigil.app.check import run_check
from vigil.app.config import VigilConfig, parse_config
from vigil.app.notify import deliver, outbox_hook
from vigil.core.model import fingerprint


def _config(url: str, **rules: Any) -> VigilConfig:
    return parse_config(
        {"notifiers": [webhook("hook", f"{url}/hook")], "routes": [{"notifiers": ["hook"]}]}
        | ({"rules": rules} if rules else {})
    )


def _check_and_deliver(estate: Estate, cfg: VigilConfig) -> None:
    now = estate.clock.tick(1)
    run_check(estate.db, cfg, now=now, on_transitions=outbox_hook(cfg, now=now))
    deliver(estate.db, cfg, now=now)


def _events(recorder: HttpRecorder) -> list[str]:
    return [a["event"] for r in recorder.ok("/hook") for a in r.json["alerts"]]


def _json(db: Database, uid: str) -> dict[str, Any]:
    wanted = fingerprint("backup.missing", uid)
    (found,) = [
        f for f in FindingStore(db).findings(FindingQuery(statuses=())) if f.fingerprint == wanted
    ]
    return found.to_dict()


def _opened(db: Database, recorder: HttpRecorder, **rules: Any) -> tuple[Estate, str]:
    estate, volume = Estate(db), disk()
    estate.scan(DISKS, volume)
    estate.scan(SNAPSHOTS)
    _check_and_deliver(estate, _config(recorder.url, **rules))
    assert _events(recorder) == ["firing"]
    assert _json(db, volume.uid)["resolution"] is None
    return estate, volume.uid


def test_a_fixed_finding_resolves_as_fixed_and_says_so(
    db: Database, http_recorder: HttpRecorder
) -> None:
    estate, uid = _opened(db, http_recorder)
    estate.scan(SNAPSHOTS, snapshot_of(disk()))

    _check_and_deliver(estate, _config(http_recorder.url))

    assert _json(db, uid)["status"] == "resolved"
    assert _json(db, uid)["resolution"] == "fixed"
    assert _events(http_recorder) == ["firing", "resolved"]


def test_a_retired_resource_resolves_as_retired_without_a_message(
    db: Database, http_recorder: HttpRecorder
) -> None:
    estate, uid = _opened(db, http_recorder)
    assert retire_unplanned(db, {SNAPSHOTS.key}) == 1  # the disks' scope left the config

    _check_and_deliver(estate, _config(http_recorder.url))

    assert _json(db, uid)["resolution"] == "retired"
    assert _events(http_recorder) == ["firing"]


def test_a_disabled_rule_resolves_as_rule_disabled_without_a_message(
    db: Database, http_recorder: HttpRecorder
) -> None:
    estate, uid = _opened(db, http_recorder)

    _check_and_deliver(estate, _config(http_recorder.url, disable=["backup.missing"]))

    assert _json(db, uid)["resolution"] == "rule_disabled"
    assert _events(http_recorder) == ["firing"]


def test_other_params_resolve_what_they_no_longer_find_as_rule_disabled(
    db: Database, http_recorder: HttpRecorder
) -> None:
    estate, uid = _opened(db, http_recorder)
    exempt = {"params": {"backup.missing": {"exempt_values": ["exempt", "none", "skip"]}}}
    estate.scan(DISKS, disk(backup="skip"))  # exempt under the new params only

    _check_and_deliver(estate, _config(http_recorder.url, **exempt))

    assert _json(db, uid)["resolution"] == "rule_disabled"
    assert _events(http_recorder) == ["firing"]


def test_the_same_params_written_out_change_nothing(
    db: Database, http_recorder: HttpRecorder
) -> None:
    estate, uid = _opened(db, http_recorder)
    estate.scan(SNAPSHOTS, snapshot_of(disk()))

    _check_and_deliver(estate, _config(http_recorder.url, params={"backup.missing": {}}))

    assert _json(db, uid)["resolution"] == "fixed"
    assert _events(http_recorder) == ["firing", "resolved"]


def test_a_resource_a_failed_scope_could_have_returned_is_not_retired(db: Database) -> None:
    estate, volume = Estate(db), disk()
    estate.scan(DISKS, volume)
    # A renamed source's disk scope failed: it might still return the old source's disk.
    held = [(DISKS.provider, DISKS.account, DISKS.region, DISKS.type)]

    assert retire_unplanned(db, {SNAPSHOTS.key}, held=held) == 0
    assert retire_unplanned(db, {SNAPSHOTS.key}) == 1
