"""Fixtures of the probe tests: the test CA and TLS servers, the loopback DNS server."""

from tests.fixtures.dnsserver import dns_server
from tests.fixtures.tls import test_ca, tls_servers

__all__ = ["dns_server", "test_ca", "tls_servers"]
