"""TLS probe benchmark: N loopback TLS endpoints with an injected handshake delay.

    .venv/bin/python bench/probes.py [--endpoints 1000] [--delay 0.075] [--concurrency 200]

Starts N TLS listeners on 127.0.0.1 (one asyncio loop in a thread; each connection sleeps
`delay` before its handshake, standing in for network latency), issues their certificates from
a throwaway test CA, probes them all through `ProbeCollector` (one scope, verification against
the test CA) and prints wall time and endpoints/s. Target: 1,000 endpoints in < 10 s.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from collectors.probes import ProbeCollector
from collectors.probes.config import ProbeSourceConfig
from tests.fixtures.tls import TestCA, TlsServers, server_context


def _raise_fd_limit(needed: int) -> None:
    """Each endpoint costs a listener plus both ends of its connection."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < needed:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(needed, hard), hard))


def _start(count: int, delay: float, directory: Path) -> tuple[TestCA, TlsServers, list[int]]:
    ca = TestCA(directory)
    certfile, keyfile = ca.leaf("bench.test", kind="ec").write(directory, "bench")
    context = server_context(certfile, keyfile)
    servers = TlsServers()
    ports = [servers.serve(context, delay=delay) for _ in range(count)]
    return ca, servers, ports


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoints", type=int, default=1000)
    parser.add_argument("--delay", type=float, default=0.075, help="seconds before each handshake")
    parser.add_argument("--concurrency", type=int, default=100, help="the config's default")
    parser.add_argument("--rate", type=float, default=500, help="connections/s (config default)")
    args = parser.parse_args()
    _raise_fd_limit(args.endpoints * 3 + 256)
    with tempfile.TemporaryDirectory() as tmp:
        ca, servers, ports = _start(args.endpoints, args.delay, Path(tmp))
        config = ProbeSourceConfig(
            name="bench",
            ca_bundle=str(ca.bundle),
            concurrency=args.concurrency,
            rate=args.rate,
            timeout=10,
            tls=[{"host": "127.0.0.1", "port": p, "server_name": "bench.test"} for p in ports],
        )
        collector = ProbeCollector(config)
        (scope,) = collector.plan({"certificate"})
        started = time.perf_counter()
        resources = [r for page in collector.collect(scope) for r in page]
        elapsed = time.perf_counter() - started
        servers.close()
    verified = sum(1 for r in resources if r.attributes.get("verified"))
    floor = max(args.endpoints / args.rate, args.endpoints / args.concurrency * args.delay)
    print(
        f"machine: {platform.machine()} {os.cpu_count()} cpus, Python {platform.python_version()}"
    )
    print(
        f"endpoints: {args.endpoints}, handshake delay {args.delay * 1000:.0f} ms, "
        f"concurrency {args.concurrency}, rate {args.rate:.0f}/s"
    )
    print(
        f"probed: {len(resources)} ({verified} verified) in {elapsed:.2f} s "
        f"= {len(resources) / elapsed:.0f} endpoints/s (latency floor ~{floor:.2f} s)"
    )
    if len(resources) != args.endpoints or verified != args.endpoints:
        sys.exit("not every endpoint was probed and verified")


if __name__ == "__main__":
    main()
