"""The read-only guard: every client Vigil builds refuses non-read operations before sending.

It is an allow-list on the operation name, checked in botocore's `before-call` hook (after
parameter validation, before signing and sending). Every allowed call is recorded as a
(IAM service prefix, operation) pair so the least-privilege policy can be derived from use.
"""

from __future__ import annotations

import threading
from typing import Any

from botocore.client import BaseClient

from vigil.core.errors import ReadOnlyViolation

READ_PREFIXES: tuple[str, ...] = ("Describe", "List", "Get", "Lookup", "Search", "BatchGet")
"""Operation-name prefixes that only read."""

EXPLICITLY_ALLOWED: frozenset[tuple[str, str]] = frozenset(
    # Reads in spirit: they return credentials or identity and change nothing.
    {("sts", "AssumeRole"), ("sts", "GetCallerIdentity")}
)

IAM_ACTIONS: dict[tuple[str, str], str] = {
    # Where the IAM action is not named like the operation (botocore service, operation).
    ("s3", "ListBuckets"): "s3:ListAllMyBuckets",
    ("s3", "GetPublicAccessBlock"): "s3:GetBucketPublicAccessBlock",
    ("s3", "GetBucketEncryption"): "s3:GetEncryptionConfiguration",
    ("s3control", "GetPublicAccessBlock"): "s3:GetAccountPublicAccessBlock",
}
"""Operations whose IAM action differs from `signing name:operation`."""

IAM_PREFIXES: dict[str, str] = {
    "elbv2": "elasticloadbalancing",
    "elb": "elasticloadbalancing",
    "s3control": "s3",
}
"""botocore service names whose IAM prefix (signing name) differs."""


def iam_action(service: str, operation: str) -> str:
    """The IAM action a botocore `service` operation needs (`elbv2` → `elasticloadbalancing`)."""
    return (
        IAM_ACTIONS.get((service, operation)) or f"{IAM_PREFIXES.get(service, service)}:{operation}"
    )


_called: set[tuple[str, str]] = set()
_called_lock = threading.Lock()


def is_read_only(service: str, operation: str) -> bool:
    """Whether `service:operation` is allowed through the guard."""
    return operation.startswith(READ_PREFIXES) or (service, operation) in EXPLICITLY_ALLOWED


def _check(model: Any, **_: Any) -> None:
    """botocore `before-call` handler: refuse, or record and let through."""
    service = model.service_model.signing_name
    operation = model.name
    if not is_read_only(service, operation):
        raise ReadOnlyViolation(
            f"refused {service}:{operation} before sending it: Vigil only reads "
            f"(allowed: {', '.join(READ_PREFIXES)} operations and sts:AssumeRole)"
        )
    action = IAM_ACTIONS.get((model.service_model.service_name, operation))
    if action:
        service, operation = action.split(":", 1)
    with _called_lock:
        _called.add((service, operation))


def guard(client: BaseClient) -> BaseClient:
    """Install the read-only guard on `client` and return it."""
    client.meta.events.register("before-call", _check, unique_id="vigil-read-only-guard")
    return client


def called_operations() -> frozenset[tuple[str, str]]:
    """Every (service, operation) pair guarded clients have called in this process."""
    with _called_lock:
        return frozenset(_called)


def iam_actions() -> list[str]:
    """The called operations as sorted IAM actions, e.g. `ec2:DescribeInstances`."""
    return sorted(f"{service}:{operation}" for service, operation in called_operations())


def reset_called_operations() -> None:
    """Forget recorded calls (tests, or before a run whose policy is being derived)."""
    with _called_lock:
        _called.clear()
