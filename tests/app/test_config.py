"""Config: strict parsing, env references, and errors that name the file, line and fix."""

from __future__ import annotations

import os
import textwrap
from datetime import timedelta
from pathlib import Path

import pytest

from tests.fixtures.cli import VigilCli
from vigil.app.config import load_config, resolve_database_url
from vigil.cli.init import example_config
from vigil.core.errors import ConfigError

GOOD = """\
database_url: sqlite:///inventory.db
sources:
  - name: aws-prod
    provider: aws
    regions: [us-east-1, eu-west-1]
    role_arn: arn:aws:iam::123456789012:role/VigilReadOnly
    external_id: ${VIGIL_EXTERNAL_ID}
schedule:
  collect_every: 10m
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "vigil.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def test_valid_config_is_typed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIGIL_EXTERNAL_ID", "s3cr3t-external")
    config = load_config(write(tmp_path, GOOD))

    source = config.sources[0]
    assert source.regions == ["us-east-1", "eu-west-1"]
    assert source.external_id.get_secret_value() == "s3cr3t-external"
    assert "s3cr3t-external" not in repr(config)
    assert config.schedule.collect_every == timedelta(minutes=10)


def test_aws_source_without_regions_means_all(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, "sources:\n  - {name: a, provider: aws}\n"))
    assert config.sources[0].regions == "all"


def test_env_database_url_wins_over_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = load_config(write(tmp_path, "database_url: sqlite:///from-config.db\n"))
    assert resolve_database_url(config) == "sqlite:///from-config.db"
    monkeypatch.setenv("VIGIL_DATABASE_URL", "sqlite:///from-env.db")
    assert resolve_database_url(config) == "sqlite:///from-env.db"


def test_example_written_by_init_is_valid(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, example_config()))
    assert [s.name for s in config.sources] == ["aws-prod"]


BAD_CONFIGS = {
    "unknown top-level key": ("databse_url: sqlite:///x.db\n", 1, "databse_url: unknown key"),
    "unknown source key": (
        "sources:\n  - name: a\n    provider: aws\n    regoins: [us-east-1]\n",
        4,
        "regoins: unknown key",
    ),
    "wrong type": ("sources:\n  - name: a\n    provider: aws\n    regions: 5\n", 4, "regions"),
    "missing required key": ("sources:\n  - provider: aws\n", 2, "name: required key is missing"),
    "unknown provider": (
        "sources:\n  - name: a\n    provider: azurre\n",
        3,
        "unknown provider 'azurre'",
    ),
    "invalid yaml": ("sources:\n  - name: a\n   provider: aws\n", 3, "invalid YAML"),
    "missing env var": (
        "sources:\n  - name: a\n    provider: aws\n    external_id: ${VIGIL_TEST_UNSET_VAR}\n",
        4,
        "environment variable VIGIL_TEST_UNSET_VAR is not set",
    ),
    "literal secret": (
        "sources:\n  - name: a\n    provider: aws\n    external_id: hunter2-literal\n",
        4,
        "secrets must be an environment reference",
    ),
    "duplicate source names": (
        "sources:\n  - {name: a, provider: aws}\n  - {name: a, provider: aws}\n",
        None,
        "two sources are named 'a'",
    ),
    "route to unknown notifier": (
        "routes:\n  - notifiers: [pager]\n",
        None,
        "notifier 'pager', which is not defined",
    ),
    "duplicate key": ("schedule:\n  collect_every: 5m\n  collect_every: 10m\n", 3, "duplicate key"),
    "bad duration": ("schedule:\n  collect_every: soon\n", 2, "is not a duration"),
    "not a mapping": ("- just\n- a list\n", 1, "must be a mapping"),
    "sources not a list": ("sources:\n  name: a\n", 1, "sources must be a list"),
    "out of range": (
        "sources:\n  - name: a\n    provider: aws\n    max_attempts: 0\n",
        4,
        "greater than or equal to 1",
    ),
    "api rate key": (
        "sources:\n  - name: a\n    provider: aws\n    api_rates:\n"
        "      ec2.DescribeInstances: {rate: 5}\n",
        4,
        "write e.g. ec2 or acm:ListCertificates",
    ),
    "api rate zero": (
        "sources:\n  - name: a\n    provider: aws\n    api_rates:\n      ec2: {rate: 0}\n",
        5,
        "greater than 0",
    ),
    "impossible date": (
        "metrics:\n  listen: 127.0.0.1:9464\nreports:\n  organization: 2026-02-30\n",
        4,
        "day is out of range for month",
    ),
    "python tag": ("reports:\n  organization: !!python/object:os.system x\n", 2, "constructor"),
    "list as a key": ("reports:\n  ? [a, b]\n  : 1\n", 2, "mapping key must be a plain value"),
    "unknown source type": (
        "sources:\n  - name: a\n    provider: aws\n    types: [server, servr]\n",
        4,
        "unknown resource type 'servr'",
    ),
    "unknown route type": (
        "notifiers:\n  - {name: h, type: webhook, url: 'https://h.example/x'}\n"
        "routes:\n  - match: {type: [servr]}\n    notifiers: [h]\n",
        4,
        "unknown type 'servr'",
    ),
    "unknown severity override": (
        "rules:\n  severity: {backup.stale: apocalyptic}\n",
        2,
        "backup.stale",
    ),
    "unknown starttls": (
        "sources:\n  - name: e\n    provider: probe\n    tls:\n"
        "      - {host: a.example, port: 25, starttls: imap}\n",
        5,
        "starttls",
    ),
    "unknown rule id": ("rules:\n  disable: [drift.chnaged]\n", 2, "unknown rule 'drift.chnaged'"),
    "bad rule param": (
        "rules:\n  params:\n    cert.expiring: {warn_days: soon}\n",
        3,
        "cert.expiring",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_CONFIGS))
def test_bad_config_error_names_file_line_and_problem(tmp_path: Path, case: str) -> None:
    text, line, expected = BAD_CONFIGS[case]
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = caught.value.message
    assert str(path) in message
    assert expected in message
    if line is not None:
        assert f"{path}:{line}:" in message or f"line {line}:" in message
    if "secret" in case:
        assert "hunter2-literal" not in message


@pytest.mark.parametrize("case", ["unknown source key", "missing env var", "invalid yaml"])
def test_bad_config_exits_2_and_writes_nothing(vigil_cli: VigilCli, case: str) -> None:
    text, _, expected = BAD_CONFIGS[case]
    write(vigil_cli.cwd, text)
    result = vigil_cli("collect")
    assert result.returncode == 2
    assert expected in result.stderr
    assert "vigil.yaml" in result.stderr
    assert not vigil_cli.database_path.exists()


def test_explicit_missing_config_is_an_error(vigil_cli: VigilCli) -> None:
    result = vigil_cli("--config", "nowhere.yaml", "inventory")
    assert result.returncode == 2
    assert "nowhere.yaml: file not found" in result.stderr


def test_collect_without_config_says_how_to_start(vigil_cli: VigilCli) -> None:
    result = vigil_cli("collect")
    assert result.returncode == 2
    assert "vigil init" in result.stderr


def test_init_writes_example_and_refuses_to_overwrite(vigil_cli: VigilCli) -> None:
    assert vigil_cli("init").returncode == 0
    assert "sources:" in (vigil_cli.cwd / "vigil.yaml").read_text()
    again = vigil_cli("init")
    assert again.returncode == 2
    assert "--force" in again.stderr


@pytest.mark.parametrize("case", ["impossible date", "python tag"])
def test_bad_yaml_values_exit_2_without_a_traceback(vigil_cli: VigilCli, case: str) -> None:
    text, _, expected = BAD_CONFIGS[case]
    write(vigil_cli.cwd, text)
    result = vigil_cli("findings")
    assert result.returncode == 2
    assert expected in result.stderr and "Traceback" not in result.stderr
    assert not vigil_cli.database_path.exists()


def test_malformed_database_url_exits_2_without_printing_its_password(
    vigil_cli: VigilCli,
) -> None:
    for url in ("postgresql://vigil:hunter2@db:notaport/vigil", "postgresql//vigil:hunter2@db/x"):
        result = vigil_cli("findings", env={"VIGIL_DATABASE_URL": url})
        assert result.returncode == 2, result.stderr
        assert "invalid database URL" in result.stderr
        assert "hunter2" not in result.stderr + result.stdout


@pytest.mark.parametrize(
    ("content", "expected", "line"),
    [
        (b"sources: []\n# caf\xe9 in Latin-1\n", "is not UTF-8 text", 2),
        (b"sources: []\n\x00\x01binary", "is binary, not text", 2),
        (b"a: &a [*a, *a, *a]\n" + b"b: &b [*a, *a]\n" * 3, "", None),
        (b"[" * 5000 + b"]" * 5000, "nested more than", None),
    ],
    ids=["latin-1", "nul-byte", "aliases", "deep"],
)
def test_unreadable_config_exits_2_naming_the_file_and_line(
    vigil_cli: VigilCli, content: bytes, expected: str, line: int | None
) -> None:
    (vigil_cli.cwd / "vigil.yaml").write_bytes(content)
    result = vigil_cli("collect")
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert "vigil.yaml" in result.stderr
    assert expected in result.stderr
    if line is not None:
        assert f"vigil.yaml:{line}" in result.stderr, result.stderr
    assert not vigil_cli.database_path.exists()


LIBCLOUD = """sources:
  - name: private
    provider: libcloud
    driver: openstack
    key: ${{OS_USER}}
    secret: ${{OS_PASSWORD}}
    options:
      {option}: {value}
"""


@pytest.mark.parametrize(
    "option", ["ex_force_auth_token", "api_key", "ex_tenant_password", "client_credentials"]
)
def test_a_literal_libcloud_credential_option_is_refused_and_not_echoed(
    vigil_cli: VigilCli, option: str
) -> None:
    write(vigil_cli.cwd, LIBCLOUD.format(option=option, value="hunter2-literal"))
    result = vigil_cli("collect", env={"OS_USER": "u", "OS_PASSWORD": "p"})
    assert result.returncode == 2, result.stderr
    assert "vigil.yaml" in result.stderr and option in result.stderr
    assert "environment reference" in result.stderr
    assert "hunter2-literal" not in result.stdout + result.stderr
    assert not vigil_cli.database_path.exists()


@pytest.mark.parametrize("option", ["key_file", "ex_keyname"])
def test_options_that_only_look_like_credentials_are_accepted(
    vigil_cli: VigilCli, option: str
) -> None:
    write(vigil_cli.cwd, LIBCLOUD.format(option=option, value="/etc/vigil/plain"))
    result = vigil_cli("rules", "list", env={"OS_USER": "u", "OS_PASSWORD": "p"})
    assert result.returncode == 0, result.stderr


def test_a_literal_database_password_is_refused_and_not_echoed(vigil_cli: VigilCli) -> None:
    write(vigil_cli.cwd, "database_url: postgresql://vigil:hunter2-literal@127.0.0.1/vigil\n")
    result = vigil_cli("inventory", env={"VIGIL_DATABASE_URL": ""})
    assert result.returncode == 2, result.stderr
    assert "vigil.yaml:1" in result.stderr and "database_url" in result.stderr
    assert "hunter2-literal" not in result.stdout + result.stderr


def test_a_database_password_from_the_environment_is_accepted(vigil_cli: VigilCli) -> None:
    url = f"sqlite:///{vigil_cli.cwd / 'other.db'}"
    write(vigil_cli.cwd, "database_url: postgresql://vigil:${DB_PASSWORD}@127.0.0.1/vigil\n")
    result = vigil_cli("inventory", env={"DB_PASSWORD": "s3cret", "VIGIL_DATABASE_URL": url})
    assert result.returncode == 0, result.stderr


def test_a_route_matching_a_severity_that_does_not_exist_exits_2(vigil_cli: VigilCli) -> None:
    write(
        vigil_cli.cwd,
        """\
        notifiers:
          - {name: hook, type: webhook, url: "${HOOK_URL}"}
        routes:
          - match: {severity: [critical, apocalyptic]}
            notifiers: [hook]
        """,
    )
    result = vigil_cli("check", env={"HOOK_URL": "http://127.0.0.1:9/hook"})
    assert result.returncode == 2, result.stderr
    assert "vigil.yaml:4" in result.stderr and "apocalyptic" in result.stderr
    assert not vigil_cli.database_path.exists()
    write(
        vigil_cli.cwd,
        """\
        notifiers:
          - {name: hook, type: webhook, url: "${HOOK_URL}"}
        routes:
          - match: {severity: "crit*"}
            notifiers: [hook]
        """,
    )
    assert vigil_cli("rules", "list", env={"HOOK_URL": "http://x"}).returncode == 0


@pytest.mark.parametrize("command", ["check", "collect", "inventory"])
def test_an_unsupported_database_scheme_in_the_config_names_the_file_and_line(
    vigil_cli: VigilCli, command: str
) -> None:
    write(vigil_cli.cwd, "schedule:\n  collect_every: 5m\ndatabase_url: mysql://vigil@db/vigil\n")
    result = vigil_cli(command, env={"VIGIL_DATABASE_URL": ""})
    assert result.returncode == 2, result.stderr
    assert (
        "vigil.yaml:3" in result.stderr and "unsupported database scheme 'mysql'" in result.stderr
    )
    assert "Traceback" not in result.stderr
    assert not vigil_cli.database_path.exists()


def test_an_unsupported_database_scheme_from_the_environment_names_the_variable(
    vigil_cli: VigilCli,
) -> None:
    result = vigil_cli("inventory", env={"VIGIL_DATABASE_URL": "oracle://vigil@db/vigil"})
    assert result.returncode == 2, result.stderr
    assert "VIGIL_DATABASE_URL: unsupported database scheme 'oracle'" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.timeout(60)
@pytest.mark.parametrize("kind", ["fifo", "directory", "huge"])
def test_a_config_that_is_no_readable_file_exits_2_without_reading_it(
    vigil_cli: VigilCli, kind: str
) -> None:
    path = vigil_cli.cwd / "vigil.yaml"
    if kind == "fifo":
        os.mkfifo(path)  # opening it would block for ever: nobody writes
    elif kind == "directory":
        path.mkdir()
    else:
        with path.open("wb") as sparse:  # 65 MiB on paper, nothing on disk
            sparse.truncate(65 * 2**20)
    result = vigil_cli("--config", "vigil.yaml", "collect")
    assert result.returncode == 2, result.stderr
    assert "vigil.yaml" in result.stderr
    expected = {"fifo": "a FIFO", "directory": "a directory", "huge": "over the 64 MiB"}[kind]
    assert expected in result.stderr
    assert not vigil_cli.database_path.exists()


@pytest.mark.parametrize(
    ("line", "bad"),
    [
        (
            "  - {name: chat, type: slack, token: '${SLACK_TOKEN}', channel: '#ops',"
            " base_url: slack}",
            "'slack'",
        ),
        ("  - {name: hook, type: webhook, url: '${HOOK_URL}'}", "'ftp://hooks.example.com/x'"),
        ("  - {name: am, type: alertmanager, url: 'http:///api'}", "'http:///api'"),
    ],
)
def test_a_notifier_url_that_is_not_an_http_url_exits_2_at_load(
    vigil_cli: VigilCli, line: str, bad: str
) -> None:
    write(vigil_cli.cwd, "notifiers:\n" + line + "\n")
    result = vigil_cli(
        "check", env={"SLACK_TOKEN": "xoxb-test", "HOOK_URL": "ftp://hooks.example.com/x"}
    )
    assert result.returncode == 2, result.stderr
    assert "vigil.yaml:2" in result.stderr and bad in result.stderr
    assert "https://host" in result.stderr  # says how to write it
    assert "Traceback" not in result.stderr
    assert not vigil_cli.database_path.exists()


def test_executor_defaults_to_threads_and_the_pass_deadline_to_the_interval(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VIGIL_EXTERNAL_ID", "s3cr3t-external")
    config = load_config(write(tmp_path, GOOD))
    assert config.executor.kind == "threads"
    assert config.path == str((tmp_path / "vigil.yaml").resolve())
    assert config.pass_deadline(config.sources) == timedelta(minutes=10)

    hourly = GOOD + "  sources: {aws-prod: 1h}\nexecutor: {kind: processes}\n"
    config = load_config(write(tmp_path, hourly))
    assert config.executor.pool_size() == os.cpu_count()
    assert config.pass_deadline(config.sources) == timedelta(hours=1)

    explicit = GOOD + "executor: {kind: processes, processes: 3, pass_deadline: 5m}\n"
    config = load_config(write(tmp_path, explicit))
    assert config.executor.pool_size() == 3
    assert config.pass_deadline(config.sources) == timedelta(minutes=5)


def test_the_digest_workers_compare_changes_with_the_source_and_holds_no_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from vigil.app.executor import source_digest

    monkeypatch.setenv("VIGIL_EXTERNAL_ID", "s3cr3t-external")
    source = load_config(write(tmp_path, GOOD)).sources[0]
    assert "s3cr3t-external" not in source.model_dump_json()
    same = load_config(write(tmp_path, GOOD)).sources[0]
    other = load_config(write(tmp_path, GOOD.replace("eu-west-1", "eu-west-2"))).sources[0]
    assert source_digest(source) == source_digest(same) != source_digest(other)
