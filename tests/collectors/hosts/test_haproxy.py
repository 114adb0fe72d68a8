"""HAProxy's configuration files and `show stat` → listeners and backend health (pure)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from collectors.hosts.facts import FactError
from collectors.hosts.haproxy import (
    apply_stats,
    parse_config,
    parse_output,
    parse_show_stat,
    stat_health,
)
from collectors.hosts.listeners import ConfigError

CFG = "/etc/haproxy/haproxy.cfg"
CONFIG = """\
global
    log /dev/log local0
    stats socket /run/haproxy/admin.sock mode 660 level admin   # the Debian default
    stats socket ipv4@127.0.0.1:9999 level user

defaults
    mode http
    timeout client 30s
    default_backend be_web

frontend fe_http
    bind *:80
    bind :::80 v4v6
    http-request redirect scheme https code 301 unless { ssl_fc }

frontend fe_https
    bind *:443,:8443 ssl crt /etc/haproxy/certs/ alpn h2,http/1.1
    use_backend be_api if { path_beg /api }

frontend fe_partial
    bind 10.0.0.5:8080
    http-request redirect scheme https if { hdr(host) -i secure.example.com }

frontend fe_status
    bind 127.0.0.1:8404
    http-request return status 200 content-type text/plain string "ok"

frontend fe_sock
    bind /run/haproxy/internal.sock

frontend fe_db
    mode tcp
    bind 0.0.0.0:5432
    bind 0.0.0.0:5433 ssl crt /etc/haproxy/db.pem crt-list /etc/haproxy/crt.list
    default_backend be_db

backend be_web
    server web1 10.0.0.11:8080 check
    server web2 10.0.0.12:8080 check backup
    server web3 10.0.0.13:8080 disabled

backend be_api
    server api1 [2001:db8::7]:9000 check
    server api2 api.internal check

backend be_db
    mode tcp
    server db1 10.0.0.20:5432 check

listen stats_page
    bind 127.0.0.1:9000
    server local 127.0.0.1:9001

defaults plain
    mode tcp

listen redis
    bind 127.0.0.1:6379
    server cache 10.0.0.40:6379 check

userlist admins
    user admin password $6$secret
"""

HEADER = "# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,"
SHOW_STAT = (
    HEADER
    + """wretr,wredis,status,weight
fe_http,FRONTEND,,,0,0,9983,0,0,0,0,0,0,,,,,OPEN,
be_web,web1,0,0,0,0,,0,0,0,,0,,0,0,0,0,UP,1
be_web,web2,0,0,0,0,,0,0,0,,0,,0,0,0,0,DOWN 1/2,1
be_web,web3,0,0,0,0,,0,0,0,,0,,0,0,0,0,MAINT,1
be_web,BACKEND,0,0,0,0,999,0,0,0,0,0,,0,0,0,0,UP,1
be_api,api1,0,0,0,0,,0,0,0,,0,,0,0,0,0,UP 1/3,1
be_api,api2,0,0,0,0,,0,0,0,,0,,0,0,0,0,no check,1
"""
)


def by_port(text: str = CONFIG) -> dict[int, dict[str, object]]:
    return {x.port: vars(x) for x in parse_config([(CFG, text)]).listeners}


def test_binds_become_listeners_with_protocol_and_address() -> None:
    found = by_port()
    assert sorted(found) == [80, 443, 5432, 5433, 6379, 8080, 8404, 8443, 9000]
    assert [(x.address, x.port) for x in parse_config([(CFG, CONFIG)]).listeners][:2] == [
        ("*", 80),
        ("*", 80),
    ]  # `*:80` and `:::80`
    assert found[443]["protocol"] == "HTTPS" and found[8443]["protocol"] == "HTTPS"
    assert (found[5432]["protocol"], found[5433]["protocol"]) == ("TCP", "TLS")
    assert (found[443]["file"], found[443]["line"]) == (CFG, 17)


def test_redirects_for_every_plain_request_only() -> None:
    found = by_port()
    assert (found[80]["default_action"], found[80]["redirect_https"]) == ("redirect", True)
    partial = found[8080]  # only one host name redirects: the rest is served in plain text
    assert (partial["default_action"], partial["target_groups"]) == ("forward", ["be_web"])
    assert found[8404]["default_action"] == "fixed-response"


def test_backends_from_defaults_use_backend_and_listen_sections() -> None:
    found = by_port()
    assert found[443]["target_groups"] == ["be_web", "be_api"]
    assert found[5432]["target_groups"] == ["be_db"]
    assert found[9000]["target_groups"] == ["be_web"]  # defaults' default_backend wins
    assert (found[6379]["target_groups"], found[6379]["protocol"]) == (["redis"], "TCP")


def test_certificates_of_tls_binds() -> None:
    found = by_port()
    assert found[443]["certificate_files"] == ["/etc/haproxy/certs/"]
    assert found[5433]["certificate_files"] == ["/etc/haproxy/db.pem", "/etc/haproxy/crt.list"]
    assert found[80]["certificate_files"] == []


def test_servers_and_stats_sockets() -> None:
    balancer = parse_config([(CFG, CONFIG)])
    assert [(b.target_group, b.name, b.address, b.port, b.health) for b in balancer.backends] == [
        ("be_web", "web1", "10.0.0.11", 8080, None),
        ("be_web", "web2", "10.0.0.12", 8080, None),
        ("be_web", "web3", "10.0.0.13", 8080, "unused"),
        ("be_api", "api1", "2001:db8::7", 9000, None),
        ("be_api", "api2", "api.internal", None, None),  # no port: the client's
        ("be_db", "db1", "10.0.0.20", 5432, None),
        ("stats_page", "local", "127.0.0.1", 9001, None),
        ("redis", "cache", "10.0.0.40", 6379, None),
    ]
    assert balancer.stats_sockets == ["/run/haproxy/admin.sock"]


def test_show_stat_gives_server_health() -> None:
    balancer = parse_config([(CFG, CONFIG)])
    apply_stats(balancer, "/run/haproxy/admin.sock", SHOW_STAT)
    health = {(b.target_group, b.name): b.health for b in balancer.backends}
    assert health == {
        ("be_web", "web1"): "healthy",
        ("be_web", "web2"): "unhealthy",
        ("be_web", "web3"): "unused",
        ("be_api", "api1"): "healthy",  # going down, still up
        ("be_api", "api2"): None,  # HAProxy does not check it: unknown
        ("be_db", "db1"): None,  # not in the answer: unknown
        ("stats_page", "local"): None,
        ("redis", "cache"): None,
    }
    assert balancer.health_source == "stats socket /run/haproxy/admin.sock"


def test_an_unreadable_socket_leaves_health_unknown() -> None:
    balancer = parse_config([(CFG, CONFIG)])
    text = '2026/12/04 socat[1] E connect(5, AF=1 "/run/haproxy/admin.sock"): Permission denied'
    apply_stats(balancer, "/run/haproxy/admin.sock", text)
    assert {b.health for b in balancer.backends} == {None, "unused"}
    assert balancer.health_source is None
    assert "Permission denied" in (balancer.health_note or "")


@pytest.mark.parametrize(
    ("status", "health"),
    [
        ("UP", "healthy"),
        ("UP 2/3", "healthy"),
        ("DOWN", "unhealthy"),
        ("DOWN 1/2", "unhealthy"),
        ("NOLB", "draining"),
        ("DRAIN", "draining"),
        ("MAINT", "unused"),
        ("MAINT (via be/x)", "unused"),
        ("no check", None),
        ("", None),
    ],
)
def test_status_words(status: str, health: str | None) -> None:
    assert stat_health(status) == health


@pytest.mark.parametrize(
    ("text", "line", "what"),
    [
        ("maxconn 10\n", 1, "'maxconn' is outside any section"),
        (
            "frontend fe\n    bind :http\n",
            2,
            "frontend fe: bind :http: port 'http' is not a number",
        ),
        ("backend be\n    server web\n", 2, "server needs a name and an address"),
        ("backend be\n    server web ${WEB}:80\n", 2, "server web: cannot read the address"),
        ("frontend fe\n    bind 127.0.0.1:80 'unclosed\n", 2, "cannot split the line"),
        ("frontend\n", 1, "frontend without a name"),
    ],
)
def test_unreadable_lines_name_file_and_line(text: str, line: int, what: str) -> None:
    with pytest.raises(ConfigError) as error:
        parse_config([("/etc/haproxy/conf.d/10-web.cfg", "global\n" * 0 + text)])
    assert (error.value.file, error.value.line) == ("/etc/haproxy/conf.d/10-web.cfg", line)
    assert error.value.what.startswith(what)


def test_the_read_splits_files_and_stats() -> None:
    text = (
        "vigil: missing /etc/haproxy/extra.cfg\n"
        f"==> {CFG}\n{CONFIG}\n"
        f"=== stats /run/haproxy/admin.sock\n{SHOW_STAT}"
    )
    balancer = parse_output(text)
    assert balancer is not None
    assert balancer.config_files == [CFG]
    assert balancer.backends[1].health == "unhealthy"


def test_no_config_file_on_the_host_is_no_balancer() -> None:
    assert parse_output(f"vigil: missing {CFG}\n") is None


@pytest.mark.parametrize(
    "text",
    [
        f"==> {CFG}\ncat: {CFG}: Permission denied\nvigil: cannot read {CFG}\n",
        "sudo: a password is required\n",
        "sudo: a terminal is required to read the password; either use the -S option\n",
        "Sorry, user vigil is not allowed to execute '/usr/bin/test -e /etc/haproxy' as root.\n",
        "vigil is not in the sudoers file.  This incident will be reported.\n",
    ],
)
def test_an_unreadable_config_is_an_error_not_an_absence(text: str) -> None:
    with pytest.raises(FactError, match="ssh.sudo"):
        parse_output(text)


@pytest.mark.parametrize(
    "warning",
    [
        "sudo: unable to resolve host web-1: Name or service not known",
        "sudo: setrlimit(RLIMIT_CORE): Operation not permitted",
    ],
)
def test_a_sudo_warning_is_not_an_unreadable_config(warning: str) -> None:
    balancer = parse_output(f"{warning}\n==> {CFG}\n{warning}\n{CONFIG}\n")
    assert balancer is not None and len(balancer.listeners) > 0


def test_without_a_stats_socket_the_note_says_how_to_add_one() -> None:
    balancer = parse_output(f"==> {CFG}\n{CONFIG}\n")
    assert balancer is not None and balancer.health_source is None
    assert "stats socket" in (balancer.health_note or "")


_name = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789_-", min_size=1, max_size=10)
_status = st.sampled_from(["UP", "DOWN", "UP 1/3", "DOWN 1/2", "MAINT", "DRAIN", "no check"])


@given(st.dictionaries(st.tuples(_name, _name), _status, max_size=20))
def test_show_stat_round_trips(rows: dict[tuple[str, str], str]) -> None:
    rows = {k: v for k, v in rows.items() if k[1] not in ("FRONTEND", "BACKEND")}
    header = "# pxname,svname,qcur,status,weight"
    lines = [header, *(f"{px},{sv},0,{status},1" for (px, sv), status in rows.items())]
    assert parse_show_stat("\n".join(lines) + "\n") == rows


TEMPLATED = """\
frontend fe
    mode http
    bind 10.0.0.5:80
    use_backend be_%[req.hdr(host),lower,word(1,.)]

frontend fe_only_dynamic
    mode http
    bind 10.0.0.5:81
    use_backend %[req.hdr(host),lower]

backend be_shop
    server-template web 3 shop.service.consul:8080 check
    server-template api 5-6 api.service.consul:9000 check
"""


def test_server_templates_become_their_servers() -> None:
    balancer = parse_config([(CFG, TEMPLATED)])
    assert [(b.name, b.address, b.port) for b in balancer.backends] == [
        ("web1", "shop.service.consul", 8080),
        ("web2", "shop.service.consul", 8080),
        ("web3", "shop.service.consul", 8080),
        ("api5", "api.service.consul", 9000),
        ("api6", "api.service.consul", 9000),
    ]
    apply_stats(
        balancer,
        "/s",
        HEADER + "wretr,wredis,status,weight\n" + "be_shop,web2,0,0,0,0,,0,0,0,,0,,0,0,0,0,UP,1\n",
    )
    assert [b.health for b in balancer.backends][:3] == [None, "healthy", None]


def test_a_backend_named_per_request_leaves_the_targets_incomplete() -> None:
    balancer = parse_config([(CFG, TEMPLATED)])
    assert balancer.targets_complete is False
    assert balancer.targets_note is not None and f"{CFG}:4" in balancer.targets_note
    by_port = {x.port: x for x in balancer.listeners}
    assert (by_port[81].default_action, by_port[81].target_groups) == ("forward", [])
    assert parse_config([(CFG, CONFIG)]).targets_complete is True


@pytest.mark.parametrize("count", ["0", "x", "1-", "9-3", "99999"])
def test_an_unreadable_server_template_names_the_line(count: str) -> None:
    text = f"backend be\n    server-template web {count} app:80\n"
    with pytest.raises(ConfigError, match=f"{CFG}:2"):
        parse_config([(CFG, text)])
