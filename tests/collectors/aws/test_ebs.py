"""EBS volumes → disks, snapshots → snapshots pointing at their disk's uid."""

from __future__ import annotations

from collectors.aws import AwsCollector, ebs
from tests.factories.aws import ORIGIN, collect, payload, scope, seed_client, source


def test_normalize_volume_reads_the_recorded_payload() -> None:
    resource = ebs.normalize_volume(payload("describe_volumes"), ORIGIN)

    assert resource.type == "disk"
    assert resource.attributes["size_gb"] == 100
    assert resource.attributes["volume_type"] == "gp3"
    assert resource.attributes["encrypted"] is False
    assert resource.attributes["attached_to"][0].startswith("i-")
    assert resource.attributes["created_at"].endswith("Z")


def test_normalize_snapshot_points_at_its_volume() -> None:
    item = payload("describe_snapshots")

    resource = ebs.normalize_snapshot(item, ORIGIN)

    assert resource.name == "web data nightly"
    assert resource.attributes["kind"] == "ebs"
    assert resource.attributes["source_native_id"] == item["VolumeId"]
    assert resource.attributes["source_uid"] == ORIGIN.uid("disk", item["VolumeId"])
    assert resource.attributes["started_at"].endswith("Z")


def test_snapshot_source_uid_is_the_collected_disk_uid(moto: str) -> None:
    ec2 = seed_client(moto, "ec2")
    volume = ec2.create_volume(AvailabilityZone="us-east-1a", Size=10)["VolumeId"]
    ec2.create_snapshot(VolumeId=volume, Description="nightly")
    collector = AwsCollector(source(moto))

    [disk] = collect(collector, scope("disk"))
    [snapshot] = collect(collector, scope("snapshot"))

    assert disk.native_id == volume
    assert disk.attributes["attached_to"] == []
    assert snapshot.attributes["source_uid"] == disk.uid


def test_a_snapshot_anyone_can_restore_is_public_and_one_shared_with_an_account_is_not(
    moto: str,
) -> None:
    ec2 = seed_client(moto, "ec2")
    volume = ec2.create_volume(AvailabilityZone="us-east-1a", Size=10)["VolumeId"]
    shared = {
        name: ec2.create_snapshot(VolumeId=volume, Description=name)["SnapshotId"]
        for name in ("everyone", "partner", "nobody")
    }
    ec2.modify_snapshot_attribute(
        SnapshotId=shared["everyone"], Attribute="createVolumePermission",
        OperationType="add", GroupNames=["all"],
    )  # fmt: skip
    ec2.modify_snapshot_attribute(
        SnapshotId=shared["partner"], Attribute="createVolumePermission",
        OperationType="add", UserIds=["210987654321"],
    )  # fmt: skip

    snapshots = {
        s.attributes["description"]: s
        for s in collect(AwsCollector(source(moto)), scope("snapshot"))
    }

    assert snapshots["everyone"].attributes["public"] is True
    assert snapshots["everyone"].attributes["public_reasons"] == ["createVolumePermission: all"]
    assert snapshots["partner"].attributes["public"] is False
    assert snapshots["nobody"].attributes["public"] is False
    assert snapshots["nobody"].attributes["public_reasons"] == []
