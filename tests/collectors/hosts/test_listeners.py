"""Bind addresses as nginx and HAProxy write them, and which of them face the internet."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from collectors.hosts.listeners import ConfigError, is_public_bind, parse_bind, scheme


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("80", ("*", 80)),
        ("*:80", ("*", 80)),
        (":80", ("*", 80)),
        ("0.0.0.0:8080", ("*", 8080)),
        ("[::]:443", ("*", 443)),
        (":::443", ("*", 443)),
        ("ipv6@:::443", ("*", 443)),
        ("127.0.0.1:8080", ("127.0.0.1", 8080)),
        ("[::1]:8443", ("::1", 8443)),
        ("2001:db8::5:443", ("2001:db8::5", 443)),
        ("LocalHost:81", ("localhost", 81)),
        ("10.0.0.5:1000-1010", ("10.0.0.5", 1000)),
        ("unix:/run/nginx.sock", None),
        ("/run/haproxy/web.sock", None),
        ("abns@frontend", None),
    ],
)
def test_bind_addresses(text: str, expected: tuple[str, int] | None) -> None:
    assert parse_bind(text) == expected


def test_nginx_defaults_the_port_to_80() -> None:
    assert parse_bind("10.0.0.5", default_port=80) == ("10.0.0.5", 80)


@pytest.mark.parametrize("text", ["", "10.0.0.5", "*:http", ":0", ":70000", "${ADDR}:80"])
def test_unreadable_binds_are_errors(text: str) -> None:
    with pytest.raises(ValueError):
        parse_bind(text)


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("*", True),
        ("93.184.216.34", True),
        ("2606:4700::1111", True),
        ("shop.example.com", True),  # what it resolves to is unknown: never hide plain HTTP
        ("127.0.0.1", False),
        ("::1", False),
        ("localhost", False),
        ("10.1.2.3", False),
        ("192.168.0.10", False),
        ("fd00::5", False),
    ],
)
def test_public_binds(address: str, public: bool) -> None:
    assert is_public_bind(address) is public
    assert scheme(address) == ("internet-facing" if public else "internal")


def test_a_config_error_names_file_line_and_fix() -> None:
    error = ConfigError("bad", file="/etc/haproxy/haproxy.cfg", line=7, fix="do this")
    assert str(error) == "/etc/haproxy/haproxy.cfg:7: bad; do this"


@given(st.ip_addresses(), st.integers(min_value=1, max_value=65535))
def test_any_address_and_port_round_trips(
    ip: ipaddress.IPv4Address | ipaddress.IPv6Address, port: int
) -> None:
    text = f"[{ip}]:{port}" if ip.version == 6 else f"{ip}:{port}"
    expected = "*" if str(ip) in ("0.0.0.0", "::") else str(ip)
    assert parse_bind(text) == (expected, port)
    assert parse_bind(f":::{port}" if ip.version == 6 else f"*:{port}") == ("*", port)
