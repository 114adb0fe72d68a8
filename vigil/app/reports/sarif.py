"""SARIF 2.1.0: findings as results of one run of the tool "Vigil", for code-scanning UIs.

Cloud resources are not files, so a result's location is a *logical* location whose
fully qualified name is the resource uid. Each rule is a `reportingDescriptor` with its
remediation as help and its compliance controls as tags; a silenced finding carries an
accepted external suppression with the silence's reason. Incomplete scopes become
warning notifications of the run's invocation, so a SARIF consumer sees them too.
"""

from __future__ import annotations

import json
from typing import Any, TextIO

from vigil import __version__
from vigil.app.reports.contents import Report, ReportFinding
from vigil.app.reports.controls import RuleInfo
from vigil.core.model import FindingStatus, Severity, iso

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_LEVEL = {
    Severity.CRITICAL: "error",
    Severity.HIGH: "error",
    Severity.MEDIUM: "warning",
    Severity.LOW: "note",
    Severity.INFO: "note",
}


def _descriptor(info: RuleInfo, frameworks: tuple[str, ...]) -> dict[str, Any]:
    descriptor: dict[str, Any] = {
        "id": info.id,
        "name": info.id,
        "shortDescription": {"text": info.title},
        "defaultConfiguration": {
            "level": _LEVEL.get(Severity(info.severity), "warning") if info.severity else "warning",
            "enabled": info.enabled,
        },
        "properties": {"tags": sorted(set(info.control_labels(frameworks)))},
    }
    if info.remediation:
        descriptor["help"] = {"text": info.remediation}
    return descriptor


def _result(found: ReportFinding, index: int) -> dict[str, Any]:
    f = found.finding
    result: dict[str, Any] = {
        "ruleId": f.rule,
        "ruleIndex": index,
        "level": _LEVEL[f.severity],
        "kind": "fail",
        "message": {"text": f.title + (f"\n{f.detail}" if f.detail else "")},
        "locations": [
            {
                "logicalLocations": [
                    {
                        "name": f.native_id,
                        "fullyQualifiedName": f.resource_uid,
                        "kind": "resource",
                    }
                ]
            }
        ],
        "partialFingerprints": {"vigilFingerprint/v1": f.fingerprint},
        "properties": {
            "severity": f.severity.value,
            "type": f.type,
            "source": f.source,
            "account": f.account,
            "region": f.region,
            "firstSeen": iso(f.first_seen),
            "ageDays": found.age_days,
            "tags": list(found.controls),
        },
    }
    if found.status == FindingStatus.SILENCED:
        justification = found.silence.reason if found.silence else "silenced"
        result["suppressions"] = [
            {"kind": "external", "status": "accepted", "justification": justification}
        ]
    return result


def sarif_log(report: Report) -> dict[str, Any]:
    """The whole SARIF log as a dict (findings number in the tens of thousands at most)."""
    used = sorted({f.finding.rule for f in report.findings} | set(report.rules))
    infos = [report.rules.get(rule_id) or RuleInfo.unknown(rule_id) for rule_id in used]
    index = {info.id: i for i, info in enumerate(infos)}
    notifications = [
        {
            "level": "warning",
            "message": {"text": f"scope {s.scope_key} is incomplete: {s.problem}"},
        }
        for s in report.incomplete_scopes
    ]
    run = {
        "tool": {
            "driver": {
                "name": "Vigil",
                "version": __version__,
                "rules": [_descriptor(info, report.params.frameworks) for info in infos],
            }
        },
        "invocations": [
            {
                "executionSuccessful": not report.incomplete_scopes,
                "endTimeUtc": iso(report.params.at),
                "toolExecutionNotifications": notifications,
            }
        ],
        "results": [_result(f, index[f.finding.rule]) for f in report.findings],
        "properties": {"report": report.params.to_dict(), "summary": report.totals()},
    }
    return {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run]}


def write_sarif(report: Report, out: TextIO) -> None:
    json.dump(sarif_log(report), out, indent=1)
    out.write("\n")
