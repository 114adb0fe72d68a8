"""`vigil collect` + `vigil check` end to end: a name routed (Route 53 alias, in moto) to a load
balancer whose HTTPS listener binds an ACM certificate, while the real TLS endpoint the name
reaches serves another certificate: `cert.not_served`, until the served one is bound too; and
where each certificate is bound and served, and which one is unused."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization

from tests.factories.aws import seed_client
from tests.fixtures.cli import VigilCli
from tests.fixtures.dnsserver import start_dns_server
from tests.fixtures.tls import Issued, TestCA, TlsServers, server_context

PEM = serialization.Encoding.PEM


def _import(moto: str, issued: Issued, ca: TestCA) -> str:
    """The certificate imported into ACM; its ARN."""
    answer = seed_client(moto, "acm").import_certificate(
        Certificate=issued.cert.public_bytes(PEM),
        PrivateKey=issued.key.private_bytes(
            PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ),
        CertificateChain=ca.root.cert.public_bytes(PEM),
    )
    return str(answer["CertificateArn"])


def _balancer(moto: str, certificate: str) -> tuple[dict[str, Any], str]:
    """An internet-facing ALB with an HTTPS listener binding `certificate`; (lb, listener)."""
    ec2, elbv2 = seed_client(moto, "ec2"), seed_client(moto, "elbv2")
    vpc = ec2.create_vpc(CidrBlock="10.8.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.8.{i}.0/24", AvailabilityZone=zone)["Subnet"][
            "SubnetId"
        ]
        for i, zone in enumerate(("us-east-1a", "us-east-1b"))
    ]
    lb = elbv2.create_load_balancer(Name="web", Subnets=subnets, Scheme="internet-facing")[
        "LoadBalancers"
    ][0]
    listener = elbv2.create_listener(
        LoadBalancerArn=lb["LoadBalancerArn"],
        Protocol="HTTPS",
        Port=443,
        Certificates=[{"CertificateArn": certificate}],
        DefaultActions=[{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "200"}}],
    )["Listeners"][0]["ListenerArn"]
    return dict(lb), str(listener)


def _aliases(moto: str, lb: dict[str, Any], names: list[str]) -> None:
    """Route 53 alias records of `names` to the load balancer."""
    route53 = seed_client(moto, "route53")
    zone = route53.create_hosted_zone(Name="example.test.", CallerReference="served")
    alias = {
        "HostedZoneId": lb["CanonicalHostedZoneId"],
        "DNSName": "dualstack." + lb["DNSName"],
        "EvaluateTargetHealth": False,
    }
    changes = [
        {"Action": "CREATE", "ResourceRecordSet": {"Name": name, "Type": "A", "AliasTarget": alias}}
        for name in names
    ]
    route53.change_resource_record_sets(
        HostedZoneId=zone["HostedZone"]["Id"], ChangeBatch={"Changes": changes}
    )


def _serve(servers: TlsServers, issued: Issued, directory: Path, stem: str) -> int:
    certfile, keyfile = issued.write(directory, stem)
    return servers.serve(server_context(certfile, keyfile))


def _configure(cli: VigilCli, moto: str, ca: TestCA, targets: dict[str, int]) -> None:
    tls = "".join(
        f"      - {{host: 127.0.0.1, port: {port}, server_name: {name}}}\n"
        for name, port in targets.items()
    )
    (cli.cwd / "vigil.yaml").write_text(
        "sources:\n"
        "  - name: aws\n    provider: aws\n    regions: [us-east-1]\n"
        f"    endpoint_url: {moto}\n"
        "    types: [certificate, load_balancer, dns_zone, dns_record]\n"
        "  - name: edge\n    provider: probe\n    timeout: 2s\n"
        f"    ca_bundle: {ca.bundle}\n    tls:\n{tls}"
    )


def _cycle(cli: VigilCli) -> list[dict[str, Any]]:
    """Collect, check, and the `cert.not_served` findings of any status."""
    collected = cli("collect")
    assert collected.returncode == 0, collected.stdout + collected.stderr
    checked = cli("check", "--no-notify")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    result = cli("findings", "--format", "json", "--status", "all", "--rule", "cert.not_served")
    assert result.returncode == 0, result.stderr
    return list(json.loads(result.stdout))


@pytest.mark.slow
def test_a_name_whose_endpoint_serves_another_certificate_than_its_load_balancer_binds(
    vigil_cli: VigilCli,
    moto: str,
    test_ca: TestCA,
    tls_servers: TlsServers,
    tmp_path: Path,
) -> None:
    names = ["www.example.test", "ok.example.test"]
    bound = test_ca.leaf("www.example.test", sans=names)
    stale = test_ca.leaf("www.example.test")  # same name, another certificate (serial)
    arn = _import(moto, bound, test_ca)
    spare = _import(moto, test_ca.leaf("spare.example.test"), test_ca)  # bound and served nowhere
    lb, listener = _balancer(moto, arn)
    _aliases(moto, lb, names)
    ports = {
        "www.example.test": _serve(tls_servers, stale, tmp_path, "stale"),
        "ok.example.test": _serve(tls_servers, bound, tmp_path, "bound"),
    }
    _configure(vigil_cli, moto, test_ca, ports)

    (found,) = _cycle(vigil_cli)

    # Flagged: the endpoint www.example.test reaches serves the stale certificate. Not
    # flagged: ok.example.test, whose endpoint serves the bound one.
    stale_serial = format(stale.cert.serial_number, "x")
    assert (found["native_id"], found["status"]) == (
        f"127.0.0.1:{ports['www.example.test']}",
        "open",
    )
    assert found["severity"] == "medium"
    assert found["title"].startswith(
        f"127.0.0.1:{ports['www.example.test']} (www.example.test) serves certificate "
        f"www.example.test (serial {stale_serial}), not the one bound to load_balancer "
        f"{lb['LoadBalancerArn']}"
    )

    # ok.example.test was judged, not left undecided: its probe completed and presented the
    # serial ACM reports for the bound certificate.
    listed = vigil_cli("inventory", "--type", "certificate", "--format", "json")
    certificates = {r["native_id"]: r for r in json.loads(listed.stdout)}
    serials = {native_id: r["attributes"]["serial"] for native_id, r in certificates.items()}
    assert serials[arn] == serials[f"127.0.0.1:{ports['ok.example.test']}"] != stale_serial

    # Where each ACM certificate is bound and served, and which is unused (inventory JSON).
    assert certificates[arn]["usage"] == {
        "bound_to": ["load_balancer web"],
        "served_at": [f"ok.example.test:{ports['ok.example.test']}"],
        "unused": False,
    }
    assert certificates[spare]["usage"] == {"bound_to": [], "served_at": [], "unused": True}

    # The stale certificate is bound to the listener too (SNI): served == bound, resolved.
    seed_client(moto, "elbv2").add_listener_certificates(
        ListenerArn=listener, Certificates=[{"CertificateArn": _import(moto, stale, test_ca)}]
    )
    (found,) = _cycle(vigil_cli)
    assert found["status"] == "resolved"


@pytest.mark.slow
def test_from_inventory_probes_the_routed_name_where_dns_points_it(
    vigil_cli: VigilCli,
    moto: str,
    test_ca: TestCA,
    tls_servers: TlsServers,
    tmp_path: Path,
) -> None:
    """The probe takes its targets from the inventory (`from_inventory.tls_ports`): the Route 53
    name, resolved by a real DNS server that points it at the loopback endpoint."""
    bound, stale = test_ca.leaf("www.example.test"), test_ca.leaf("www.example.test")
    lb, _ = _balancer(moto, _import(moto, bound, test_ca))
    _aliases(moto, lb, ["www.example.test"])
    port = _serve(tls_servers, stale, tmp_path, "stale-inventory")
    info, server = start_dns_server("www.example.test. 300 IN A 127.0.0.1\n")
    (vigil_cli.cwd / "vigil.yaml").write_text(
        "sources:\n"
        "  - name: aws\n    provider: aws\n    regions: [us-east-1]\n"
        f"    endpoint_url: {moto}\n"
        "    types: [certificate, load_balancer, dns_zone, dns_record]\n"
        "  - name: edge\n    provider: probe\n    timeout: 2s\n"
        f"    ca_bundle: {test_ca.bundle}\n    resolvers: ['{info.resolver}']\n"
        f"    tls_resolve: resolvers\n    from_inventory: {{tls_ports: [{port}]}}\n"
    )
    try:
        # The inventory first, so that the probe source finds the name in it.
        for source in ("aws", "edge"):
            collected = vigil_cli("collect", "--source", source)
            assert collected.returncode == 0, collected.stdout + collected.stderr
    finally:
        server.stop()
    checked = vigil_cli("check", "--no-notify")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    result = vigil_cli("findings", "--format", "json", "--rule", "cert.not_served")

    (found,) = json.loads(result.stdout)
    assert found["native_id"] == f"www.example.test:{port}"
    assert found["evidence"]["served_serial"] == format(stale.cert.serial_number, "x")
    assert found["evidence"]["bound"][0]["serial"] == format(bound.cert.serial_number, "x")
