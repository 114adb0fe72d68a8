"""Bind addresses as nginx and HAProxy write them, and which of them face the internet."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from collectors.hosts.listeners import (
    ConfigError,
    host_scheme,
    is_public_bind,
    parse_addresses,
    parse_bind,
    scheme,
)


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
    if address != "*":
        assert scheme(address, None) == ("internet-facing" if public else "internal")


IP_ADDR = """\
1: lo    inet 127.0.0.1/8 scope host lo\\       valid_lft forever preferred_lft forever
1: lo    inet6 ::1/128 scope host \\       valid_lft forever preferred_lft forever
2: eth0    inet 10.1.2.3/24 brd 10.1.2.255 scope global eth0\\       valid_lft forever
2: eth0    inet6 fe80::1/64 scope link \\       valid_lft forever preferred_lft forever
"""


def test_the_host_addresses_from_ip_or_hostname() -> None:
    assert parse_addresses(IP_ADDR) == ["10.1.2.3", "127.0.0.1", "::1", "fe80::1"]
    assert parse_addresses("10.1.2.3 2001:db8::5 \n") == ["10.1.2.3", "2001:db8::5"]
    assert parse_addresses("") is None
    assert parse_addresses("ip: command not found") is None


@pytest.mark.parametrize(
    ("addresses", "declared", "expected"),
    [
        (["10.1.2.3", "127.0.0.1", "fe80::1"], False, "internal"),  # a colo host on 10.x
        (["10.1.2.3", "93.184.216.34"], False, "internet-facing"),
        (["10.1.2.3", "2606:4700::1111"], False, "internet-facing"),
        (["10.1.2.3"], True, "internet-facing"),  # the target declares its public address
        ([], False, "internal"),
        (None, False, None),  # not read: unknown, never guessed
        (None, True, "internet-facing"),
    ],
)
def test_a_wildcard_bind_faces_what_the_host_faces(
    addresses: list[str] | None, declared: bool, expected: str | None
) -> None:
    wildcard = host_scheme(addresses, declared_public=declared)
    assert wildcard == expected
    assert scheme("*", wildcard) == expected
    assert scheme("10.1.2.3", wildcard) == "internal"  # an explicit address is judged alone
    assert scheme("93.184.216.34", wildcard) == "internet-facing"


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
