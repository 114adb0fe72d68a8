"""OCSF: each finding at the report time as an OCSF 1.5 Detection Finding (class 2004).

Events are built with `py-ocsf-models` (the models Prowler uses), so field names, types
and enumerations come from the OCSF schema rather than from us; the file is a JSON array
of events, streamed one by one. Silenced findings carry status Suppressed; the controls
a finding touches and its silence go in `unmapped`, where OCSF puts producer fields.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, TextIO

from py_ocsf_models.events.findings.activity_id import ActivityID
from py_ocsf_models.events.findings.detection_finding import DetectionFinding
from py_ocsf_models.events.findings.detection_finding_type_id import DetectionFindingTypeID
from py_ocsf_models.events.findings.severity_id import SeverityID
from py_ocsf_models.events.findings.status_id import StatusID
from py_ocsf_models.objects.account import Account, TypeID
from py_ocsf_models.objects.analytic import Analytic
from py_ocsf_models.objects.cloud import Cloud
from py_ocsf_models.objects.finding_info import FindingInformation
from py_ocsf_models.objects.metadata import Metadata
from py_ocsf_models.objects.product import Product
from py_ocsf_models.objects.remediation import Remediation
from py_ocsf_models.objects.resource_details import ResourceDetails

from vigil import __version__
from vigil.app.reports.contents import Report, ReportFinding
from vigil.core.model import FindingStatus, Severity

_SEVERITY = {
    Severity.CRITICAL: SeverityID.Critical,
    Severity.HIGH: SeverityID.High,
    Severity.MEDIUM: SeverityID.Medium,
    Severity.LOW: SeverityID.Low,
    Severity.INFO: SeverityID.Informational,
}
_ANALYTIC_RULE = 1  # OCSF analytic type_id 1: Rule
_PRODUCT = Product(name="Vigil", vendor_name="Vigil", version=__version__, uid="vigil")


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def detection_finding(found: ReportFinding, report: Report) -> dict[str, Any]:
    """One finding as an OCSF Detection Finding event (a JSON-ready dict)."""
    f = found.finding
    silenced = found.status == FindingStatus.SILENCED
    event = DetectionFinding(
        activity_id=ActivityID.Create,
        activity_name="Create",
        type_uid=DetectionFindingTypeID.Create,
        type_name="Detection Finding: Create",
        severity_id=_SEVERITY[f.severity],
        severity=f.severity.value.capitalize(),
        status_id=StatusID.Suppressed if silenced else StatusID.New,
        status="Suppressed" if silenced else "New",
        time=_ms(report.params.at),
        time_dt=report.params.at,
        message=f.title,
        metadata=Metadata(
            product=_PRODUCT, uid=f.fingerprint, profiles=["cloud"], event_code=f.rule
        ),
        finding_info=FindingInformation(
            uid=f.fingerprint,
            title=f.title,
            desc=f.detail or found.rule_title,
            types=[f.rule],
            first_seen_time=_ms(f.first_seen),
            first_seen_time_dt=f.first_seen,
            last_seen_time=_ms(f.last_seen),
            last_seen_time_dt=f.last_seen,
            analytic=Analytic(
                name=found.rule_title, uid=f.rule, type="Rule", type_id=_ANALYTIC_RULE
            ),
        ),
        resources=[
            ResourceDetails(
                uid=f.resource_uid,
                name=f.native_id,
                type=f.type,
                region=f.region,
                labels=[f"{k}={v}" for k, v in sorted(f.labels.items())],
            )
        ],
        cloud=_cloud(found),
        remediation=Remediation(desc=found.remediation) if found.remediation else None,
        unmapped=_unmapped(found),
    )
    dumped: dict[str, Any] = event.model_dump(mode="json", exclude_none=True)
    return dumped


def _cloud(found: ReportFinding) -> Cloud:
    f = found.finding
    provider = f.labels.get("provider") or "unknown"
    account = None
    if f.account:
        kind = TypeID.AWS_Account if provider == "aws" else TypeID.Other
        account = Account(uid=f.account, name=f.account, type_id=kind)
    return Cloud(provider=provider, region=f.region or None, account=account)


def _unmapped(found: ReportFinding) -> dict[str, Any]:
    extra: dict[str, Any] = {"compliance": list(found.controls), "age_days": found.age_days}
    if found.silence is not None:
        extra["silence"] = found.silence.to_dict()
    return extra


def write_ocsf(report: Report, out: TextIO) -> None:
    """A JSON array of Detection Finding events, one per finding at the report time."""
    out.write("[")
    for index, found in enumerate(report.findings):
        out.write(",\n" if index else "\n")
        out.write(json.dumps(detection_finding(found, report)))
    out.write("\n]\n")
