"""Hosts benchmark: N SSH targets (one loopback sshd under N names) behind a delaying proxy.

    .venv/bin/python bench/hosts.py [--hosts 200] [--delay 0.2] [--concurrency 32]

Starts a real OpenSSH server on 127.0.0.1 (throwaway keys, as the tests do) and a TCP proxy
that sleeps `delay` before forwarding each connection (standing in for network latency), then
runs one full collection pass of a hosts source with N targets named host-000... through the
real pipeline (vigil.app.collect.Collection, default workers) into a throwaway SQLite database,
and prints the wall time. Target: 200 hosts in < 20 s with the default concurrency.
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

from collectors.hosts.config import HostsSourceConfig
from storage.db import Database
from tests.fixtures.sshd import SSHD, DelayProxy, SshServer
from vigil.app.collect import Collection


def _raise_fd_limit(needed: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < needed:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(needed, hard), hard))


def _source(server: SshServer, proxy_port: int, hosts: int, concurrency: int) -> HostsSourceConfig:
    host_key = (server.directory / "host_key.pub").read_text().strip()
    known_hosts = server.directory / "known_hosts.proxy"
    known_hosts.write_text(f"[127.0.0.1]:{proxy_port} {host_key}\n")
    targets = [
        {"host": "127.0.0.1", "port": proxy_port, "name": f"host-{i:03d}"} for i in range(hosts)
    ]
    return HostsSourceConfig(
        name="bench",
        ssh={
            "user": server.user,
            "key_file": server.client_key,
            "known_hosts": str(known_hosts),
            "concurrency": concurrency,
            "timeout": 30,
        },
        targets=targets,  # type: ignore[arg-type]
        certificate_paths=[str(Path(__file__).parent)],  # a few files, none of them PEM
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--hosts", type=int, default=200)
    parser.add_argument("--delay", type=float, default=0.2, help="seconds before each connection")
    parser.add_argument("--concurrency", type=int, default=32, help="ssh.concurrency (default)")
    args = parser.parse_args()
    _raise_fd_limit(args.hosts * 4 + 256)
    with tempfile.TemporaryDirectory() as tmp:
        server = SshServer(SSHD, Path(tmp))
        proxy = DelayProxy(server.port, args.delay)
        try:
            source = _source(server, proxy.port, args.hosts, args.concurrency)
            db = Database(f"sqlite:///{tmp}/bench.db")
            started = time.monotonic()
            result = Collection(db, [source]).run()
            elapsed = time.monotonic() - started
        finally:
            proxy.stop()
            server.stop()
    failed = len(result.failed)
    print(
        f"hosts: {args.hosts} SSH targets, {len(result.outcomes)} scopes, {result.seen} resources,"
        f" {failed} failed scopes; delay {args.delay * 1000:.0f} ms per connection, "
        f"concurrency {args.concurrency}"
    )
    print(f"full pass: {elapsed:.1f} s ({args.hosts / elapsed:.0f} hosts/s); target < 20 s")
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"
    )
    if failed:
        print("first failure:", result.failed[0].error)


if __name__ == "__main__":
    main()
