"""nginx's configuration as `nginx -T` prints it → listeners and backends (pure)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from collectors.hosts.listeners import ConfigError
from collectors.hosts.nginx import Directive, dump_error, parse_dump, parse_file

DUMP = """\
nginx: the configuration file /etc/nginx/nginx.conf syntax is ok
# configuration file /etc/nginx/nginx.conf:
user www-data;
events { worker_connections 768; }
http {
    ssl_certificate /etc/nginx/ssl/default.crt;   # inherited by servers without their own
    upstream app {
        server 10.0.0.11:8080;
        server 10.0.0.12:8080 backup;
        server 10.0.0.13 down;
        server unix:/run/app.sock;
    }
    include /etc/nginx/sites-enabled/*;
}
stream {
    upstream db { server 10.0.0.20:5432; }
    server { listen 5432; proxy_pass db; }
    server { listen 127.0.0.1:6379 ssl; proxy_pass 10.0.0.30:6379; }
}

# configuration file /etc/nginx/sites-enabled/shop:
server {
    listen 80;
    listen [::]:80;
    server_name shop.example.com www.shop.example.com;
    if ($scheme = http) { return 301 https://$host$request_uri; }
}
server {
    listen 443 ssl http2;
    server_name shop.example.com;
    ssl_certificate "/etc/nginx/ssl/shop.crt";
    location / { proxy_pass http://app; }
    location /static/ { root /srv; }
    location ~ \\.php$ { fastcgi_pass 127.0.0.1:9000; }
    location /dyn { proxy_pass http://$backend; }
}

# configuration file /etc/nginx/sites-enabled/status:
server {
    listen 127.0.0.1:8081;
    location / { return 200 "ok\\n"; }
}
server {
    listen 10.0.0.5:8082;
    rewrite ^(.*)$ https://secure.example.com$1 permanent;
}
server { listen unix:/run/nginx-internal.sock; root /srv/internal; }
server { listen 8000; server_name default.example.com; root /srv/default; }

nginx: [warn] the "user" directive makes sense only if the master process runs as root
2026/12/04 18:54:31 [warn] 9920#9920: conflicting server name "shop.example.com" on 0.0.0.0:80
nginx: configuration file /etc/nginx/nginx.conf test is successful
"""


def listeners() -> dict[tuple[str, int], dict[str, object]]:
    balancer = parse_dump(DUMP)
    assert balancer is not None
    return {(x.address, x.port): vars(x) for x in balancer.listeners}


def test_every_file_of_the_dump_is_read_with_its_includes() -> None:
    balancer = parse_dump(DUMP)
    assert balancer is not None
    assert balancer.kind == "nginx"
    assert balancer.config_files == [
        "/etc/nginx/nginx.conf",
        "/etc/nginx/sites-enabled/shop",
        "/etc/nginx/sites-enabled/status",
    ]
    assert sorted(listeners()) == [
        ("*", 80),
        ("*", 443),
        ("*", 5432),
        ("*", 8000),
        ("10.0.0.5", 8082),
        ("127.0.0.1", 6379),
        ("127.0.0.1", 8081),
    ]


def test_a_scheme_test_that_redirects_to_https_is_a_redirect() -> None:
    plain = listeners()[("*", 80)]  # `listen 80` and `listen [::]:80`: one listener
    assert plain["protocol"] == "HTTP"
    assert (plain["default_action"], plain["redirect_https"]) == ("redirect", True)
    assert plain["server_names"] == ["shop.example.com", "www.shop.example.com"]


def test_tls_listener_certificates_groups_and_where_it_is_configured() -> None:
    tls = listeners()[("*", 443)]
    assert (tls["protocol"], tls["tls"]) == ("HTTPS", True)
    assert tls["certificate_files"] == ["/etc/nginx/ssl/shop.crt"]
    assert tls["default_action"] == "forward"
    assert tls["target_groups"] == ["127.0.0.1:9000", "app"]  # `$backend` is not knowable
    assert (tls["file"], tls["line"]) == ("/etc/nginx/sites-enabled/shop", 8)


def test_fixed_responses_redirects_elsewhere_and_static_sites() -> None:
    found = listeners()
    assert found[("127.0.0.1", 8081)]["default_action"] == "fixed-response"
    elsewhere = found[("10.0.0.5", 8082)]
    assert (elsewhere["default_action"], elsewhere["redirect_https"]) == ("redirect", True)
    assert found[("*", 8000)]["default_action"] == "serve"  # its own files: plain HTTP content


def test_a_server_without_listen_listens_on_80() -> None:
    balancer = parse_dump(
        "# configuration file /etc/nginx/nginx.conf:\nhttp { server { root /srv; } }\n"
    )
    assert balancer is not None
    assert [(x.address, x.port, x.default_action) for x in balancer.listeners] == [
        ("*", 80, "serve")
    ]


def test_blocks_on_one_port_merge_to_the_weakest_action() -> None:
    dump = DUMP.replace(
        "server { listen 8000; server_name default.example.com; root /srv/default; }",
        "server { listen 8000; server_name default.example.com; root /srv/default; }\n"
        "server { listen 80; server_name static.example.com; root /srv/default; }",
    )
    balancer = parse_dump(dump)
    assert balancer is not None
    plain = next(x for x in balancer.listeners if x.port == 80)
    assert (plain.default_action, plain.redirect_https) == ("serve", False)


def test_stream_servers_are_tcp_and_tls_listeners() -> None:
    found = listeners()
    assert (found[("*", 5432)]["protocol"], found[("*", 5432)]["target_groups"]) == ("TCP", ["db"])
    tls = found[("127.0.0.1", 6379)]
    assert (tls["protocol"], tls["certificate_files"]) == ("TLS", [])


def test_upstream_servers_and_direct_pass_addresses_are_backends() -> None:
    balancer = parse_dump(DUMP)
    assert balancer is not None
    assert [(b.address, b.port, b.target_group, b.health, b.backup) for b in balancer.backends] == [
        ("10.0.0.11", 8080, "app", None, False),
        ("10.0.0.12", 8080, "app", None, True),
        ("10.0.0.13", 80, "app", "unused", False),  # `down`: taken out by its admin
        ("unix:/run/app.sock", None, "app", None, False),
        ("127.0.0.1", 9000, "127.0.0.1:9000", None, False),
        ("10.0.0.20", 5432, "db", None, False),
        ("10.0.0.30", 6379, "10.0.0.30:6379", None, False),
    ]


def test_http_level_certificates_are_inherited() -> None:
    dump = DUMP.replace('    ssl_certificate "/etc/nginx/ssl/shop.crt";\n', "")
    balancer = parse_dump(dump)
    assert balancer is not None
    tls = next(x for x in balancer.listeners if x.port == 443)
    assert tls.certificate_files == ["/etc/nginx/ssl/default.crt"]


def test_no_nginx_on_the_host_is_no_balancer() -> None:
    assert parse_dump("vigil: nginx not found\n") is None


def test_nginx_rejecting_its_config_names_file_and_line() -> None:
    output = (
        'nginx: [emerg] unexpected "}" in /etc/nginx/sites-enabled/shop:12\n'
        "nginx: configuration file /etc/nginx/nginx.conf test failed\n"
    )
    error = dump_error(output)
    assert (error.file, error.line) == ("/etc/nginx/sites-enabled/shop", 12)
    assert str(error).startswith(
        '/etc/nginx/sites-enabled/shop:12: nginx rejects its configuration: unexpected "}"'
    )


def test_nginx_failing_otherwise_says_so() -> None:
    error = dump_error("sudo: a password is required\n")
    assert "`nginx -T` failed: sudo: a password is required" in str(error)
    assert "ssh.sudo" in str(error)


@pytest.mark.parametrize(
    ("text", "line", "what"),
    [
        ("http {\n  server {\n  }\n}\n}\n", 5, 'unexpected "}"'),
        ("http {\n  server {\n", 2, 'a "{" is never closed'),
        ("events {}\nworker_processes 4\n", 2, '"worker_processes" is not terminated by ";"'),
        ('http {\n  return 200 "open\n}\n', 2, "a quote is never closed"),
        ("events {}\n;\n", 2, 'unexpected ";"'),
    ],
)
def test_unparsable_files_name_the_line(text: str, line: int, what: str) -> None:
    with pytest.raises(ConfigError) as error:
        parse_file(text, "/etc/nginx/nginx.conf")
    assert (error.value.file, error.value.line, error.value.what) == (
        "/etc/nginx/nginx.conf",
        line,
        what,
    )


def test_variables_with_braces_stay_in_their_word() -> None:
    (directive,) = parse_file('set $x "${host}-a"; ', "f")
    assert directive.args == ["$x", "${host}-a"]
    (log,) = parse_file("access_log /var/log/${host}.log;", "f")
    assert log.args == ["/var/log/${host}.log"]


# -- property: rendering a directive tree and parsing it gives the tree back -------------

_word = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789_./:-$", min_size=1, max_size=8)


def _tree(depth: int) -> st.SearchStrategy[list[tuple[str, list[str], object]]]:
    leaf = st.tuples(_word, st.lists(_word, max_size=3), st.none())
    if depth == 0:
        return st.lists(leaf, max_size=4)
    block = st.tuples(_word, st.lists(_word, max_size=2), _tree(depth - 1))
    return st.lists(st.one_of(leaf, block), max_size=4)


def _render(tree: list[tuple[str, list[str], object]], indent: int = 0) -> str:
    out = []
    for name, args, block in tree:
        head = " " * indent + " ".join([name, *(f'"{a}"' if "$" in a else a for a in args)])
        if block is None:
            out.append(head + ";  # comment")
        else:
            assert isinstance(block, list)
            out.append(head + " {\n" + _render(block, indent + 2) + " " * indent + "}")
    return "\n".join(out) + "\n"


def _shape(directives: list[Directive]) -> list[tuple[str, list[str], object]]:
    return [(d.name, d.args, None if d.block is None else _shape(d.block)) for d in directives]


@given(_tree(2))
def test_any_rendered_tree_parses_back(tree: list[tuple[str, list[str], object]]) -> None:
    names_ok = all(not name.startswith("#") for name, _, _ in tree)
    if not names_ok:
        return
    assert _shape(parse_file(_render(tree), "f")) == tree


@given(st.text(max_size=200))
def test_any_text_parses_or_fails_with_a_config_error(text: str) -> None:
    try:
        parse_file(text, "f")
    except ConfigError as exc:
        assert exc.file == "f" and (exc.line or 0) >= 1


UNIX_AND_VARIABLE = """\
# configuration file /etc/nginx/nginx.conf:
events {}
http {
    server { listen 80; location / { proxy_pass http://unix:/run/gunicorn.sock:/app/; } }
    server { listen 8080; location / { fastcgi_pass unix:/run/php/fpm.sock; } }
    server { listen 8081; location / { proxy_pass $upstream; } }
    server { listen 8082; location / { uwsgi_pass unix:///run/uwsgi/app.sock; } }
}
"""


def test_a_unix_socket_pass_is_a_target_of_unknown_health() -> None:
    """Not an empty target group: lb.unhealthy_targets would call it critical."""
    balancer = parse_dump(UNIX_AND_VARIABLE)
    assert balancer is not None
    by_port = {x.port: x for x in balancer.listeners}
    assert by_port[80].target_groups == ["unix:/run/gunicorn.sock"]
    assert by_port[8080].target_groups == ["unix:/run/php/fpm.sock"]
    assert [(b.address, b.port, b.target_group, b.health) for b in balancer.backends] == [
        ("unix:/run/gunicorn.sock", None, "unix:/run/gunicorn.sock", None),
        ("unix:/run/php/fpm.sock", None, "unix:/run/php/fpm.sock", None),
        ("unix:/run/uwsgi/app.sock", None, "unix:/run/uwsgi/app.sock", None),
    ]


def test_a_pass_to_a_variable_leaves_the_targets_incomplete() -> None:
    balancer = parse_dump(UNIX_AND_VARIABLE)
    assert balancer is not None
    assert balancer.targets_complete is False
    assert balancer.targets_note is not None and "/etc/nginx/nginx.conf:5" in balancer.targets_note
    without = parse_dump(UNIX_AND_VARIABLE.replace("proxy_pass $upstream;", "return 204;"))
    assert without is not None and without.targets_complete is True
