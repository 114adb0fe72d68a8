"""AWS Backup restore evidence → attributes of the resources it proves restorable (read-only).

The parts that collect what AWS Backup restores (EBS volumes, RDS instances, Aurora clusters,
DynamoDB tables) are wrapped by `restored`: with a part's first non-empty page, one
ListRestoreJobs pass filtered to its AWS Backup resource type, plus the region's restore
testing plans and their selections. Every resource of the part then carries (docs/attributes.md):

- `restore_evidence`: `aws_backup`, or null when the endpoint does not implement the restore
  APIs or the role may not call them (unknown: `backup.restore_untested` stays undecided, and
  the scope still completes: restores enrich the inventory, they never hide it);
- `restore_evidence_error`: why it is null;
- `last_restore_at`, `last_restore_kind` (`restore` or `restore_test`): the newest successful
  restore of the resource, a job COMPLETED whose validation (restore tests) did not fail;
- `restore_test_plans`: restore testing plans with a selection for the resource's type (null
  when they cannot be read: plans name what is tested, they prove nothing);
- `restores_unattributed`: some successful restore names no resource (older jobs carry no
  `SourceResourceArn`), so it may be this resource's;
- `restore_history_days`: how far back the job listing reaches (`RESTORE_HISTORY_DAYS`): no
  job found proves only that there was no restore in that many days.

The listing is per region: a restore run in another region (a cross-region disaster-recovery
drill from a copied recovery point) is listed there, and is not attributed to the resource here.

Restore jobs map to the protected resource by `SourceResourceArn`; without it, a DynamoDB
recovery point ARN (`…:table/NAME/backup/ID`) still names its table.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from botocore.client import BaseClient
from botocore.exceptions import ClientError

from collectors.aws.failures import ACCESS_CODES, error_code, scrub, unsupported
from collectors.aws.fields import Origin, iso_time, paginate
from collectors.aws.guard import iam_action
from collectors.aws.links import arn_uid
from collectors.base import Page
from vigil.core.errors import grant_hint
from vigil.core.model import Resource, ResourceType

PAGE_SIZE = 1000
"""MaxResults: 1000 is the maximum of all three list operations."""
SOURCE = "aws_backup"
SUCCEEDED = "COMPLETED"
FAILED_VALIDATION = frozenset({"FAILED"})
"""A restore test whose validation failed proves nothing; TIMED_OUT (nobody reported a result)
and VALIDATING still prove the restore itself completed."""

RESTORE_HISTORY_DAYS = 30
"""How many days of restore jobs ListRestoreJobs is assumed to return. Its reference states no
bound, but AWS documents 30 days of job history for ListBackupJobs and for
ListRestoreJobSummaries ("restore jobs created or running within the most recent 30 days"):
Vigil assumes the same for restore jobs, so an empty answer never proves more than 30 days."""

PagesFn = Callable[..., Iterator[Page]]
Covers = Callable[[Resource], bool]


def _volume_id(arn: str) -> str | None:
    resource = arn.split(":", 5)[-1]
    return resource.removeprefix("volume/") if resource.startswith("volume/") else None


def _db_identifier(arn: str) -> str | None:
    parts = arn.split(":")
    return parts[6] if len(parts) == 7 and parts[5] == "db" else None


_NATIVE_IDS: dict[str, tuple[str, Callable[[str], str | None]]] = {
    # AWS Backup resource type → (Vigil type, the native id its resource ARN gives)
    "EBS": (ResourceType.DISK.value, _volume_id),
    "RDS": (ResourceType.DATABASE.value, _db_identifier),
    "Aurora": (ResourceType.DATABASE.value, lambda arn: arn),
    "DynamoDB": (ResourceType.DATABASE.value, lambda arn: arn),
}


def is_aurora(resource: Resource) -> bool:
    """An Aurora cluster (AWS Backup type `Aurora`), not a Neptune, DocumentDB or Multi-AZ DB
    cluster, whose restore jobs carry other types."""
    return str(resource.attributes.get("engine") or "").startswith("aurora")


def protected_uid(arn: str | None, backup_type: str) -> str | None:
    """The uid of the resource a protected-resource ARN names (None: not one we collect)."""
    if not arn or backup_type not in _NATIVE_IDS:
        return None
    type_, native_id = _NATIVE_IDS[backup_type]
    native = native_id(arn)
    return arn_uid(arn, type_, native) if native else None


def _source_arn(job: Mapping[str, Any], backup_type: str) -> str | None:
    source = job.get("SourceResourceArn")
    if source:
        return str(source)
    point = str(job.get("RecoveryPointArn") or "")
    if backup_type == "DynamoDB" and "/backup/" in point:
        return point.split("/backup/", 1)[0]
    return None


@dataclass(frozen=True, slots=True)
class Restore:
    """One successful restore: when it completed, and whether a restore testing plan ran it."""

    at: datetime
    kind: str
    job_id: str


@dataclass(frozen=True)
class RestoreEvidence:
    """What the restore reads showed for one AWS Backup resource type in one region."""

    error: str | None = None
    """Why restores could not be read (None: they were)."""
    newest: Mapping[str, Restore] = field(default_factory=dict)
    test_plans: tuple[str, ...] | None = ()
    """Restore testing plans with a selection of the type; None when they could not be read."""
    unattributed: bool = False
    history_days: int = RESTORE_HISTORY_DAYS
    """How far back the job listing reaches: older restores may exist unlisted."""

    def attributes(self, uid: str) -> dict[str, Any]:
        """The restore attributes of the resource `uid`."""
        if self.error is not None:
            return {
                "restore_evidence": None,
                "restore_evidence_error": self.error,
                "last_restore_at": None,
                "last_restore_kind": None,
                "restore_test_plans": None,
                "restores_unattributed": None,
                "restore_history_days": None,
            }
        restore = self.newest.get(uid)
        return {
            "restore_evidence": SOURCE,
            "restore_evidence_error": None,
            "last_restore_at": iso_time(restore.at) if restore else None,
            "last_restore_kind": restore.kind if restore else None,
            "restore_test_plans": None if self.test_plans is None else list(self.test_plans),
            "restores_unattributed": self.unattributed,
            "restore_history_days": self.history_days,
        }

    def annotate(self, page: Page, covers: Covers | None = None) -> Page:
        """The page, each resource with its restore attributes added; a resource `covers`
        rejects is not of this AWS Backup type, so its restores are unknown."""
        for resource in page:
            if covers is None or covers(resource):
                resource.attributes.update(self.attributes(resource.uid))
            else:
                reason = f"restores of engine {resource.attributes.get('engine')} are not read"
                resource.attributes.update(RestoreEvidence(reason).attributes(resource.uid))
        return page


def normalize_restores(payload: Mapping[str, Any], backup_type: str) -> RestoreEvidence:
    """ListRestoreJobs, ListRestoreTestingPlans and ListRestoreTestingSelections answers (as
    `fetch_restores` assembles them) → the newest successful restore per protected resource."""
    newest: dict[str, Restore] = {}
    unattributed = False
    for job in payload.get("RestoreJobs", []):
        if job.get("ResourceType", backup_type) != backup_type:
            continue  # the API filters by type; a mixed answer must not misattribute
        if job.get("Status") != SUCCEEDED or job.get("ValidationStatus") in FAILED_VALIDATION:
            continue
        completed = iso_time(job.get("CompletionDate") or job.get("CreationDate"))
        if completed is None:
            continue
        uid = protected_uid(_source_arn(job, backup_type), backup_type)
        if uid is None:
            unattributed = True
            continue
        tested = bool((job.get("CreatedBy") or {}).get("RestoreTestingPlanArn"))
        restore = Restore(
            datetime.fromisoformat(completed.replace("Z", "+00:00")),
            "restore_test" if tested else "restore",
            str(job.get("RestoreJobId", "")),
        )
        if uid not in newest or restore.at > newest[uid].at:
            newest[uid] = restore
    selections = payload.get("RestoreTestingSelections")
    plans = None
    if selections is not None:
        plans = tuple(
            sorted(
                {
                    str(selection["RestoreTestingPlanName"])
                    for selection in selections
                    if selection.get("ProtectedResourceType") == backup_type
                }
            )
        )
    return RestoreEvidence(None, newest, plans, unattributed)


def fetch_restores(backup: BaseClient, backup_type: str) -> dict[str, Any]:
    """The region's restore testing plans and their selections (None when the endpoint or the
    role cannot read them: they only name plans, they prove nothing), then its restore jobs of
    `backup_type`. I/O only."""
    plans: list[dict[str, Any]] | None
    selections: list[dict[str, Any]] | None
    try:
        plans = _all(backup, "list_restore_testing_plans", "RestoreTestingPlans")
        selections = [
            selection
            for plan in plans
            for selection in _all(
                backup,
                "list_restore_testing_selections",
                "RestoreTestingSelections",
                RestoreTestingPlanName=plan["RestoreTestingPlanName"],
            )
        ]
    except ClientError as exc:
        if not (unsupported(exc) or error_code(exc) in ACCESS_CODES):
            raise
        plans = selections = None
    jobs = _all(backup, "list_restore_jobs", "RestoreJobs", ByResourceType=backup_type)
    return {
        "RestoreJobs": jobs,
        "RestoreTestingPlans": plans,
        "RestoreTestingSelections": selections,
    }


def _all(backup: BaseClient, operation: str, key: str, **params: Any) -> list[dict[str, Any]]:
    return [item for page in paginate(backup, operation, key, PAGE_SIZE, **params) for item in page]


def read_restores(backup: BaseClient, backup_type: str) -> RestoreEvidence:
    """The restore evidence of `backup_type`; unknown (with the reason) when the endpoint does
    not implement the restore APIs or the role may not call them. Other errors raise: the
    scope fails and keeps its inventory, as for any read."""
    try:
        return normalize_restores(fetch_restores(backup, backup_type), backup_type)
    except ClientError as exc:
        code = error_code(exc)
        operation = exc.operation_name
        if unsupported(exc):
            return RestoreEvidence(f"backup:{operation} is not supported by the endpoint ({code})")
        if code in ACCESS_CODES:
            hint = grant_hint(iam_action("backup", operation))
            return RestoreEvidence(f"{code} calling backup:{operation}; {scrub(hint)}")
        raise


def restored(pages: PagesFn, backup_type: str, covers: Covers | None = None) -> PagesFn:
    """`pages` with each resource's restore evidence added; the first `also` client is the
    `backup` one (services.py: `also=("backup", ...)`). `covers` tells which resources the
    type's restore jobs can name (DescribeDBClusters also lists Neptune and DocumentDB)."""

    def with_restores(
        client: BaseClient, origin: Origin, backup: BaseClient, *also: BaseClient
    ) -> Iterator[Page]:
        evidence: RestoreEvidence | None = None
        for page in pages(client, origin, *also):
            if evidence is None and page:
                # After the part's own first page: its errors come first, and a region
                # without such resources costs no Backup call.
                evidence = read_restores(backup, backup_type)
            yield evidence.annotate(page, covers) if evidence else page

    with_restores.__name__ = getattr(pages, "__name__", "pages")
    return with_restores
