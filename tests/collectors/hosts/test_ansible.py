"""The Ansible inventory reader: INI and YAML, groups, children, vars, strict errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from collectors.hosts import HostsCollector
from collectors.hosts.ansible import InventoryHost, load_inventory, parse_inventory
from collectors.hosts.config import HostsSourceConfig
from vigil.core.errors import InputError

INI = """\
# colo inventory
mail.example.com

[web]
web[01:02].example.com ansible_user=deploy
lb.example.com ansible_host=10.0.0.9 ansible_port=2222 vigil_allowed_ports="22,80,443"

[db]
db-1 ansible_host=10.0.0.5  # primary

[db:vars]
ansible_user=postgres
ansible_port=2200

[prod:children]
web
db

[prod:vars]
ansible_user=admin
env=prod

[all:vars]
ansible_port=22
"""

YAML = """\
all:
  vars:
    ansible_port: 22
  hosts:
    mail.example.com:
  children:
    prod:
      vars:
        ansible_user: admin
      children:
        web:
          hosts:
            web01.example.com: {ansible_user: deploy}
            lb.example.com:
              ansible_host: 10.0.0.9
              ansible_port: 2222
              vigil_allowed_ports: [22, 80, 443]
        db:
          vars: {ansible_user: postgres, ansible_port: 2200}
          hosts:
            db-1: {ansible_host: 10.0.0.5}
"""


def by_name(hosts: list[InventoryHost]) -> dict[str, InventoryHost]:
    return {h.name: h for h in hosts}


@pytest.mark.parametrize(("text", "path"), [(INI, "hosts"), (YAML, "hosts.yml")])
def test_groups_children_and_var_precedence(text: str, path: str) -> None:
    hosts = by_name(parse_inventory(text, path))
    assert hosts["db-1"].variables["ansible_user"] == "postgres"  # child group beats parent
    assert hosts["db-1"].variables["ansible_port"] == 2200  # group beats all
    assert hosts["db-1"].groups == ["db", "prod"]
    assert hosts["web01.example.com"].variables["ansible_user"] == "deploy"  # host var wins
    assert hosts["lb.example.com"].variables["ansible_port"] == 2222
    assert hosts["mail.example.com"].groups == [] and hosts["mail.example.com"].variables == {
        "ansible_port": 22
    }


def test_ini_ranges_expand_with_padding() -> None:
    assert {"web01.example.com", "web02.example.com"} <= set(by_name(parse_inventory(INI, "h")))
    hosts = parse_inventory("[x]\ndb-[a:c] \nn[8:10:2]\n", "h")
    assert [h.name for h in hosts] == ["db-a", "db-b", "db-c", "n10", "n8"]


def test_targets_from_the_inventory(tmp_path: Path) -> None:
    path = tmp_path / "hosts.ini"
    path.write_text(INI)
    config = HostsSourceConfig(name="colo", ssh={"key_file": "/k"}, ansible_inventory=str(path))
    targets = {t.label: t for t in HostsCollector(config).targets()}
    lb = targets["lb.example.com"]
    assert (lb.host, lb.port, lb.user, lb.allowed_ports) == (
        "10.0.0.9",
        2222,
        "admin",
        [22, 80, 443],
    )
    assert (targets["db-1"].host, targets["db-1"].port) == ("10.0.0.5", 2200)
    assert targets["mail.example.com"].host == "mail.example.com"


@pytest.mark.parametrize(
    ("text", "line", "problem"),
    [
        ("[web]\nweb1\n[web:hostvars]\nx=1\n", 3, "unknown section kind 'hostvars'"),
        ("[web]\nweb1 ansible_port\n", 2, "expected key=value, found 'ansible_port'"),
        ("[web\nweb1\n", 1, "unterminated section header"),
        ("[prod:children]\nweb\n", 2, "group 'web' is listed as a child of 'prod'"),
        ("[web]\nweb[1:x]\n", 2, "cannot expand the host range"),
        ("[a:children]\nb\n[b:children]\na\n", 1, "groups form a cycle"),
        ("[db:vars]\nnot an assignment\n", 2, "expected key=value"),
    ],
)
def test_bad_ini_names_file_line_and_fix(text: str, line: int, problem: str) -> None:
    with pytest.raises(InputError) as caught:
        parse_inventory(text, "/etc/ansible/hosts")
    error = caught.value
    assert (error.path, error.line) == ("/etc/ansible/hosts", line)
    assert problem in error.problem and error.fix


@pytest.mark.parametrize(
    ("text", "line", "problem"),
    [
        ("all:\n  hosts:\n    a:\n  childs:\n    b:\n", 4, "unknown key 'childs'"),
        ("all:\n  hosts: [a, b]\n", 2, "'hosts' must be a mapping"),
        ("- a\n- b\n", 1, "must be a mapping of group names"),
        ("all:\n  hosts:\n    a: b: c\n", 3, "invalid YAML"),
    ],
)
def test_bad_yaml_names_file_and_line(text: str, line: int, problem: str) -> None:
    with pytest.raises(InputError) as caught:
        parse_inventory(text, "inv.yml")
    assert caught.value.line == line and problem in caught.value.problem


def test_a_bad_host_var_is_reported_at_the_host_line(tmp_path: Path) -> None:
    path = tmp_path / "hosts"
    path.write_text("[web]\nok\nbad ansible_port=99999\n")
    config = HostsSourceConfig(name="colo", ssh={"key_file": "/k"}, ansible_inventory=str(path))
    with pytest.raises(InputError) as caught:
        HostsCollector(config).targets()
    assert caught.value.line == 3 and "host 'bad'" in caught.value.problem


def test_a_missing_inventory_file_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not found"):
        load_inventory(str(tmp_path / "nope"))
