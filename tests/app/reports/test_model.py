"""The report's content over a seeded database: controls, as-of, incomplete scopes, exceptions."""

from __future__ import annotations

from datetime import timedelta

from rules.certificates import CertificateExpired
from storage.db import Database
from tests.app.reports.conftest import params
from tests.app.reports.seed import BACKUP_TITLE, EXPIRED_TITLE, SILENCE_REASON, T0, T1, T2, seed
from vigil.app.reports.contents import Report, gather
from vigil.core.model import FindingStatus

KNOWN_SOC2 = {
    "A1.2": "not_evaluated",  # only a silenced finding, but eu-west-1 servers failed
    "CC6.1": "pass",  # encryption.at_rest judged the complete disk scope (no dns_record yet)
    "CC6.6": "fail",
    "CC6.7": "pass",
    "CC7.1": "fail",
    "CC7.2": "not_evaluated",
    "CC8.1": "not_evaluated",
}


def statuses(report: Report, framework: str) -> dict[str, str]:
    return {c.control: c.status for c in report.controls if c.framework == framework}


def test_controls_per_framework_count_findings_and_never_pass_on_incomplete_scopes(
    db: Database,
) -> None:
    seed(db)
    report = gather(db, params(frameworks=("soc2-2017",)))

    soc2 = statuses(report, "soc2-2017")
    # The built-in rules behind these controls are fixed; other rules may add controls.
    assert {control: soc2[control] for control in KNOWN_SOC2} == KNOWN_SOC2
    assert report.control_counts()["fail"] == 2
    incomplete = [c for c in report.controls if c.incomplete_scopes]
    assert incomplete and all(c.status != "pass" for c in incomplete)
    cc71 = next(c for c in report.controls if c.control == "CC7.1")
    assert {"cert.expiring", "cert.expired"} <= set(cc71.rules)  # lifecycle rules join them
    assert cc71.resources == ["aws/111111111111/us-east-1/certificate/cert-1"]
    a12 = next(c for c in report.controls if c.control == "A1.2")
    assert "eu-west-1/server" in a12.reason
    assert [f.finding.title for f in a12.excepted] == [BACKUP_TITLE]


def test_cis_controls_come_from_the_rules_mappings(report: Report) -> None:
    cis = statuses(report, "cis-aws-3.0")
    assert (cis["5.2"], cis["5.3"]) == ("fail", "fail")
    # 4.10 asks for a CloudWatch alarm on security-group changes, which no rule checks.
    assert "4.10" not in cis
    titles = {c.control: c.title for c in report.controls if c.framework == "cis-aws-3.0"}
    assert titles["5.3"] == (
        "Ensure no security groups allow ingress from ::/0 to remote server administration ports"
    )


def test_as_of_replays_the_inventory_at_that_time(sqlite_db: Database) -> None:
    estate = seed(sqlite_db)
    before = gather(sqlite_db, params(at=T1))
    after = gather(sqlite_db, params(at=T2))

    uids_before = {r.uid for r in before.inventory()}
    assert estate.deleted_server.uid in uids_before  # deleted after the as-of time
    assert estate.created_server.uid not in uids_before  # created after it
    uids_after = {r.uid for r in after.inventory()}
    assert estate.deleted_server.uid not in uids_after
    assert estate.created_server.uid in uids_after
    assert before.resources_by_type["server"] == after.resources_by_type["server"] == 2


def test_before_any_check_nothing_is_open_and_nothing_passes(sqlite_db: Database) -> None:
    seed(sqlite_db)
    report = gather(sqlite_db, params(at=T0 + timedelta(minutes=30)))

    assert report.findings == []
    assert report.last_check is None
    assert report.control_counts()["pass"] == 0
    assert all(c.status == "not_evaluated" for c in report.controls)


def test_incomplete_scope_is_called_out_with_its_error(report: Report) -> None:
    [incomplete] = report.incomplete_scopes
    assert incomplete.scope_key == "aws-test/111111111111/eu-west-1/server"
    assert incomplete.last_complete is None
    assert incomplete.problem == "never completed"
    assert report.totals()["incomplete_scopes"] == 1
    assert "eu-west-1" in report.regions  # part of the scope though it holds nothing


def test_open_findings_carry_resource_age_and_remediation(report: Report) -> None:
    open_ = {f.finding.title: f for f in report.open_findings}
    expired = open_[EXPIRED_TITLE]
    assert expired.finding.native_id == "cert-1"
    assert expired.finding.first_seen == T1
    assert expired.age_days == 1
    assert expired.remediation == CertificateExpired().remediation
    assert "soc2-2017 CC7.1" in expired.controls
    assert len(report.open_findings) == 2


def test_silences_are_accepted_exceptions_with_reason_author_and_expiry(report: Report) -> None:
    [exception] = report.exceptions
    assert exception.silence.reason == SILENCE_REASON
    assert exception.silence.author == "alice"
    assert exception.silence.created_at == T1 - timedelta(minutes=5)
    assert exception.silence.expires_at.year == 2099
    assert exception.findings == 1
    silenced = [f for f in report.findings if f.status == FindingStatus.SILENCED]
    assert [f.finding.title for f in silenced] == [BACKUP_TITLE]


def test_source_filter_narrows_everything(sqlite_db: Database) -> None:
    seed(sqlite_db)
    report = gather(sqlite_db, params(sources=("elsewhere",)))
    assert report.findings == [] and report.scopes == []
    assert sum(report.resources_by_type.values()) == 0


def test_changes_in_the_period(report: Report) -> None:
    kinds = report.changes_by_kind
    assert kinds["deleted"] == 1  # i-0002
    assert kinds["created"] == 7
    assert [c.native_id for c in report.changes() if c.kind == "deleted"] == ["i-0002"]
