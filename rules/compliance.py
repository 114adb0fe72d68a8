"""Compliance frameworks and their controls: what a rule's `compliance` mapping may name.

A rule declares the controls it evidences, by versioned framework id:

```python
from rules.compliance import Controls

class PublicBucket:
    compliance: Controls = {"cis-aws-3.0": ("2.1.4",), "gdpr": ("Art. 32(1)(b)",)}
```

The catalog (`compliance_catalog.yaml`, read once at import) names each framework's version,
the document it quotes, and the title of every control a rule maps to; a mapping that names a
control the catalog lacks fails tests/rules/test_compliance.py. The ids users typed before
frameworks carried their version (`cis-aws`, `soc2`, `pci-dss`, `iso27001`) stay accepted as
aliases wherever a user names a framework, and `resolve` turns them into the versioned id.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

Controls = Mapping[str, tuple[str, ...]]
"""A rule's compliance mapping: versioned framework id → the ids of the controls it evidences."""

CATALOG_FILE = Path(__file__).with_name("compliance_catalog.yaml")


@dataclass(frozen=True)
class Framework:
    """One framework at one version, and the controls of it that Vigil's rules evidence."""

    id: str
    name: str
    source: str
    aliases: tuple[str, ...]
    controls: Mapping[str, str]
    """control id → its title, in the catalog's order."""


def load_catalog(path: Path = CATALOG_FILE) -> dict[str, Framework]:
    """The frameworks of a catalog file, by versioned id (RuntimeError if it is malformed)."""
    # libyaml's loader when present: this runs at import, on every `vigil` command.
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    data = yaml.load(path.read_text(encoding="utf-8"), Loader=loader)
    frameworks: dict[str, Framework] = {}
    taken: set[str] = set()
    for framework_id, entry in data["frameworks"].items():
        framework = _framework(path, str(framework_id), entry)
        clash = taken & {framework.id, *framework.aliases}
        if clash:
            raise RuntimeError(f"{path}: framework id or alias {sorted(clash)[0]!r} is used twice")
        taken |= {framework.id, *framework.aliases}
        frameworks[framework.id] = framework
    return frameworks


def _framework(path: Path, framework_id: str, entry: Mapping[str, Any]) -> Framework:
    controls = {str(k): str(v) for k, v in (entry.get("controls") or {}).items()}
    if not entry.get("name") or not entry.get("source") or not controls:
        raise RuntimeError(f"{path}: {framework_id} needs a name, a source and controls")
    return Framework(
        id=framework_id,
        name=str(entry["name"]),
        source=str(entry["source"]),
        aliases=tuple(str(a) for a in entry.get("aliases") or ()),
        controls=controls,
    )


CATALOG: dict[str, Framework] = load_catalog()
"""Every framework, by versioned id."""

FRAMEWORKS: dict[str, str] = {f.id: f.name for f in CATALOG.values()}
"""Framework id → full name, for every framework a rule may map to."""

ALIASES: dict[str, str] = {alias: f.id for f in CATALOG.values() for alias in f.aliases}
"""Old, unversioned framework id → the versioned id it now means."""


def choices() -> str:
    """What a user may type for a framework: `cis-aws-3.0, ... (old ids: cis-aws, ...)`."""
    return f"{', '.join(FRAMEWORKS)} (old ids still accepted: {', '.join(ALIASES)})"


def resolve(framework: str) -> str:
    """The versioned id that `framework` (an id or an old alias) means; ValueError if none."""
    if framework in CATALOG:
        return framework
    if framework in ALIASES:
        return ALIASES[framework]
    raise ValueError(f"unknown framework {framework!r}; use {choices()}")


def control_title(framework: str, control: str) -> str:
    """The catalog's title of a control, or "" for one it does not list."""
    known = CATALOG.get(framework)
    return known.controls.get(control, "") if known else ""


def unknown_controls(framework: str, controls: Iterable[str]) -> list[str]:
    """The controls of `controls` that the catalog does not list for `framework` (resolved)."""
    listed = CATALOG[resolve(framework)].controls
    return [c for c in controls if c not in listed]


def normalize(mapping: Mapping[str, Sequence[str]]) -> dict[str, tuple[str, ...]]:
    """`mapping` with aliases turned into versioned ids (controls of both merged, in order)."""
    normalized: dict[str, tuple[str, ...]] = {}
    for framework, controls in mapping.items():
        key = resolve(framework)
        merged = [*normalized.get(key, ()), *controls]
        normalized[key] = tuple(dict.fromkeys(merged))
    return normalized
