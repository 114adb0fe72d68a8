"""Seed a realistic fake AWS estate into moto, with known problems, for `vigil demo` and benches.

Seeding mutates the fake cloud, so it uses plain boto3 clients, never Vigil's read-only
guarded ones. The estate's shape is deterministic given `seed` (moto picks the ids).

    summary = seed_estate("http://127.0.0.1:5000", servers_per_region=10)
    summary.counts["server"], summary.problems["network.open_port"]
"""

from __future__ import annotations

import random
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from vigil.app.demo_data import seed_data
from vigil.app.demo_web import seed_web

ZONE = "corp.example.com."
TEAMS = ("payments", "search", "platform", "data")
ROLES = ("web", "api", "worker", "batch")
ENVS = ("prod", "prod", "staging")  # weighted: most of an estate is production
BULK_BATCH = 100
"""Instances per RunInstances call once an estate is big enough that unique names cost too much."""
MIN_RECORDS = 320
"""Route 53 record sets in the zone: more than one 300-item page."""


@dataclass
class EstateSummary:
    """What was seeded: counts per resource type and the seeded problems per rule id."""

    account: str
    regions: tuple[str, ...]
    zone_name: str = ZONE
    counts: dict[str, int] = field(default_factory=dict)
    problems: dict[str, list[str]] = field(default_factory=dict)

    def add(self, type_: str, n: int = 1) -> None:
        self.counts[type_] = self.counts.get(type_, 0) + n

    def problem(self, rule: str, native_id: str) -> None:
        self.problems.setdefault(rule, []).append(native_id)


def seed_estate(
    endpoint_url: str,
    *,
    regions: tuple[str, ...] = ("us-east-1", "eu-west-1", "ap-southeast-2"),
    servers_per_region: int = 8,
    seed: int = 0,
    problems: bool = True,
) -> EstateSummary:
    """Build the estate in moto at `endpoint_url`; global and one-off parts in the first region."""
    home = regions[0]
    account = _client(endpoint_url, "sts", home).get_caller_identity()["Account"]
    summary = EstateSummary(account=account, regions=tuple(regions))
    lock = threading.Lock()

    def seed_region(index: int, region: str) -> dict[str, list[str]]:
        seeder = _RegionSeeder(endpoint_url, region, random.Random(f"{seed}/{region}"))
        names = seeder.run(servers_per_region, home=index == 0, problems=problems)
        with lock:
            seeder.merge_into(summary)
        return names

    with ThreadPoolExecutor(max_workers=len(regions)) as pool:
        hosts = list(pool.map(seed_region, range(len(regions)), regions))[0]
    _seed_certificates(_client(endpoint_url, "acm", home), summary, problems)
    _seed_zone(_client(endpoint_url, "route53", home), summary, hosts, problems)
    seed_web(lambda service: _client(endpoint_url, service, home), home, summary.counts)
    seed_data(lambda service: _client(endpoint_url, service, home), summary, problems)
    return summary


def _client(endpoint_url: str, service: str, region: str) -> Any:
    """A plain (unguarded) client; a Session per call because Sessions are not thread-safe."""
    return boto3.session.Session().client(service, region_name=region, endpoint_url=endpoint_url)


def _tags(**tags: str) -> list[dict[str, str]]:
    return [{"Key": key, "Value": value} for key, value in tags.items()]


class _RegionSeeder:
    """Seeds one region: security groups, instances with volumes, snapshots, databases."""

    def __init__(self, endpoint_url: str, region: str, rng: random.Random) -> None:
        self.region = region
        self.rng = rng
        self.ec2 = _client(endpoint_url, "ec2", region)
        self.rds = _client(endpoint_url, "rds", region)
        self.local = EstateSummary(account="", regions=(region,))

    def run(self, servers: int, *, home: bool, problems: bool) -> dict[str, list[str]]:
        groups = self._security_groups(home and problems)
        hosts = self._instances(servers, groups)
        self._loose_volumes(home, problems)
        self._databases(home, problems)
        # Counted, not predicted: moto also keeps an automated snapshot of every database.
        self.local.add("snapshot", len(self.rds.describe_db_snapshots()["DBSnapshots"]))
        self.local.add("security_group", len(self.ec2.describe_security_groups()["SecurityGroups"]))
        return hosts

    def merge_into(self, summary: EstateSummary) -> None:
        for type_, n in self.local.counts.items():
            summary.add(type_, n)
        for rule, ids in self.local.problems.items():
            summary.problems.setdefault(rule, []).extend(ids)

    def _group(self, name: str, rules: list[dict[str, Any]]) -> str:
        group_id = self.ec2.create_security_group(
            GroupName=name,
            Description=f"{name} tier",
            TagSpecifications=[
                {"ResourceType": "security-group", "Tags": _tags(Name=name, team="platform")}
            ],
        )["GroupId"]
        if rules:
            self.ec2.authorize_security_group_ingress(GroupId=group_id, IpPermissions=rules)
        return str(group_id)

    def _security_groups(self, problems: bool) -> dict[str, str]:
        """web (80/443 to the world: fine), app (from web), db (5432 from app), the bad ones."""
        world = {"IpRanges": [{"CidrIp": "0.0.0.0/0"}], "Ipv6Ranges": [{"CidrIpv6": "::/0"}]}
        web = self._group(
            "web",
            [
                {"IpProtocol": "tcp", "FromPort": port, "ToPort": port, **world}
                for port in (80, 443)
            ],
        )
        app = self._group(
            "app",
            [
                {
                    "IpProtocol": "tcp",
                    "FromPort": 8000,
                    "ToPort": 8099,
                    "UserIdGroupPairs": [{"GroupId": web}],
                }
            ],
        )
        db = self._group(
            "db",
            [
                {
                    "IpProtocol": "tcp",
                    "FromPort": 5432,
                    "ToPort": 5432,
                    "UserIdGroupPairs": [{"GroupId": app}],
                }
            ],
        )
        groups = {"web": web, "api": app, "worker": app, "batch": app, "db": db}
        if problems:
            ssh = self._group(
                "legacy-ssh",
                [
                    {
                        "IpProtocol": "tcp",
                        "FromPort": 22,
                        "ToPort": 22,
                        "IpRanges": [{"CidrIp": "0.0.0.0/0"}],
                    }
                ],
            )
            rdp = self._group(
                "win-rdp",
                [
                    {
                        "IpProtocol": "tcp",
                        "FromPort": 3389,
                        "ToPort": 3389,
                        "Ipv6Ranges": [{"CidrIpv6": "::/0"}],
                    }
                ],
            )
            for group_id in (ssh, rdp):
                self.local.problem("network.open_port", group_id)
        return groups

    def _instances(self, servers: int, groups: dict[str, str]) -> dict[str, list[str]]:
        """Run `servers` instances (in batches when many), snapshot every attached volume."""
        batch = 1 if servers <= 50 else BULK_BATCH
        hosts: dict[str, list[str]] = {}
        for start in range(0, servers, batch):
            count = min(batch, servers - start)
            role = ROLES[(start // batch) % len(ROLES)]
            name, instances = self._run(role, start // batch, count, groups[role])
            self.local.add("server", count)
            for instance in instances:
                volumes = len(instance.get("BlockDeviceMappings", []))
                self.local.add("disk", volumes)
                self.ec2.create_snapshots(
                    InstanceSpecification={"InstanceId": instance["InstanceId"]},
                    Description=f"nightly {name}",
                )
                self.local.add("snapshot", volumes)
                hosts.setdefault(name, []).append(instance["PrivateIpAddress"])
        return hosts

    def _run(
        self, role: str, index: int, count: int, group: str
    ) -> tuple[str, list[dict[str, Any]]]:
        team, env = self.rng.choice(TEAMS), self.rng.choice(ENVS)
        name = f"{role}-{env}-{index + 1:03d}"
        tags = {"team": team, "env": env, "owner": f"{team}-lead@example.com"}
        mappings = [{"DeviceName": "/dev/xvda", "Ebs": {"VolumeSize": 8, "VolumeType": "gp3"}}]
        if role != "worker":  # workers are stateless: a root volume only
            size = self.rng.choice((50, 100, 200))
            mappings.append(
                {"DeviceName": "/dev/sdf", "Ebs": {"VolumeSize": size, "VolumeType": "gp3"}}
            )
        answer = self.ec2.run_instances(
            ImageId="ami-0abcdef1234567890",
            MinCount=count,
            MaxCount=count,
            InstanceType=self.rng.choice(("t3.medium", "m6i.large", "c6i.xlarge")),
            SecurityGroupIds=[group],
            BlockDeviceMappings=mappings,
            TagSpecifications=[
                {"ResourceType": "instance", "Tags": _tags(Name=name, role=role, **tags)},
                {"ResourceType": "volume", "Tags": _tags(**tags)},
            ],
        )
        return name, answer["Instances"]

    def _loose_volumes(self, home: bool, problems: bool) -> None:
        """A detached scratch volume (exempt) per region; in the home region a critical one."""
        zone = f"{self.region}a"
        self._volume(zone, 20, Name="scratch", backup="exempt", team="data")
        if home:
            volume_id = self._volume(
                zone, 500, Name="ledger-archive", backup="required", team="payments", env="prod"
            )
            if problems:
                self.local.problem("backup.missing", volume_id)
            else:
                self.ec2.create_snapshot(VolumeId=volume_id, Description="ledger nightly")
                self.local.add("snapshot")

    def _volume(self, zone: str, size: int, **tags: str) -> str:
        self.local.add("disk")
        return str(
            self.ec2.create_volume(
                AvailabilityZone=zone,
                Size=size,
                VolumeType="gp3",
                TagSpecifications=[{"ResourceType": "volume", "Tags": _tags(**tags)}],
            )["VolumeId"]
        )

    def _databases(self, home: bool, problems: bool) -> None:
        """One backed-up database per region; in the home region one with backups off."""
        self._database(f"orders-{self.region}", "postgres", retention=7, multi_az=home)
        if home:
            self._database("analytics", "mysql", retention=0 if problems else 7)
            if problems:
                self.local.problem("backup.missing", "analytics")

    def _database(self, name: str, engine: str, *, retention: int, multi_az: bool = False) -> None:
        self.rds.create_db_instance(
            DBInstanceIdentifier=name,
            Engine=engine,
            DBInstanceClass="db.t3.medium",
            AllocatedStorage=100,
            MasterUsername="admin",
            MasterUserPassword="not-a-secret-1",
            BackupRetentionPeriod=retention,
            MultiAZ=multi_az,
            StorageEncrypted=True,
            Tags=_tags(Name=name, team="payments", env="prod"),
        )
        self.local.add("database")
        if retention:
            self.rds.create_db_snapshot(
                DBInstanceIdentifier=name, DBSnapshotIdentifier=f"{name}-manual"
            )


def make_certificate(
    common_name: str, *, days: int, key: str = "rsa2048", sans: tuple[str, ...] = ()
) -> tuple[bytes, bytes]:
    """A self-signed (certificate PEM, private key PEM), valid from yesterday for `days` days."""
    private_key: Any = (
        ec.generate_private_key(ec.SECP256R1())
        if key == "ec256"
        else rsa.generate_private_key(public_exponent=65537, key_size=int(key.removeprefix("rsa")))
    )
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.now(UTC)
    names = [x509.DNSName(name) for name in (common_name, *sans)]
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(private_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .sign(private_key, hashes.SHA256())
    )
    key_pem = private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return certificate.public_bytes(serialization.Encoding.PEM), key_pem


def _seed_certificates(acm: Any, summary: EstateSummary, problems: bool) -> None:
    """A healthy RSA and a healthy EC P-256 certificate, and one expiring in 5 days."""
    specs = [("shop.corp.example.com", 300, "rsa2048"), ("api.corp.example.com", 200, "ec256")]
    if problems:
        specs.append(("legacy.corp.example.com", 5, "rsa2048"))
    for name, days, key in specs:
        certificate, private_key = make_certificate(name, days=days, key=key, sans=(f"www.{name}",))
        arn = acm.import_certificate(
            Certificate=certificate, PrivateKey=private_key, Tags=_tags(team="platform")
        )["CertificateArn"]
        summary.add("certificate")
        if days < 30:
            summary.problem("cert.expiring", arn)


def _seed_zone(
    route53: Any, summary: EstateSummary, hosts: dict[str, list[str]], problems: bool
) -> None:
    """A zone with an A record per named host, TXT filler past one page, and a dangling CNAME."""
    zone_id = route53.create_hosted_zone(Name=ZONE, CallerReference="vigil-demo")["HostedZone"][
        "Id"
    ]
    changes = [_record(f"{name}.{ZONE}", "A", ips) for name, ips in sorted(hosts.items())]
    first = f"{sorted(hosts)[0]}.{ZONE}" if hosts else f"txt-000.{ZONE}"
    changes.append(_record(f"www.{ZONE}", "CNAME", [first]))
    if problems:
        # Points at a name that was deleted with the old shop: a takeover waiting to happen.
        changes.append(_record(f"old-shop.{ZONE}", "CNAME", [f"shop-v1.{ZONE}"]))
        summary.problem("dns.dangling", f"old-shop.{ZONE}")
    index = 0
    while len(changes) < MIN_RECORDS:
        changes.append(_record(f"txt-{index:03d}.{ZONE}", "TXT", [f'"filler {index}"']))
        index += 1
    route53.change_resource_record_sets(HostedZoneId=zone_id, ChangeBatch={"Changes": changes})
    count = route53.get_hosted_zone(Id=zone_id)["HostedZone"]["ResourceRecordSetCount"]
    summary.add("dns_zone")
    summary.add("dns_record", int(count))


def _record(name: str, type_: str, values: list[str]) -> dict[str, Any]:
    return {
        "Action": "CREATE",
        "ResourceRecordSet": {
            "Name": name,
            "Type": type_,
            "TTL": 300,
            "ResourceRecords": [{"Value": value} for value in values],
        },
    }
