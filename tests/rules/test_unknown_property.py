"""Unknown is not empty, as a property: random estates under random scope failures.

The same estate is evaluated twice by the engine with every rule: once with every scope known
(the truth) and once with random scope statuses (complete, failed within or past the window,
denied and never completed, never run). Then:

- every finding produced under failures is true (the truth has it) and every input it rests
  on is known;
- every true finding whose inputs are unknown is not produced but `unjudged`, so the finding
  store keeps its status: it neither opens nor resolves on an input that was not known.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rules.engine import Engine, Evaluation
from rules.view import InventoryView, ScopeState
from tests.factories.rules import (
    ACCOUNT,
    NOW,
    PROBE_SOURCE,
    SOURCE,
    certificate,
    disk,
    history,
    load_balancer,
    probe_record,
    record,
    scope_state,
    server,
    snapshot,
    uid,
    zone,
)
from vigil.core.model import Finding, Resource

REGIONS = ("us-east-1", "eu-west-1")
AWS_TYPES = ("server", "disk", "snapshot", "load_balancer")
ADDRESSES = ("52.0.0.1", "52.0.0.2", "52.0.0.3")
WINDOW = timedelta(hours=1)  # no schedule: the fallback staleness window
STATUSES = ("complete", "recent", "stale", "denied", "absent")
DENIED = (
    "aws source 'aws-test' (...): UnauthorizedOperation calling DescribeThings: no. "
    "Grant ec2:DescribeThings to the role or user Vigil uses"
)
properties = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def lb_name(index: int, region: str) -> str:
    return f"lb-{index}.{region}.elb.amazonaws.com"


@dataclass
class Estate:
    """Resources, the scopes they came from (with a status each), and deleted resources."""

    resources: list[Resource] = field(default_factory=list)
    scopes: list[ScopeState] = field(default_factory=list)
    past: list[Resource] = field(default_factory=list)

    def view(self, scopes: list[ScopeState]) -> InventoryView:
        return InventoryView.build(
            self.resources, now=NOW, scopes=scopes, history_loader=history(*self.past)
        )

    def truth(self) -> list[ScopeState]:
        """Every scope complete: what the rules say when everything is known."""
        return [replace(s, status="complete", last_complete=NOW, error=None) for s in self.scopes]


def status_scope(kind: tuple[str, str, str, str], status: str) -> ScopeState:
    source, provider, region, type_ = kind
    account = PROBE_SOURCE if provider == "probe" else ACCOUNT
    base: dict[str, Any] = {
        "source": source,
        "provider": provider,
        "account": account,
        "region": region,
    }
    if status == "complete":
        return scope_state(type_, **base)
    if status == "recent":
        return scope_state(type_, status="failed", last_complete=NOW - WINDOW / 3, **base)
    if status == "stale":
        return scope_state(type_, status="failed", last_complete=NOW - 3 * WINDOW, **base)
    return scope_state(type_, status="failed", last_complete=None, error=DENIED, **base)


SCOPE_KINDS = [
    *((SOURCE, "aws", region, type_) for type_ in AWS_TYPES for region in REGIONS),
    (SOURCE, "aws", "global", "dns_record"),
    (SOURCE, "aws", "global", "dns_zone"),
    (PROBE_SOURCE, "probe", "global", "dns_record"),
    (PROBE_SOURCE, "probe", "global", "server"),
    (SOURCE, "aws", "us-east-1", "certificate"),
    (PROBE_SOURCE, "probe", "global", "certificate"),
]
SERVED_NAME = "www.example.com"
SERVED_LB = "web-tls.us-east-1.elb.amazonaws.com"
SERVED_CERT = "arn:aws:acm:us-east-1:111111111111:certificate/served"
SERIALS = ("a1", "b2", None)


@st.composite
def estates(draw: st.DrawFn) -> Estate:
    estate = Estate()
    statuses = {kind: draw(st.sampled_from(STATUSES)) for kind in SCOPE_KINDS}
    estate.scopes = [status_scope(k, s) for k, s in statuses.items() if s != "absent"]
    # Resources exist only where their scope completed at least once.
    collected = {(k[0], k[2], k[3]) for k, s in statuses.items() if s in STATUSES[:3]}
    flags = st.booleans()
    for region in REGIONS:
        if (SOURCE, region, "server") in collected:
            for i in range(draw(st.integers(0, 2))):
                ips = draw(st.lists(st.sampled_from(ADDRESSES), max_size=1, unique=True))
                estate.resources.append(
                    _in(
                        server(f"i-{i}", public_ips=ips, open_ports=[22, 443], allowed_ports=[443]),
                        region,
                    )  # fmt: skip
                )
        disks = []
        if (SOURCE, region, "disk") in collected:
            disks = [_in(disk(f"vol-{i}"), region) for i in range(draw(st.integers(0, 2)))]
            estate.resources.extend(disks)
        if (SOURCE, region, "snapshot") in collected:
            for volume in disks:
                if draw(flags):
                    age = timedelta(days=draw(st.sampled_from((1, 30))))
                    estate.resources.append(
                        _in(snapshot(f"snap-{volume.native_id}", volume, age=age), region)
                    )
        if (SOURCE, region, "load_balancer") in collected:
            for i in range(draw(st.integers(0, 1))):
                estate.resources.append(_in(load_balancer(f"lb-{i}", lb_name(i, region)), region))
        estate.past += [
            _in(server(f"i-old-{region}", public_ips=[draw(st.sampled_from(ADDRESSES))]), region),
            _in(load_balancer("lb-old", lb_name(draw(st.integers(0, 2)), region)), region),
        ]
    if (SOURCE, "global", "dns_zone") in collected:
        estate.resources.append(zone())
    if (SOURCE, "global", "dns_record") in collected:
        _records(draw, estate, probed=(PROBE_SOURCE, "global", "dns_record") in collected)
    _served(draw, estate, collected)
    return estate


def _served(draw: st.DrawFn, estate: Estate, collected: set[tuple[str, str, str]]) -> None:
    """A name routed to a load balancer that binds an ACM certificate, and a TLS probe of the
    name (cert.not_served), each only where its scope completed once."""
    if (SOURCE, "us-east-1", "certificate") in collected:
        estate.resources.append(certificate(SERVED_CERT, serial=draw(st.sampled_from(SERIALS))))
    lb = load_balancer("web-tls", SERVED_LB)
    lb.link("serves", uid("certificate", SERVED_CERT))
    if (SOURCE, "us-east-1", "load_balancer") in collected:
        estate.resources.append(lb)
    if (SOURCE, "global", "dns_record") in collected:
        alias = record(SERVED_NAME + ".", alias_target=SERVED_LB, zone_id="Z9")
        alias.link("routes_to", lb.uid)
        estate.resources.append(alias)
    if (PROBE_SOURCE, "global", "certificate") in collected:
        reachable = draw(st.booleans())
        estate.resources.append(
            Resource(
                source=PROBE_SOURCE,
                provider="probe",
                account=PROBE_SOURCE,
                region="global",
                type="certificate",
                native_id=f"{SERVED_NAME}:443",
                name=SERVED_NAME,
                attributes={
                    "origin": "probe",
                    "host": SERVED_NAME,
                    "port": 443,
                    "server_name": SERVED_NAME,
                    "serial": draw(st.sampled_from(SERIALS[:2])),
                    "reachable": reachable,
                    "error": None if reachable else "timed out",
                },
            )  # fmt: skip
        )


def _records(draw: st.DrawFn, estate: Estate, *, probed: bool) -> None:
    targets = [
        *(("A", a) for a in ADDRESSES),
        *(("CNAME", lb_name(i, r)) for i in range(3) for r in REGIONS),
        ("CNAME", "gone.example.com"),
        ("CNAME", "app.example.com"),
    ]
    chosen = draw(st.lists(st.sampled_from(targets), max_size=4, unique=True))
    for index, (record_type, value) in enumerate(chosen):
        name = f"r{index}.example.com"
        estate.resources.append(record(name, record_type, [value]))
        if probed and record_type == "CNAME" and draw(st.booleans()):
            estate.resources.append(
                probe_record(
                    name, chain=[value], nxdomain=draw(st.booleans()), reachable=draw(st.booleans())
                )  # fmt: skip
            )
    if draw(st.booleans()):
        estate.resources.append(record("app.example.com", "A", ["10.0.0.9"]))


def _in(item: Resource, region: str) -> Resource:
    return replace(item, region=region, uid="")  # the uid follows the region


class Oracle:
    """Which inputs a finding rests on, and whether they are known, written from DESIGN.md."""

    def __init__(self, scopes: list[ScopeState], by_uid: dict[str, Resource]) -> None:
        self.scopes = scopes
        self.by_uid = by_uid
        self.probes = {r.native_id: r for r in by_uid.values() if r.provider == "probe"}

    def known(self, source: str, region: str, type_: str) -> bool:
        return any(
            s.source == source and s.region == region and s.type == type_ and self._fresh(s)
            for s in self.scopes
        )

    def _fresh(self, scope: ScopeState) -> bool:
        if scope.status == "complete":
            return True
        return scope.last_complete is not None and NOW - scope.last_complete <= WINDOW

    def owners_known(self, type_: str) -> bool:
        owning = [s for s in self.scopes if s.type == type_ and s.provider != "probe"]
        return bool(owning) and all(self._fresh(s) for s in owning)

    def target_known(self, record: Resource, target: str, reason: str) -> bool:
        if reason == "does not exist (NXDOMAIN)":
            probe = self.probes.get(record.name) or record
            return probe.attributes["reachable"] and self.known(
                PROBE_SOURCE, "global", "dns_record"
            )
        if reason.startswith("does not exist in zone"):
            return self.owners_known("dns_record")
        return self.owners_known("server" if target[0].isdigit() else "load_balancer")

    def inputs(self, found: Finding) -> list[bool]:
        """Known-ness of each input the finding rests on (dns: one per dangling target)."""
        subject = self.by_uid[found.resource_uid]
        if found.rule.startswith("backup."):
            return [self.known(SOURCE, subject.region, "snapshot")]
        if found.rule == "network.port_exposed":
            reachable = subject.attributes.get("reachable") is not False
            return [reachable and self.known(subject.source, subject.region, "server")]
        if found.rule == "cert.not_served":
            return [
                subject.attributes["reachable"] is True,
                self.known(PROBE_SOURCE, "global", "certificate"),
                self.known(SOURCE, "global", "dns_record"),
                self.known(SOURCE, "us-east-1", "load_balancer"),
                self.known(SOURCE, "us-east-1", "certificate"),
            ]
        if found.rule == "dns.dangling":
            reasons: dict[str, str] = found.evidence["reasons"]
            return [self.target_known(subject, t, r) for t, r in reasons.items()]
        raise AssertionError(f"no oracle for {found.rule}: the estate grew a rule to cover")

    def decidable(self, found: Finding) -> bool:
        """Whether the finding's inputs suffice to judge it: each dangling target is enough for
        dns.dangling; every other rule needs all of its inputs."""
        inputs = self.inputs(found)
        return any(inputs) if found.rule == "dns.dangling" else all(inputs)


def run(estate: Estate, scopes: list[ScopeState]) -> Evaluation:
    return Engine.from_config().evaluate(estate.view(scopes))


def judged(evaluation: Evaluation) -> dict[str, Finding]:
    return {f.fingerprint: f for f in evaluation.findings if f.rule != "collector.failing"}


@properties
@given(estates())
def test_no_finding_opens_or_resolves_on_an_unknown_input(estate: Estate) -> None:
    truth = judged(run(estate, estate.truth()))
    failing = run(estate, estate.scopes)
    produced = judged(failing)
    oracle = Oracle(estate.scopes, {r.uid: r for r in estate.resources})

    for fp, found in produced.items():
        assert fp in truth, f"false finding under failures: {found.title}"
        assert all(oracle.inputs(found)), f"judged on an unknown input: {found.title}"
    for fp, found in truth.items():
        if fp in produced:
            continue  # judged, on known inputs only (above): perhaps by another clause
        assert not oracle.decidable(found), f"known, yet not judged: {found.title}"
        assert fp in failing.unjudged, (
            f"unknown, yet the stored finding would resolve: {found.title}"
        )


@properties
@given(estates())
def test_scopes_never_permitted_page_nobody(estate: Estate) -> None:
    failing = [f for f in run(estate, estate.scopes).findings if f.rule == "collector.failing"]
    denied = [s for s in estate.scopes if s.last_complete is None]
    low = [f for f in failing if f.severity.value == "low"]
    assert {s.scope_key for s in denied} == {k for f in low for k in f.evidence["scopes"]}
    assert len(low) == len({(s.source, "ec2:DescribeThings") for s in denied})
