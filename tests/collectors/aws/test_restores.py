"""AWS Backup restore evidence: the normalizer on recorded answers, and moto's 404 as unknown."""

from __future__ import annotations

import copy
from typing import Any

from collectors.aws import AwsCollector, restores
from storage.db import Database
from tests.factories.aws import ACCOUNT, ORIGIN, collect, payload, scope, seed_client, source
from vigil.app.check import run_check
from vigil.app.collect import collect as collect_all
from vigil.core.model import fingerprint, make_uid

VOLUME = "vol-0123456789abcdef0"
TESTED_VOLUME = "vol-0aaaabbbbccccdddd"
BAD_VALIDATION_VOLUME = "vol-0badbadbadbadbad0"
TABLE = f"arn:aws:dynamodb:eu-west-1:{ACCOUNT}:table/orders"


def recorded() -> dict[str, Any]:
    """The three answers as `fetch_restores` assembles them."""
    return {
        "RestoreJobs": payload("list_restore_jobs")["RestoreJobs"],
        "RestoreTestingPlans": payload("list_restore_testing_plans")["RestoreTestingPlans"],
        "RestoreTestingSelections": payload("list_restore_testing_selections")[
            "RestoreTestingSelections"
        ],
    }


def test_the_newest_completed_restore_counts_and_a_newer_failed_one_does_not() -> None:
    evidence = restores.normalize_restores(recorded(), "EBS")

    attributes = evidence.attributes(ORIGIN.uid("disk", VOLUME))

    assert attributes["restore_evidence"] == "aws_backup"
    assert attributes["last_restore_at"] == "2026-09-14T02:09:47Z"  # not the FAILED 2026-10-20
    assert attributes["last_restore_kind"] == "restore"
    assert attributes["restore_test_plans"] == ["weekly_ebs"]
    assert attributes["restores_unattributed"] is False  # the running job does not count


def test_a_validated_restore_test_counts_and_one_whose_validation_failed_does_not() -> None:
    evidence = restores.normalize_restores(recorded(), "EBS")

    tested = evidence.attributes(ORIGIN.uid("disk", TESTED_VOLUME))
    failed = evidence.attributes(ORIGIN.uid("disk", BAD_VALIDATION_VOLUME))

    assert (tested["last_restore_at"], tested["last_restore_kind"]) == (
        "2026-10-26T04:12:44Z",
        "restore_test",
    )
    assert failed["restore_evidence"] == "aws_backup"
    assert failed["last_restore_at"] is None  # read, and nothing proven


def test_an_rds_restore_test_maps_to_the_instance_identifier() -> None:
    evidence = restores.normalize_restores(recorded(), "RDS")

    attributes = evidence.attributes(ORIGIN.uid("database", "orders-db"))

    assert attributes["last_restore_kind"] == "restore_test"
    assert attributes["restore_test_plans"] == ["monthly_rds"]


def test_a_dynamodb_job_without_source_arn_maps_through_its_recovery_point() -> None:
    evidence = restores.normalize_restores(recorded(), "DynamoDB")

    assert evidence.attributes(ORIGIN.uid("database", TABLE))["last_restore_at"] == (
        "2026-08-02T10:48:12Z"
    )
    assert evidence.attributes(ORIGIN.uid("database", TABLE))["restore_test_plans"] == []


def test_a_completed_restore_naming_no_resource_is_reported_as_unattributed() -> None:
    answer = copy.deepcopy(recorded())
    running = next(job for job in answer["RestoreJobs"] if job["Status"] == "RUNNING")
    running.update(Status="COMPLETED", CompletionDate="2026-10-05T09:00:00+00:00")

    evidence = restores.normalize_restores(answer, "EBS")

    assert evidence.attributes(ORIGIN.uid("disk", "vol-other"))["restores_unattributed"] is True


def test_protected_uid_reads_each_resource_types_arn() -> None:
    cluster = f"arn:aws:rds:eu-west-1:{ACCOUNT}:cluster:orders"
    assert restores.protected_uid(cluster, "Aurora") == ORIGIN.uid("database", cluster)
    assert restores.protected_uid("arn:aws:s3:::bucket", "S3") is None
    assert restores.protected_uid(f"arn:aws:ec2:eu-west-1:{ACCOUNT}:instance/i-1", "EBS") is None


def test_moto_answers_404_and_the_disk_scope_completes_with_unknown_restores(moto: str) -> None:
    ec2 = seed_client(moto, "ec2")
    volume = ec2.create_volume(AvailabilityZone="us-east-1a", Size=10)["VolumeId"]

    [disk] = collect(AwsCollector(source(moto)), scope("disk"))

    assert disk.native_id == volume
    assert disk.attributes["restore_evidence"] is None
    assert disk.attributes["restore_test_plans"] is None
    assert (
        "ListRestoreJobs is not supported by the endpoint (404)"
        in (disk.attributes["restore_evidence_error"])
    )


def test_unsupported_restore_apis_give_no_finding_and_no_failed_scope(
    moto: str, sqlite_db: Database
) -> None:
    rds = seed_client(moto, "rds")
    rds.create_db_instance(
        DBInstanceIdentifier="orders-db", DBInstanceClass="db.t3.micro", Engine="postgres",
        MasterUsername="admin", MasterUserPassword="not-a-secret-1", AllocatedStorage=20,
    )  # fmt: skip
    config = source(moto, types=["database", "disk", "server", "snapshot"])

    result = collect_all(sqlite_db, [config])
    check = run_check(sqlite_db)

    assert result.failed == []
    assert not [f for f in check.evaluation.findings if f.rule == "backup.restore_untested"]
    uid = make_uid("aws", ACCOUNT, "us-east-1", "database", "orders-db")
    assert fingerprint("backup.restore_untested", uid) in check.evaluation.unjudged


def test_unreadable_testing_plans_name_no_plan_and_prove_nothing() -> None:
    answer = recorded() | {"RestoreTestingPlans": None, "RestoreTestingSelections": None}

    attributes = restores.normalize_restores(answer, "EBS").attributes(ORIGIN.uid("disk", VOLUME))

    assert attributes["restore_test_plans"] is None
    assert attributes["last_restore_at"] == "2026-09-14T02:09:47Z"


def test_a_neptune_cluster_is_not_judged_on_aurora_restore_jobs() -> None:
    evidence = restores.normalize_restores(recorded(), "Aurora")
    arn = f"arn:aws:rds:eu-west-1:{ACCOUNT}:cluster:"
    aurora, neptune = (
        ORIGIN.resource("database", arn + name, name=name, tags={}, attributes={"engine": engine})
        for name, engine in (("orders", "aurora-postgresql"), ("graph", "neptune"))
    )

    evidence.annotate([aurora, neptune], restores.is_aurora)

    assert aurora.attributes["restore_evidence"] == "aws_backup"
    assert neptune.attributes["restore_evidence"] is None
    assert "engine neptune" in neptune.attributes["restore_evidence_error"]


def test_read_restores_record_how_far_back_the_job_listing_reaches() -> None:
    # ListRestoreJobs keeps a bounded history (30 days assumed, as AWS documents for job
    # listings): backup.restore_untested must not read "none listed" as "none in max_age".
    evidence = restores.normalize_restores(recorded(), "EBS")

    listed = evidence.attributes(ORIGIN.uid("disk", VOLUME))
    never = evidence.attributes(ORIGIN.uid("disk", "vol-never-restored"))
    unread = restores.RestoreEvidence("AccessDenied").attributes(ORIGIN.uid("disk", VOLUME))

    assert listed["restore_history_days"] == never["restore_history_days"] == 30
    assert never["last_restore_at"] is None
    assert unread["restore_history_days"] is None  # not read: no history at all
