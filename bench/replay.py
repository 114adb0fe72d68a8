"""A latency proxy that replays recorded AWS answers, for benchmarks past what moto can serve.

moto's cost per page grows faster than the page, so at 10k+ resources moto, not Vigil, is what
a benchmark would measure. `ReplayProxy` forwards to moto once (recording each answer by its
request) and then answers the same requests from memory after a fixed delay — the simulated API
latency — so the timed pass measures Vigil's pipeline against the latency floor.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from typing import Any

from tests.fixtures.awsproxy import AwsProxy, _ProxyHandler

PLANNING = "planning"
OPERATION_TYPES = {
    "GetCallerIdentity": PLANNING,
    "DescribeRegions": PLANNING,
    "ListAccounts": PLANNING,
    "DescribeInstances": "server",
    "DescribeVolumes": "disk",
    "DescribeSnapshots": "snapshot",
    "DescribeDBSnapshots": "snapshot",
    "DescribeSecurityGroups": "security_group",
    "ListCertificates": "certificate",
    "DescribeCertificate": "certificate",
    "ListTagsForCertificate": "certificate",
    "DescribeDBInstances": "database",
}


class ReplayProxy(AwsProxy):
    """Record answers while `recording`; afterwards replay them with `latency` each."""

    def __init__(self, upstream: str, **options: Any) -> None:
        super().__init__(upstream, **options)
        self.recording = True
        self.cache: dict[tuple[str, str, bytes], tuple[int, list[tuple[str, str]], bytes]] = {}
        self.calls: Counter[tuple[str, str]] = Counter()
        self.misses = 0
        self._cache_lock = threading.Lock()
        self._server.RequestHandlerClass = _replaying_handler(self)

    def replay(self, latency: float) -> None:
        self.recording = False
        self.latency = latency
        self.calls.clear()
        self.misses = 0

    def floor(self) -> tuple[float, tuple[str, str], int]:
        """The critical-path floor: planning calls, then the slowest scope's sequential calls
        (most calls of one region and type), times the latency."""
        planning = sum(n for (region, kind), n in self.calls.items() if kind == PLANNING)
        scopes = Counter({key: n for key, n in self.calls.items() if key[1] != PLANNING})
        (scope, calls) = scopes.most_common(1)[0]
        return (planning + calls) * self.latency, scope, planning + calls


def _replaying_handler(proxy: ReplayProxy) -> type[_ProxyHandler]:
    class Handler(_ProxyHandler):
        owner = proxy

        def _handle(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            # JSON APIs name the operation in a header: ACM's DescribeCertificate and
            # ListTagsForCertificate send the same body.
            target = self.headers.get("X-Amz-Target", "")
            key = (self.command, f"{self.path}#{target}", body)
            with proxy._cache_lock:
                recorded = None if proxy.recording else proxy.cache.get(key)
            proxy.calls[_scope_of(self.headers.get("Authorization", ""), body, self.path)] += 1
            if recorded is None:
                proxy.misses += 0 if proxy.recording else 1
                self._record(key, body)
                return
            time.sleep(proxy.latency)
            self._reply(*recorded)

        def _record(self, key: tuple[str, str, bytes], body: bytes) -> None:
            captured: dict[str, Any] = {}
            original = self._reply

            def capture(status: int, headers: list[tuple[str, str]], payload: bytes) -> None:
                captured["answer"] = (status, headers, payload)
                original(status, headers, payload)

            self._reply = capture  # type: ignore[method-assign]
            self._forward(body)
            if "answer" in captured and captured["answer"][0] == 200:
                with proxy._cache_lock:
                    proxy.cache[key] = captured["answer"]

    return Handler


def _scope_of(authorization: str, body: bytes, path: str) -> tuple[str, str]:
    from tests.fixtures.awsproxy import _credential_scope, _operation

    service, region = _credential_scope(authorization)
    operation = _operation("", body, "GET", path)
    if operation in ("GetCallerIdentity", "DescribeRegions", "ListAccounts"):
        return ("", PLANNING)
    if service == "route53":
        return ("global", "dns_record" if "rrset" in path else "dns_zone")
    if service == "acm":
        return (region, "certificate")
    return (region, OPERATION_TYPES.get(operation, operation))
