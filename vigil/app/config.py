"""The whole `vigil.yaml`: typed, strict, with errors that name the file, line and key.

Each stage declares the config of its own plugins (a source's keys live beside its collector);
this module assembles them and checks what crosses stages (routes name existing notifiers,
rule ids exist).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, Union

from pydantic import (
    Field,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails

from collectors.base import SourceConfig
from collectors.registry import SOURCE_KINDS, source_config_models
from notifiers.routing import RouteConfig
from rules.config import RulesConfig
from rules.registry import check_rules_config
from vigil.app.access import AccessConfig
from vigil.app.state_sources import state_source_problems
from vigil.core.defaults import DEFAULT_DATABASE_URL
from vigil.core.errors import ConfigError, InputError
from vigil.core.retention import RetentionPolicy
from vigil.core.schema import Duration, EnvStr, StrictModel, literal_url_password
from vigil.core.yamlsource import YamlDocument, load_yaml


def _notifier_union() -> Any:
    # Imported here: each notifier declares its own keys beside its code (notifiers/registry).
    from notifiers.registry import notifier_config_models

    models = tuple(notifier_config_models())
    return Annotated[Union[models], Field(discriminator="type")]  # noqa: UP007


if TYPE_CHECKING:
    from notifiers.base import NotifierSettings

    NotifierConfig = NotifierSettings
else:
    NotifierConfig = _notifier_union()
    """A notification channel: one model per `type` (slack, email, webhook, alertmanager)."""


class ScheduleConfig(StrictModel):
    """`schedule:` when `vigil run` collects, checks and notifies.

    ```yaml
    schedule:
      collect_every: 15m            # every source, unless overridden below
      probes_every: 5m              # sources with provider: probe
      sources:                      # per source: an interval or a cron expression (UTC)
        aws-prod: 1h
        edge: "*/10 * * * *"
      jitter: 30s                   # random delay per run; default a tenth of the interval, <= 60s
      misfire_grace_time: 5m        # a run late by more than this is skipped, not run late
      check_after_collect: true     # rules + notifications after each collection
    ```
    """

    collect_every: Duration = Field(
        default=timedelta(minutes=15),
        description="Interval between collection passes of `vigil run`.",
    )
    sources: dict[str, Duration | str] = Field(
        default_factory=dict, description="Per-source interval or cron expression."
    )
    probes_every: Duration | None = Field(
        default=None, description="Interval for `provider: probe` sources (else collect_every)."
    )
    jitter: Duration | None = Field(
        default=None,
        description="Random delay added to each run; unset: a tenth of the interval, at most 60s.",
    )
    misfire_grace_time: Duration = Field(
        default=timedelta(minutes=5),
        description="A run later than this (machine asleep, daemon busy) is skipped, not run late.",
    )
    check_after_collect: bool = Field(
        default=True,
        description="Run the rules and notify after each collection; false: on collect_every.",
    )

    @model_validator(mode="after")
    def _valid(self) -> ScheduleConfig:
        for key in ("collect_every", "probes_every", "misfire_grace_time"):
            value = getattr(self, key)
            if value is not None and value.total_seconds() < 1:
                raise ValueError(f"{key} must be at least 1s (got {value.total_seconds()}s)")
        if self.jitter is not None and self.jitter.total_seconds() < 0:
            raise ValueError("jitter must not be negative")
        return self

    @field_validator("sources")
    @classmethod
    def _source_specs(cls, sources: dict[str, timedelta | str]) -> dict[str, timedelta | str]:
        # A field validator, so that an error points at the line of `sources:`.
        for name, raw in sources.items():
            _spec(name, raw)
        return sources

    def source_spec(self, name: str) -> timedelta | str | None:
        """The override for source `name`: an interval, a cron expression, or None.

        Raises ValueError when the value is neither a duration nor a valid 5-field cron.
        """
        return _spec(name, self.sources.get(name))

    def for_source(self, name: str, provider: str) -> timedelta | str:
        """When source `name` runs: its override, else `probes_every` for probes, else
        `collect_every`."""
        spec = self.source_spec(name)
        if spec is not None:
            return spec
        if provider == "probe" and self.probes_every is not None:
            return self.probes_every
        return self.collect_every


def _spec(name: str, raw: timedelta | str | None) -> timedelta | str | None:
    """A `schedule.sources` value read: an interval, a cron expression, or None."""
    if raw is None or isinstance(raw, timedelta):
        return raw
    from vigil.app.cron import check_cron  # only `vigil run` needs APScheduler
    from vigil.core.timeutil import DURATION_HELP, parse_duration

    try:
        return parse_duration(raw)
    except ValueError:
        pass
    try:
        check_cron(raw)
    except ValueError as exc:
        raise ValueError(
            f"sources.{name}: {raw!r} is neither {DURATION_HELP} nor a cron expression "
            f"of 5 fields (minute hour day month weekday, e.g. '*/10 * * * *'): {exc}"
        ) from None
    return raw


class MetricsConfig(StrictModel):
    """`metrics:` the Prometheus endpoint of `vigil run` (`/metrics`, `/healthz`, `/readyz`).

    ```yaml
    metrics:
      listen: 127.0.0.1:9464        # host:port; [::1]:9464 for IPv6
      tls_cert: /etc/vigil/tls.crt  # optional, with tls_key: serve HTTPS
      tls_key: /etc/vigil/tls.key
      cache_seconds: 60             # aggregates are re-read at most this often between cycles
    ```
    """

    listen: str = Field(
        default="127.0.0.1:9464",
        description="host:port of the metrics server (`/metrics`, `/healthz`, `/readyz`); "
        "use `0.0.0.0:9464` in a container.",
    )
    tls_cert: str | None = Field(
        default=None, description="PEM certificate (chain) file: serve HTTPS (with tls_key)."
    )
    tls_key: str | None = Field(default=None, description="PEM private key file of tls_cert.")
    cache_seconds: Duration = Field(
        default=timedelta(seconds=60),
        description="Re-read storage aggregates at least this often between cycles.",
    )

    @model_validator(mode="after")
    def _valid(self) -> MetricsConfig:
        self.address()
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("tls_cert and tls_key go together: set both for HTTPS, or neither")
        if self.cache_seconds.total_seconds() < 1:
            raise ValueError("cache_seconds must be at least 1s")
        return self

    def address(self) -> tuple[str, int]:
        """(host, port) of `listen`; ValueError naming the expected form otherwise."""
        host, sep, port = self.listen.rpartition(":")
        host = host.strip("[]")
        if not sep or not host or not port.isdigit() or not 0 <= int(port) < 65536:
            raise ValueError(
                f"listen: {self.listen!r} is not host:port (e.g. 127.0.0.1:9464 or [::1]:9464)"
            )
        return host, int(port)


class ExecutorConfig(StrictModel):
    """`executor:` where a pass runs its scopes (DESIGN.md, Executors).

    ```yaml
    executor:
      kind: threads           # default: one process, scopes on threads
      # kind: processes       # a local pool of worker processes: parsing uses every core
      # processes: 4          # the pool size; default the machine's core count
      # kind: queue           # jobs in PostgreSQL, run by `vigil worker` on any machines
      # stalled_after: 30s    # queue: a worker silent this long is dead; its scopes retried
      # pass_deadline: 15m    # scopes not started by then fail; default the collection interval
    ```

    Under `processes`, each worker reads the same config file and environment (no credential
    is passed to it); scopes are sent to the workers, and their prepared records come back to
    the one database writer. A worker that dies fails only the scopes it was running (their
    runs abandoned: nothing of them applied).

    Under `queue`, each scope is a job in the PostgreSQL database (`database_url`; SQLite is
    refused), run by any `vigil worker` reading the same config file; a worker writes its own
    scope runs. A worker that dies leaves its runs abandoned, and its jobs go to another worker
    once its heartbeat is `stalled_after` old.
    """

    kind: Literal["threads", "processes", "queue"] = Field(
        default="threads",
        description="`threads` (one process), `processes` (a local pool of worker processes) "
        "or `queue` (jobs in PostgreSQL run by `vigil worker` processes on any machines).",
    )
    processes: int | None = Field(
        default=None,
        ge=1,
        description="Worker processes of `kind: processes`; default the machine's core count.",
    )
    pass_deadline: Duration | None = Field(
        default=None,
        description='Scopes no worker started by then fail ("no live worker"); default the '
        "source's collection interval (`schedule`).",
    )
    stalled_after: Duration = Field(
        default=timedelta(seconds=30),
        description="`queue`: a worker that sent no heartbeat for this long is taken for dead; "
        "its scopes go to another worker (heartbeats every third of it).",
    )

    @model_validator(mode="after")
    def _valid(self) -> ExecutorConfig:
        if self.processes is not None and self.kind != "processes":
            raise ValueError(
                "processes: is the pool size of `kind: processes`; set kind: processes or "
                "remove processes:"
            )
        if self.pass_deadline is not None and self.pass_deadline.total_seconds() < 1:
            raise ValueError("pass_deadline must be at least 1s")
        if self.stalled_after.total_seconds() < 1:
            raise ValueError("stalled_after must be at least 1s")
        return self

    def pool_size(self) -> int:
        """How many worker processes `kind: processes` starts."""
        return self.processes or os.cpu_count() or 1


class DashboardConfig(StrictModel):
    """`dashboard:` where the dashboard is reached and who may log in.

    With `oidc`, every page asks for a login through Streamlit's built-in OIDC (`st.login`),
    and `access` says who, once logged in, may see the estate (an OIDC login alone only proves
    an account at the issuer). Without `oidc` the dashboard has no login and `vigil dashboard`
    refuses to bind anything but loopback.

    ```yaml
    dashboard:
      url: https://vigil.example.com       # public base URL; redirect URI = url + /oauth2callback
      oidc:
        server_metadata_url: https://accounts.google.com/.well-known/openid-configuration
        client_id: 1234.apps.googleusercontent.com
        client_secret: ${VIGIL_OIDC_CLIENT_SECRET}
        cookie_secret: ${VIGIL_DASHBOARD_COOKIE_SECRET}   # optional: random per start otherwise
      access:                              # required with oidc
        domains: [example.com]
    ```
    """

    url: str = Field(
        default="http://localhost:8501",
        description="Public base URL of the dashboard; the OIDC redirect URI is url + "
        "/oauth2callback.",
    )
    # Declared before `oidc` so that oidc's validator sees it.
    access: AccessConfig | None = Field(
        default=None, description="Who may log in; required with `oidc`."
    )
    oidc: dict[str, EnvStr] = Field(
        default_factory=dict,
        validate_default=True,
        description="Streamlit's st.login settings: server_metadata_url, client_id, "
        "client_secret and optionally cookie_secret (secrets as `${ENV}` references).",
    )

    @field_validator("oidc", mode="after")
    @classmethod
    def _someone_may_log_in(cls, oidc: dict[str, str], info: ValidationInfo) -> dict[str, str]:
        access = info.data.get("access")
        if oidc and (access is None or not access.lists_anyone):
            raise ValueError(
                "OIDC login without an allow-list lets in anyone with an account at the "
                "issuer; add dashboard.access with emails, domains or groups (or, to mean "
                "exactly that, allow_any_authenticated: true)"
            )
        if not oidc and access is not None:
            raise ValueError(
                "dashboard.access restricts nothing without dashboard.oidc (no login); "
                "configure dashboard.oidc or remove dashboard.access"
            )
        return oidc

    @model_validator(mode="before")
    @classmethod
    def _secrets_are_references(cls, data: Any) -> Any:
        # Checked before EnvStr expands them: a literal secret must never sit in the file.
        oidc = data.get("oidc") if isinstance(data, dict) else None
        for key in ("client_secret", "cookie_secret"):
            value = oidc.get(key) if isinstance(oidc, dict) else None
            if value is not None and not (str(value).startswith("${") and str(value).endswith("}")):
                raise ValueError(
                    f"oidc.{key} must be an environment reference such as ${{MY_SECRET}}"
                )
        return data

    @model_validator(mode="after")
    def _oidc_keys(self) -> DashboardConfig:
        if not self.oidc:
            return self
        required = {"server_metadata_url", "client_id", "client_secret"}
        if missing := sorted(required - self.oidc.keys()):
            raise ValueError(f"oidc needs {', '.join(missing)}")
        if unknown := sorted(self.oidc.keys() - required - {"cookie_secret"}):
            known = ", ".join([*sorted(required), "cookie_secret"])
            raise ValueError(f"unknown oidc key(s) {', '.join(unknown)}; known: {known}")
        return self


def _source_union() -> Any:
    models = tuple(source_config_models())
    if len(models) == 1:
        return models[0]
    return Annotated[Union[models], Field(discriminator="provider")]  # noqa: UP007


if TYPE_CHECKING:
    SourceUnion = SourceConfig
else:
    SourceUnion = _source_union()


class ReportsConfig(StrictModel):
    """`reports:` compliance reports and evidence packs (`vigil report`).

    ```yaml
    reports:
      organization: Example Corp          # printed on every report
      signing_key: /etc/vigil/pack.pem    # optional: Ed25519 private key (PKCS#8 PEM)
    ```
    """

    organization: str = ""
    signing_key: EnvStr | None = None


class RetentionConfig(StrictModel):
    """`retention:` how long history is kept; the daemon prunes daily, `vigil prune` on demand.

    ```yaml
    retention:
      changes: 400d             # change events; --as-of before this window exits 2
      scope_runs: 30d           # each scope's newest completed and newest finished runs are kept
      outbox_sent: 30d
      outbox_dead: 90d
      resolved_findings: 400d
      deleted_resources: 400d
    ```
    """

    changes: Duration = Field(
        default=timedelta(days=400),
        description="Change events (drift history); `--as-of` is exact inside this window.",
    )
    scope_runs: Duration = Field(
        default=timedelta(days=30),
        description="Finished scope runs; each scope's newest completed and finished run stay.",
    )
    outbox_sent: Duration = Field(
        default=timedelta(days=30), description="Sent notifications, counted from sending."
    )
    outbox_dead: Duration = Field(
        default=timedelta(days=90), description="Notifications that gave up, from enqueueing."
    )
    resolved_findings: Duration = Field(
        default=timedelta(days=400), description="Resolved findings, from their resolution."
    )
    deleted_resources: Duration = Field(
        default=timedelta(days=400),
        description="Deleted resources and their history, from their deletion.",
    )

    def policy(self) -> RetentionPolicy:
        return RetentionPolicy(**{name: getattr(self, name) for name in type(self).model_fields})


class VigilConfig(StrictModel):
    """The root of `vigil.yaml`."""

    database_url: EnvStr | None = None
    sources: list[SourceUnion] = Field(default_factory=list)
    rules: RulesConfig = Field(default_factory=RulesConfig)
    notifiers: list[NotifierConfig] = Field(default_factory=list)
    routes: list[RouteConfig] = Field(default_factory=list)
    schedule: ScheduleConfig = Field(default_factory=ScheduleConfig)
    metrics: MetricsConfig = Field(default_factory=MetricsConfig)
    dashboard: DashboardConfig = Field(default_factory=DashboardConfig)
    reports: ReportsConfig = Field(default_factory=ReportsConfig)
    retention: RetentionConfig = Field(default_factory=RetentionConfig)
    executor: ExecutorConfig = Field(default_factory=ExecutorConfig)
    _path: str | None = PrivateAttr(default=None)

    @property
    def path(self) -> str | None:
        """The absolute path of the file this config was loaded from (None: built in memory).
        Worker processes load the same file."""
        return self._path

    @field_validator("database_url", mode="before")
    @classmethod
    def _no_literal_password(cls, value: Any) -> Any:
        if isinstance(value, str) and literal_url_password(value):
            # Not echoed: the password is the secret.
            raise ValueError(
                "the password in database_url must be an environment reference, e.g. "
                "postgresql+psycopg://vigil:${VIGIL_DB_PASSWORD}@db/vigil, or set the whole URL "
                "in VIGIL_DATABASE_URL"
            )
        return value

    @field_validator("database_url", mode="after")
    @classmethod
    def _supported_database(cls, value: str | None) -> str | None:
        from storage.urls import DATABASE_URL_FIX, url_problem

        if value is not None and (problem := url_problem(value)):
            raise ValueError(f"{problem}; {DATABASE_URL_FIX}")
        return value

    @model_validator(mode="after")
    def _queue_needs_postgresql(self) -> VigilConfig:
        if self.executor.kind == "queue":
            from storage.urls import is_postgresql

            url = resolve_database_url(self)
            if not is_postgresql(url):
                raise ValueError(
                    "executor kind queue keeps its jobs in the database, shared by every worker: "
                    "it needs a PostgreSQL database_url (postgresql+psycopg://...), not "
                    f"{url.split(':', 1)[0]}; set database_url or VIGIL_DATABASE_URL, or use "
                    "executor kind threads or processes"
                )
        return self

    @model_validator(mode="after")
    def _names_unique(self) -> VigilConfig:
        for kind, names in (
            ("source", [s.name for s in self.sources]),
            ("notifier", [n.name for n in self.notifiers]),
        ):
            seen: set[str] = set()
            for name in names:
                if name in seen:
                    raise ValueError(f"two {kind}s are named {name!r}; names must be unique")
                seen.add(name)
        known = {n.name for n in self.notifiers}
        for route in self.routes:
            for name in route.notifiers:
                if name not in known:
                    raise ValueError(
                        f"a route names notifier {name!r}, which is not defined under notifiers"
                    )
        return self

    def pass_deadline(self, sources: Sequence[SourceConfig]) -> timedelta:
        """How long a pass over `sources` may wait for a worker: `executor.pass_deadline`, else
        the longest collection interval of those sources (cron schedules: `collect_every`)."""
        if self.executor.pass_deadline is not None:
            return self.executor.pass_deadline
        intervals = [self.schedule.for_source(s.name, s.provider) for s in sources]
        timed = [interval for interval in intervals if isinstance(interval, timedelta)]
        return max(timed, default=self.schedule.collect_every)

    def source(self, name: str) -> SourceConfig:
        for source in self.sources:
            if source.name == name:
                return source
        names = ", ".join(s.name for s in self.sources) or "none configured"
        raise ConfigError(f"no source named {name!r} (sources: {names})")


def resolve_database_url(config: VigilConfig | None) -> str:
    """`VIGIL_DATABASE_URL` wins over the config's `database_url`, then the default.

    A bad URL from the environment is an InputError naming the variable."""
    from storage.urls import DATABASE_URL_FIX, url_problem

    from_env = os.environ.get("VIGIL_DATABASE_URL")
    if from_env and (problem := url_problem(from_env)):
        raise InputError(problem, path="VIGIL_DATABASE_URL", fix=DATABASE_URL_FIX)
    return from_env or (config.database_url if config else None) or DEFAULT_DATABASE_URL


def load_config(path: str | Path) -> VigilConfig:
    """Load and validate a config file; raise ConfigError naming the file, line and key."""
    try:
        document = load_yaml(path)
    except InputError as exc:
        raise ConfigError(exc.problem, path=exc.path, line=exc.line, fix=exc.fix) from None
    data = document.data if document.data is not None else {}
    if not isinstance(data, dict):
        raise ConfigError(
            "the config must be a mapping of keys (database_url, sources, rules, ...)",
            path=document.path,
            line=document.line_of(()),
        )
    _check_providers(document, data)
    try:
        config = _parse(data)
    except ValidationError as exc:
        raise _config_error(document, exc.errors()) from None
    _check_rules(document, config)
    config._path = str(Path(path).resolve())
    return config


def _check_rules(document: YamlDocument, config: VigilConfig) -> None:
    """Rule ids and params are checked against the rule registry, with their lines."""
    problems = check_rules_config(config.rules) + state_source_problems(config)
    if not problems:
        return
    details: list[ErrorDetails] = [
        {"type": "value_error", "loc": ("rules", *loc), "msg": message, "input": None}
        for loc, message in problems
    ]
    raise _config_error(document, details)


def parse_config(data: dict[str, Any]) -> VigilConfig:
    """Validate an in-memory config (tests, the demo)."""
    return _parse(data)


def _parse(data: dict[str, Any]) -> VigilConfig:
    return VigilConfig.model_validate(data)


def _check_providers(document: YamlDocument, data: dict[str, Any]) -> None:
    sources = data.get("sources") or []
    if not isinstance(sources, list):
        raise ConfigError(
            "sources must be a list of source blocks",
            path=document.path,
            line=document.line_of(("sources",)),
            fix="write each source as a '- name: ...' item",
        )
    for index, source in enumerate(sources):
        if not isinstance(source, dict):
            continue
        provider = source.get("provider")
        if not isinstance(provider, str) or provider not in SOURCE_KINDS:
            available = ", ".join(sorted(SOURCE_KINDS))
            raise ConfigError(
                f"sources[{index}].provider: unknown provider {provider!r}",
                path=document.path,
                line=document.line_of(("sources", index, "provider")),
                fix=f"use one of: {available}",
            )


def _config_error(document: YamlDocument, errors: Sequence[ErrorDetails]) -> ConfigError:
    first_line: int | None = None
    messages = []
    for error in errors[:10]:
        loc = tuple(error["loc"])
        line = document.line_of(loc)
        first_line = first_line or line
        prefix = f"line {line}: " if line else ""
        messages.append(f"{prefix}{_dotted(loc)}: {_explain(error)}")
    if len(errors) > 10:
        messages.append(f"... and {len(errors) - 10} more problems")
    problem = "invalid config\n  " + "\n  ".join(messages) if len(messages) > 1 else messages[0]
    return ConfigError(problem, path=document.path, line=first_line if len(messages) == 1 else None)


def _dotted(loc: Sequence[str | int]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


def _explain(error: ErrorDetails) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        return "unknown key; remove it or check its spelling against the docs"
    if kind == "missing":
        return "required key is missing"
    message = error["msg"]
    if message.startswith("Value error, "):
        message = message[len("Value error, ") :]
    return message
