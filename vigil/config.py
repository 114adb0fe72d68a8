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
from typing import TYPE_CHECKING, Annotated, Any, Union

from pydantic import Field, ValidationError, model_validator
from pydantic_core import ErrorDetails

from collectors.base import SourceConfig
from collectors.registry import SOURCE_KINDS, source_config_models
from rules.config import RulesConfig
from rules.registry import check_rules_config
from vigil.errors import ConfigError, InputError
from vigil.schema import Duration, EnvStr, StrictModel
from vigil.yamlsource import YamlDocument, load_yaml

DEFAULT_CONFIG_PATH = "vigil.yaml"
DEFAULT_DATABASE_URL = "sqlite:///vigil.db"


class NotifierConfig(StrictModel):
    """A notification channel; its other keys depend on `type` (see the notifiers docs)."""

    model_config = StrictModel.model_config | {"extra": "allow"}

    name: str
    type: str


class RouteConfig(StrictModel):
    """Where findings go. The first matching route wins unless it says `continue: true`."""

    match: dict[str, str | list[str]] = Field(default_factory=dict)
    notifiers: list[str]
    continue_: bool = Field(default=False, alias="continue")
    group_by: list[str] = Field(default_factory=lambda: ["rule", "source"])
    repeat_interval: Duration = timedelta(hours=4)
    send_resolved: bool = True


class ScheduleConfig(StrictModel):
    collect_every: Duration = timedelta(minutes=15)
    sources: dict[str, Duration | str] = Field(
        default_factory=dict, description="Per-source interval or cron expression."
    )


class MetricsConfig(StrictModel):
    listen: str = "127.0.0.1:9464"


def _source_union() -> Any:
    models = tuple(source_config_models())
    if len(models) == 1:
        return models[0]
    return Annotated[Union[models], Field(discriminator="provider")]  # noqa: UP007


if TYPE_CHECKING:
    SourceUnion = SourceConfig
else:
    SourceUnion = _source_union()


class VigilConfig(StrictModel):
    """The root of `vigil.yaml`."""

    database_url: EnvStr | None = None
    sources: list[SourceUnion] = Field(default_factory=list)
    rules: RulesConfig = Field(default_factory=RulesConfig)
    notifiers: list[NotifierConfig] = Field(default_factory=list)
    routes: list[RouteConfig] = Field(default_factory=list)
    schedule: ScheduleConfig = Field(default_factory=ScheduleConfig)
    metrics: MetricsConfig = Field(default_factory=MetricsConfig)

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

    def source(self, name: str) -> SourceConfig:
        for source in self.sources:
            if source.name == name:
                return source
        names = ", ".join(s.name for s in self.sources) or "none configured"
        raise ConfigError(f"no source named {name!r} (sources: {names})")


def resolve_database_url(config: VigilConfig | None) -> str:
    """`VIGIL_DATABASE_URL` wins over the config's `database_url`, then the default."""
    return (
        os.environ.get("VIGIL_DATABASE_URL")
        or (config.database_url if config else None)
        or DEFAULT_DATABASE_URL
    )


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
    return config


def _check_rules(document: YamlDocument, config: VigilConfig) -> None:
    """Rule ids and params are checked against the rule registry, with their lines."""
    problems = check_rules_config(config.rules)
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
        if provider not in SOURCE_KINDS:
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
