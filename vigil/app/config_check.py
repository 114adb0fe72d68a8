"""`vigil config validate`: a config and every file it names, checked without the database.

The config itself is checked as every command loads it (schema, providers, rule ids and
params, rule packs); then the files it points at that commands read later: Terraform states
of the drift rules (local ones; `s3://` states are read by `vigil check` with the source's
credentials) and the hosts sources' Ansible inventories. Every problem is reported, each
naming its file and line, so one run shows all there is to fix.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from collectors.hosts.ansible import load_inventory
from collectors.hosts.config import HostsSourceConfig
from rules.terraform import TerraformParams
from rules.terraform_state import expand, is_remote, parse_state
from vigil.app.config import VigilConfig, load_config
from vigil.core.errors import InputError

SCHEMA_ID = "https://vigil.dev/schemas/vigil.schema.json"


@dataclass
class Validation:
    """What `validate` found: the problems, and what it read when there were none."""

    problems: list[InputError] = field(default_factory=list)
    checked: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def config_schema() -> dict[str, Any]:
    """The JSON Schema of `vigil.yaml`, from the same models that load it."""
    schema = VigilConfig.model_json_schema(mode="validation")
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA_ID, **schema}


def schema_text() -> str:
    return json.dumps(config_schema(), indent=2, sort_keys=True) + "\n"


def validate(path: str | Path) -> Validation:
    """Check the config at `path` and the files it names; never opens the database."""
    result = Validation()
    try:
        config = load_config(path)
    except InputError as exc:
        result.problems.append(exc)
        return result
    result.checked.append(f"config {path}")
    _check_states(config, result)
    _check_inventories(config, result)
    return result


def _check_states(config: VigilConfig, result: Validation) -> None:
    parsed = config.rules._parsed
    params = parsed.params if parsed is not None else {}
    locations: set[str] = set()
    for value in params.values():
        if isinstance(value, TerraformParams):
            try:
                locations.update(expand(value.state_files))
            except InputError as exc:
                result.problems.append(exc)
    for location in sorted(locations):
        if is_remote(location):
            result.skipped.append(f"Terraform state {location} (read by `vigil check`)")
            continue
        try:
            parse_state(location)
        except InputError as exc:
            result.problems.append(exc)
        else:
            result.checked.append(f"Terraform state {location}")


def _check_inventories(config: VigilConfig, result: Validation) -> None:
    for source in config.sources:
        if isinstance(source, HostsSourceConfig) and source.ansible_inventory:
            try:
                hosts = load_inventory(source.ansible_inventory)
            except InputError as exc:
                result.problems.append(exc)
            else:
                result.checked.append(
                    f"Ansible inventory {source.ansible_inventory} ({len(hosts)} hosts)"
                )
