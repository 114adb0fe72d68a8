"""The config's side of remote Terraform state: `state_source` must name an AWS source.

Apart from vigil/app/baselines.py, which fetches the state with boto3, so that parsing a
config never loads a cloud client.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from collectors.aws.config import AwsSourceConfig
from rules.terraform_state import is_remote, split_s3
from vigil.core.errors import InputError

if TYPE_CHECKING:
    from vigil.app.config import VigilConfig


def state_source_problems(config: VigilConfig) -> list[tuple[tuple[str | int, ...], str]]:
    """Problems in the Terraform rules' params that need the whole config, as (location
    under `rules`, message): `state_source` must name an AWS source, s3:// must be whole."""
    problems: list[tuple[tuple[str | int, ...], str]] = []
    aws = {s.name for s in config.sources if isinstance(s, AwsSourceConfig)}
    for rule_id, params in config.rules.params.items():
        if not rule_id.startswith("drift.") or not isinstance(params, dict):
            continue
        name = params.get("state_source")
        if name is not None and name not in aws:
            known = ", ".join(sorted(aws)) or "none configured"
            problems.append(
                (
                    ("params", rule_id, "state_source"),
                    f"{name!r} is not an AWS source (AWS sources: {known})",
                )
            )
        for index, location in enumerate(params.get("state_files") or []):
            if isinstance(location, str) and is_remote(location):
                try:
                    split_s3(location)
                except InputError as exc:
                    problems.append(
                        (("params", rule_id, "state_files", index), f"{exc.problem}; {exc.fix}")
                    )
    return problems
