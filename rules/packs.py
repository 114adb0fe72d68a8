"""YAML rule packs: a user's own attribute checks, without writing Python.

```yaml
# rules/packs/storage.yaml, listed under `rules.packs` in vigil.yaml
rules:
  - id: acme.unencrypted-disk
    title: Unencrypted disk
    message: "disk {name} ({native_id}) is not encrypted"
    severity: high
    resource_types: [disk]
    where: {attribute: encrypted, equals: false}
    remediation: Snapshot the disk, copy the snapshot with encryption, restore.
    compliance: {cis-aws-3.0: ["2.2.1"]}
```

A pack file is validated as a whole; any problem is an `InputError` naming the file, the
line and the key. `message` may use `{name}`, `{native_id}`, `{type}`, `{region}`,
`{account}`, `{source}` (plain substitution, no format-string evaluation). `compliance` names
frameworks by id (an old unversioned id such as `cis-aws` means its versioned one) and only
controls that rules/compliance_catalog.yaml lists for that framework.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError, field_validator

from rules import compliance
from rules.base import NoParams, describe, finding
from rules.conditions import ConditionError, Predicate, compile_condition
from rules.view import InventoryView
from vigil.core.errors import InputError
from vigil.core.model import Finding, Resource, ResourceType, Severity
from vigil.core.schema import StrictModel
from vigil.core.yamlsource import YamlDocument, load_yaml

RULE_ID = re.compile(r"^[a-z0-9][a-z0-9_-]*(\.[a-z0-9][a-z0-9_-]*)+$")
_PLACEHOLDER = re.compile(r"\{(name|native_id|type|region|account|source)\}")
PACK_SUFFIXES = (".yaml", ".yml")


class PackRuleModel(StrictModel):
    """One rule of a pack, as written."""

    id: str
    title: str
    severity: Severity
    resource_types: list[str] = Field(min_length=1)
    where: dict[str, Any]
    remediation: str
    message: str | None = None
    description: str = ""
    compliance: dict[str, list[str]] = Field(default_factory=dict)

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        if not RULE_ID.match(value):
            raise ValueError(
                "rule ids are lowercase words joined by dots, such as acme.unencrypted-disk"
            )
        return value

    @field_validator("resource_types")
    @classmethod
    def _types(cls, values: list[str]) -> list[str]:
        known = {t.value for t in ResourceType}
        for value in values:
            if value not in known:
                raise ValueError(f"unknown resource type {value!r}; use {', '.join(sorted(known))}")
        return values


class PackRule:
    """A rule from a YAML pack: a condition over attributes/tags, and what to say."""

    params_model = NoParams

    def __init__(self, model: PackRuleModel, predicate: Predicate, origin: str) -> None:
        self.id = model.id
        self.title = model.title
        self.severity = model.severity
        self.resource_types = tuple(model.resource_types)
        self.remediation = model.remediation
        self.compliance: compliance.Controls = compliance.normalize(model.compliance)
        self.__doc__ = model.description or model.title
        self.origin = origin
        self.message = model.message
        self.predicate = predicate

    def evaluate(self, view: InventoryView, params: NoParams) -> Iterator[Finding]:
        for resource in view.of_type(*self.resource_types):
            if self.predicate(resource):
                yield finding(
                    self,
                    resource,
                    self._title(resource),
                    f"{self.title} (rule pack {self.origin}).",
                )

    def _title(self, resource: Resource) -> str:
        if not self.message:
            return f"{self.title}: {resource.type} {describe(resource)}"
        values = {
            "name": resource.name,
            "native_id": resource.native_id,
            "type": resource.type,
            "region": resource.region,
            "account": resource.account,
            "source": resource.source,
        }
        return _PLACEHOLDER.sub(lambda m: str(values[m.group(1)]), self.message)


def pack_files(paths: Sequence[str]) -> list[str]:
    """The pack files named by `rules.packs`: files as given, directories' *.yaml sorted."""
    files: list[str] = []
    for entry in paths:
        path = Path(entry)
        if path.is_dir():
            files.extend(str(p) for p in sorted(path.iterdir()) if p.suffix in PACK_SUFFIXES)
        elif path.exists():
            files.append(str(path))
        else:
            raise InputError(
                "rule pack not found", path=entry, fix="fix or remove it under rules.packs"
            )
    return files


def load_packs(
    paths: Sequence[str], reserved: set[str] | frozenset[str] = frozenset()
) -> list[PackRule]:
    """Every rule of every pack; ids must be new (not built-in, not in another pack)."""
    rules: list[PackRule] = []
    taken = set(reserved)
    for path in pack_files(paths):
        for rule in load_pack(path):
            if rule.id in taken:
                raise InputError(
                    f"rule id {rule.id!r} is already taken (built-in or in another pack)",
                    path=path,
                    fix="give the rule a unique id, e.g. prefixed with your team's name",
                )
            taken.add(rule.id)
            rules.append(rule)
    return rules


def load_pack(path: str) -> list[PackRule]:
    """The rules of one pack file; InputError naming the file, line and key if invalid."""
    document = load_yaml(path)
    data = document.data
    if not isinstance(data, dict) or not isinstance(data.get("rules"), list):
        raise InputError(
            "a rule pack is a mapping with a `rules:` list",
            path=path,
            line=document.line_of(()),
            fix="start the file with `rules:` and list rules as `- id: ...` items",
        )
    extra = sorted(str(k) for k in data if k != "rules")
    if extra:
        raise _error(document, (extra[0],), "unknown key; a pack holds only `rules`")
    return [_rule(document, index, item) for index, item in enumerate(data["rules"])]


def _rule(document: YamlDocument, index: int, item: Any) -> PackRule:
    loc: tuple[str | int, ...] = ("rules", index)
    try:
        model = PackRuleModel.model_validate(item)
    except ValidationError as exc:
        # A misspelt key shows as "unknown" and "missing": the unknown one has the line.
        error = min(exc.errors(), key=lambda e: e["type"] != "extra_forbidden")
        where = (*loc, *error["loc"])
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = "unknown key; check its spelling (see docs/rules.md)"
        elif error["type"] == "missing":
            message = "required key is missing"
        raise _error(document, where, message) from None
    _check_controls(document, (*loc, "compliance"), model.compliance)
    try:
        predicate = compile_condition(model.where)
    except ConditionError as exc:
        raise _error(document, (*loc, "where", *exc.loc), str(exc)) from None
    return PackRule(model, predicate, origin=document.path)


def _check_controls(
    document: YamlDocument, loc: tuple[str | int, ...], mapping: dict[str, list[str]]
) -> None:
    """Every framework known (old ids included) and every control in its catalog."""
    for framework, controls in mapping.items():
        try:
            resolved = compliance.resolve(framework)
        except ValueError as exc:
            raise _error(document, (*loc, framework), str(exc)) from None
        for index, control in enumerate(controls):
            if compliance.unknown_controls(resolved, [control]):
                listed = ", ".join(compliance.CATALOG[resolved].controls)
                message = f"{control!r} is not a control of {resolved} Vigil knows; use {listed}"
                raise _error(document, (*loc, framework, index), message)


def _error(document: YamlDocument, loc: tuple[str | int, ...], message: str) -> InputError:
    key = ".".join(str(part) if isinstance(part, str) else f"[{part}]" for part in loc)
    key = key.replace(".[", "[")
    return InputError(f"{key}: {message}", path=document.path, line=document.line_of(loc))
