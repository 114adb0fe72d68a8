"""kubernetes.unsupported and function.runtime_deprecated: the tables, their params override,
and versions or runtimes the table does not know."""

from __future__ import annotations

from datetime import timedelta

import pytest

from rules.lifecycle import FunctionRuntimeDeprecated, KubernetesUnsupported
from tests.factories.rules import NOW, evaluate, one, resource, scope_state, view
from vigil.core.model import Resource, Severity, fingerprint

K8S = KubernetesUnsupported()
RUNTIME = FunctionRuntimeDeprecated()


def cluster(version: object = "1.29") -> Resource:
    return resource("kubernetes_cluster", "platform", version=version)


@pytest.mark.parametrize("version", ["1.29", "1.29.3", "v1.29-eks-1"])
def test_a_version_past_standard_support_is_flagged(version: str) -> None:
    found = one(evaluate(K8S, view(cluster(version))))
    assert found.severity is Severity.HIGH
    assert found.title == (
        "kubernetes_cluster platform runs Kubernetes 1.29, standard support since 2025-03-23"
    )


def test_a_version_still_supported_is_not() -> None:
    assert evaluate(K8S, view(cluster("1.34"))) == []  # ends 2026-12-02, after NOW


def test_the_day_support_ends_counts() -> None:
    inventory = view(cluster("1.34"), now=NOW.replace(year=2026, month=12, day=2))
    assert one(evaluate(K8S, inventory)).evidence["end_of_support"] == "2026-12-02"


def test_a_version_newer_than_the_table_is_not_judged() -> None:
    assert evaluate(K8S, view(cluster("1.40"))) == []


def test_params_override_and_extend_the_table() -> None:
    ended = (NOW - timedelta(days=1)).date().isoformat()
    found = evaluate(K8S, view(cluster("1.40")), end_of_support={"1.40": ended})
    assert one(found).evidence["end_of_support"] == ended
    later = {"1.29": "2030-01-01"}
    assert evaluate(K8S, view(cluster("1.29")), end_of_support=later) == []


@pytest.mark.parametrize("version", [None, "", "latest"])
def test_an_unreadable_version_is_unknown(version: object) -> None:
    inventory = view(cluster(version))
    assert evaluate(K8S, inventory) == []
    assert fingerprint(K8S.id, cluster().uid) in inventory.unjudged


def test_a_cluster_whose_scope_is_not_known_is_undecided() -> None:
    failing = [scope_state("kubernetes_cluster", status="failed", last_complete=None)]
    assert evaluate(K8S, view(cluster("1.24"), scopes=failing)) == []


def function(runtime: object) -> Resource:
    return resource("function", "thumbnails", runtime=runtime)


def test_a_deprecated_runtime_is_flagged() -> None:
    found = one(evaluate(RUNTIME, view(function("python3.7"))))
    assert found.severity is Severity.MEDIUM
    assert found.title == (
        "function thumbnails runs runtime python3.7, deprecated since 2023-12-04"
    )


@pytest.mark.parametrize("runtime", ["python3.12", "python3.11", "nodejs22.x", "brainfuck1"])
def test_supported_or_unlisted_runtimes_are_not(runtime: str) -> None:
    assert evaluate(RUNTIME, view(function(runtime))) == []


def test_a_container_image_has_no_runtime_to_judge() -> None:
    assert evaluate(RUNTIME, view(function(None))) == []


def test_runtime_params_override_the_table() -> None:
    assert (
        evaluate(RUNTIME, view(function("python3.7")), end_of_support={"python3.7": "2031-01-01"})
        == []
    )
    found = evaluate(
        RUNTIME, view(function("python3.12")), end_of_support={"python3.12": "2026-01-01"}
    )
    assert one(found).native_id == "thumbnails"


def test_a_function_whose_scope_is_not_known_is_undecided() -> None:
    failing = [scope_state("function", status="failed", last_complete=None)]
    inventory = view(function("python3.7"), scopes=failing)
    assert evaluate(RUNTIME, inventory) == []
    assert fingerprint(RUNTIME.id, function(None).uid) in inventory.unjudged
