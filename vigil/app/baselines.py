"""Remote Terraform state: `s3://bucket/key` read through the AWS collector's guarded sessions.

The Terraform rules declare which state files they read; the `s3://` ones are fetched here,
before the check opens the database, with the credentials of the AWS source named by
`state_source` (or the default AWS credential chain), through the read-only guard
(`s3:GetObject` is a read). The bytes are handed to the rules' params: rules parse, never
fetch. A missing object, a denied read or an unreachable endpoint is an `InputError` naming
`s3://bucket/key` and the fix (exit 2, nothing written).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from collectors.aws.config import AwsSourceConfig
from collectors.aws.session import GLOBAL_API_REGION, Sessions
from rules.engine import Engine
from rules.terraform import TerraformParams
from rules.terraform_state import split_s3
from vigil.core.errors import ConfigError, InputError, ReadOnlyViolation

if TYPE_CHECKING:
    from vigil.app.config import VigilConfig

DEFAULT_CHAIN = "the default AWS credential chain"
_NOT_FOUND = frozenset({"NoSuchKey", "NoSuchBucket", "404"})
_DENIED = frozenset({"AccessDenied", "403", "AllAccessDisabled", "InvalidAccessKeyId"})


def fetch_remote_states(engine: Engine, config: VigilConfig | None) -> None:
    """Fetch every `s3://` state the enabled Terraform rules read into their params, once."""
    fetched: dict[tuple[str | None, str], bytes] = {}
    sessions: dict[str | None, Sessions] = {}
    for item in engine.enabled:
        params = item.params
        if not isinstance(params, TerraformParams):
            continue
        for location in params.remote_states():
            key = (params.state_source, location)
            if key not in fetched:
                if params.state_source not in sessions:
                    sessions[params.state_source] = Sessions(
                        _aws_source(config, params.state_source)
                    )
                fetched[key] = read_s3(location, sessions[params.state_source])
            params.provide(location, fetched[key])


def read_s3(location: str, sessions: Sessions) -> bytes:
    """The bytes of `s3://bucket/key`, by a guarded s3:GetObject; InputError if unreadable."""
    bucket, key = split_s3(location)
    source = sessions.config
    who = DEFAULT_CHAIN if source.name == "" else f"source {source.name!r}"
    regions = source.regions
    region = regions[0] if isinstance(regions, list) and regions else GLOBAL_API_REGION
    try:
        answer = sessions.client("s3", region).get_object(Bucket=bucket, Key=key)
        data: bytes = answer["Body"].read()
    except ClientError as exc:
        raise _client_error(exc, location, bucket, key, who) from None
    except (BotoCoreError, ReadOnlyViolation) as exc:
        raise InputError(
            f"cannot read the Terraform state: {exc}",
            path=location,
            fix=f"check the endpoint, region and credentials of {who}",
        ) from None
    return data


def _client_error(exc: ClientError, location: str, bucket: str, key: str, who: str) -> InputError:
    code = str(exc.response.get("Error", {}).get("Code", ""))
    if code in _NOT_FOUND:
        return InputError(
            f"cannot read the Terraform state: no such object ({code})",
            path=location,
            fix=f'check the bucket {bucket!r} and key {key!r} against the backend "s3" block',
        )
    if code in _DENIED:
        return InputError(
            f"cannot read the Terraform state: access denied ({code})",
            path=location,
            fix=f"grant s3:GetObject on arn:aws:s3:::{bucket}/{key} to {who} "
            "(and kms:Decrypt if the state is encrypted with a customer key)",
        )
    message = exc.response.get("Error", {}).get("Message", "")
    return InputError(
        f"cannot read the Terraform state: {code} {message}".rstrip(),
        path=location,
        fix=f"check the bucket, key and the credentials of {who}",
    )


def _aws_source(config: VigilConfig | None, name: str | None) -> AwsSourceConfig:
    """The AWS source whose credentials read state; unnamed: the default chain."""
    if name is None:
        return AwsSourceConfig(name="", regions=[GLOBAL_API_REGION])
    source = config.source(name) if config else None
    if not isinstance(source, AwsSourceConfig):
        raise ConfigError(
            f"state_source {name!r} is not a configured AWS source",
            fix="name a source with provider: aws, or remove state_source",
        )
    return source
