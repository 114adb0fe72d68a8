"""ELBv2 (application, network, gateway) and classic ELB → `load_balancer`.

Per load balancer: listeners, target groups and each group's target health; tags come in
DescribeTags batches of 20. moto's NLB ARNs contain `app/`, so the kind comes from `Type`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from botocore.client import BaseClient
from botocore.exceptions import ClientError

from collectors.aws.details import each
from collectors.aws.failures import error_code
from collectors.aws.fields import Origin, name_of, normalized, paginate, tag_dict
from collectors.base import Page
from vigil.core.facts import optional_dns_name
from vigil.core.model import Resource, ResourceType

PAGE_SIZE = 400
"""DescribeLoadBalancers PageSize: 400 is the API's maximum."""
TAG_BATCH = 20
"""DescribeTags accepts at most 20 ARNs (classic: names) per call."""
_HEALTH = {"InService": "healthy", "OutOfService": "unhealthy"}
_TLS_PROTOCOLS = frozenset({"HTTPS", "TLS"})
_DENIED = frozenset({"AccessDenied", "AccessDeniedException", "UnauthorizedOperation"})


def fetch_v2(client: BaseClient, page_size: int | None = None) -> Iterator[list[dict[str, Any]]]:
    """Pages of ELBv2 load balancers with `Listeners`, `TargetGroups` (each with `Targets`)
    and `Tags`. I/O only."""
    for page in paginate(
        client, "describe_load_balancers", "LoadBalancers", page_size or PAGE_SIZE
    ):
        balancers = each(lambda lb: _with_details_v2(client, dict(lb)), page)
        _add_tags(client, balancers, "LoadBalancerArn", "ResourceArns", "ResourceArn")
        yield balancers


def _with_details_v2(client: BaseClient, lb: dict[str, Any]) -> dict[str, Any]:
    arn = lb["LoadBalancerArn"]
    lb["Listeners"] = [
        listener
        for listeners in paginate(
            client, "describe_listeners", "Listeners", PAGE_SIZE, LoadBalancerArn=arn
        )
        for listener in listeners
    ]
    for listener in lb["Listeners"]:
        _add_listener_certificates(client, listener)
    lb["TargetGroups"] = _target_groups(client, arn)
    return lb


def _add_listener_certificates(client: BaseClient, listener: dict[str, Any]) -> None:
    """Every certificate of a TLS listener in its `Certificates`.

    DescribeListeners names only the default certificate; the others a listener serves by SNI
    come from DescribeListenerCertificates. A role that may not call it (one made before Vigil
    read it) leaves `CertificatesComplete` false: the bindings then are not all known.
    """
    if listener.get("Protocol") not in _TLS_PROTOCOLS or not listener.get("ListenerArn"):
        return
    try:
        extra = [
            certificate["CertificateArn"]
            for page in paginate(
                client,
                "describe_listener_certificates",
                "Certificates",
                PAGE_SIZE,
                ListenerArn=listener["ListenerArn"],
            )
            for certificate in page
        ]
    except ClientError as exc:
        if error_code(exc) in _DENIED:
            listener["CertificatesComplete"] = False
            return
        raise
    certificates = list(listener.get("Certificates", []))
    known = {certificate["CertificateArn"] for certificate in certificates}
    certificates += [{"CertificateArn": arn} for arn in dict.fromkeys(extra) if arn not in known]
    listener["Certificates"] = certificates


def _target_groups(client: BaseClient, arn: str) -> list[dict[str, Any]]:
    """The balancer's target groups, each with `Targets` (its health descriptions)."""
    try:
        groups = [
            dict(group)
            for page in paginate(
                client, "describe_target_groups", "TargetGroups", PAGE_SIZE, LoadBalancerArn=arn
            )
            for group in page
        ]
    except ClientError as exc:
        if error_code(exc) == "TargetGroupNotFound":
            return []  # a balancer without target groups: AWS (and moto) answer with an error
        raise
    for group in groups:
        health = client.describe_target_health(TargetGroupArn=group["TargetGroupArn"])
        group["Targets"] = health.get("TargetHealthDescriptions", [])
    return groups


def _add_tags(
    client: BaseClient, items: list[dict[str, Any]], id_key: str, param: str, answer_key: str
) -> None:
    """Set each item's `Tags` with one DescribeTags call per 20 items."""
    by_id = {item[id_key]: item for item in items}
    ids = list(by_id)
    for start in range(0, len(ids), TAG_BATCH):
        answer = client.describe_tags(**{param: ids[start : start + TAG_BATCH]})
        for description in answer.get("TagDescriptions", []):
            by_id[description[answer_key]]["Tags"] = description.get("Tags", [])


def normalize_v2(item: dict[str, Any], origin: Origin) -> Resource:
    """One ELBv2 load balancer (with `Listeners`, `TargetGroups`, `Tags`) → a resource."""
    tags = tag_dict(item.get("Tags"))
    attributes = {
        "kind": item.get("Type"),
        "scheme": item.get("Scheme"),
        "dns_name": optional_dns_name(item.get("DNSName")),
        "zones": sorted(zone["ZoneName"] for zone in item.get("AvailabilityZones", [])),
        "listeners": sorted(
            (_listener(listener) for listener in item.get("Listeners", [])),
            key=lambda listener: (listener["port"] or 0, listener["protocol"] or ""),
        ),
        "targets": [target for group in item.get("TargetGroups", []) for target in _targets(group)],
        "security_groups": sorted(item.get("SecurityGroups", [])),
        "state": item.get("State", {}).get("Code"),
    }
    return origin.resource(
        ResourceType.LOAD_BALANCER,
        item["LoadBalancerArn"],
        name=name_of(tags, item.get("LoadBalancerName") or item["LoadBalancerArn"]),
        tags=tags,
        attributes=attributes,
    )


def _listener(listener: dict[str, Any]) -> dict[str, Any]:
    """One ELBv2 listener: its default action decides forward/redirect/fixed-response."""
    actions = sorted(listener.get("DefaultActions", []), key=lambda a: a.get("Order", 0))
    action = actions[0] if actions else {}
    redirect = action.get("RedirectConfig") or {}
    groups = [a["TargetGroupArn"] for a in actions if a.get("TargetGroupArn")]
    groups += [
        group["TargetGroupArn"]
        for a in actions
        for group in (a.get("ForwardConfig") or {}).get("TargetGroups", [])
        if group["TargetGroupArn"] not in groups
    ]
    found: dict[str, Any] = {
        "protocol": listener.get("Protocol"),
        "port": listener.get("Port"),
        "certificates": sorted(c["CertificateArn"] for c in listener.get("Certificates", [])),
        "default_action": action.get("Type"),
        "redirect_https": action.get("Type") == "redirect"
        and str(redirect.get("Protocol", "")).upper() == "HTTPS",
        "target_groups": groups,
        "ssl_policy": listener.get("SslPolicy"),
    }
    if listener.get("CertificatesComplete") is False:
        found["certificates_complete"] = False  # only then: no drift on every other listener
    return found


def _targets(group: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {
            "id": target.get("Target", {}).get("Id"),
            "port": target.get("Target", {}).get("Port"),
            "target_group": group["TargetGroupArn"],
            "health": target.get("TargetHealth", {}).get("State"),
        }
        for target in group.get("Targets", [])
    ]


def fetch_classic(
    client: BaseClient, page_size: int | None = None
) -> Iterator[list[dict[str, Any]]]:
    """Pages of classic load balancers with `Health` (instance states) and `Tags`. I/O only."""
    size = page_size or PAGE_SIZE
    for page in paginate(client, "describe_load_balancers", "LoadBalancerDescriptions", size):
        balancers = each(lambda lb: _with_health(client, dict(lb)), page)
        _add_tags(client, balancers, "LoadBalancerName", "LoadBalancerNames", "LoadBalancerName")
        yield balancers


def _with_health(client: BaseClient, lb: dict[str, Any]) -> dict[str, Any]:
    health = client.describe_instance_health(LoadBalancerName=lb["LoadBalancerName"])
    lb["Health"] = health.get("InstanceStates", [])
    return lb


def normalize_classic(item: dict[str, Any], origin: Origin) -> Resource:
    """One classic load balancer (with `Health`, `Tags`) → a `load_balancer` resource."""
    tags = tag_dict(item.get("Tags"))
    name = item["LoadBalancerName"]
    listeners = [entry.get("Listener", {}) for entry in item.get("ListenerDescriptions", [])]
    attributes = {
        "kind": "classic",
        "scheme": item.get("Scheme"),
        "dns_name": optional_dns_name(item.get("DNSName")),
        "zones": sorted(item.get("AvailabilityZones", [])),
        "listeners": sorted(
            (_classic_listener(listener) for listener in listeners),
            key=lambda listener: (listener["port"] or 0, listener["protocol"] or ""),
        ),
        "targets": [
            {
                "id": state.get("InstanceId"),
                "port": None,
                "target_group": None,
                "health": _HEALTH.get(state.get("State", ""), "unavailable"),
            }
            for state in item.get("Health", [])
        ],
        "security_groups": sorted(item.get("SecurityGroups", [])),
        "state": None,
    }
    return origin.resource(
        ResourceType.LOAD_BALANCER, name, name=name_of(tags, name), tags=tags, attributes=attributes
    )


def _classic_listener(listener: dict[str, Any]) -> dict[str, Any]:
    certificate = listener.get("SSLCertificateId")
    return {
        "protocol": listener.get("Protocol"),
        "port": listener.get("LoadBalancerPort"),
        "certificates": [certificate] if certificate else [],
        "default_action": "forward",
        "redirect_https": False,
        "target_groups": [],
        "ssl_policy": None,
    }


def v2_pages(client: BaseClient, origin: Origin) -> Iterator[Page]:
    """Normalized pages of ELBv2 `load_balancer` resources."""
    return normalized(fetch_v2(client), normalize_v2, origin)


def classic_pages(client: BaseClient, origin: Origin) -> Iterator[Page]:
    """Normalized pages of classic `load_balancer` resources."""
    return normalized(fetch_classic(client), normalize_classic, origin)
