"""boto3 sessions and guarded clients for one AWS source, plus account and region discovery.

boto3 `Session`s are not thread-safe but clients are: `Sessions` builds every session and
client under one lock and caches the clients, which the pipeline's worker threads then share.
Assumed-role credentials refresh themselves, so a long-running daemon keeps working.

Every session parses timestamps with `parse_timestamp` below: botocore's default hands each
one to dateutil, which was 60% of the time spent parsing a DescribeInstances page. And every
session shares one loader of botocore's service models: a session per assumed role (one per
account of an Organization) otherwise parses the same JSON models again: 129 ms of CPU per
account for three clients, against 18 ms shared (bench/sessions.py). That loader also finds
a service's model without listing every service botocore knows (`_Models`).
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import boto3
import botocore.loaders
import botocore.session
import botocore.utils
from botocore.client import BaseClient
from botocore.config import Config
from botocore.credentials import CredentialProvider, RefreshableCredentials

from collectors.aws.budget import Budgets
from collectors.aws.config import AwsSourceConfig
from collectors.aws.guard import guard
from vigil.core.timeutil import parse_instant

GLOBAL_API_REGION = "us-east-1"
"""Where the global APIs (Route 53, Organizations, STS by default) are called."""

ROLE_SESSION_NAME = "vigil"


def parse_timestamp(value: Any) -> datetime:
    """An API timestamp as an aware datetime: ISO 8601 text (what AWS sends) by the standard
    library, anything else (epoch seconds, RFC 822 dates) by botocore's own parser."""
    if isinstance(value, str) and "T" in value:
        try:
            return parse_instant(value)
        except ValueError:
            pass
    parsed: datetime = botocore.utils.parse_timestamp(value)
    return parsed


_SERVICE_NAME = re.compile(r"[a-z0-9][a-z0-9-]*")


class _Models(botocore.loaders.Loader):  # type: ignore[misc]
    """botocore's loader, except that loading a service's model does not list every service.

    `Loader.load_service_model` first lists the ~400 service directories botocore ships (900
    directory reads: 25 ms of `vigil collect`'s start-up, once per type of model) to learn that
    the one service asked for exists; here that is checked in the service's own directory, by
    the same test. A name not found there takes botocore's way, whose UnknownServiceError
    lists the services it knows.
    """

    @botocore.loaders.instance_cache  # type: ignore[untyped-decorator]  # as the one it overrides
    def load_service_model(
        self, service_name: str, type_name: str, api_version: str | None = None
    ) -> Any:
        if not self._provides(service_name, type_name):
            return super().load_service_model(service_name, type_name, api_version)
        if api_version is None:
            api_version = self.determine_latest_version(service_name, type_name)
        model = self.load_data(os.path.join(service_name, api_version, type_name))
        extras = self._find_extras(service_name, type_name, api_version)
        self._extras_processor.process(model, extras)
        return model

    def _provides(self, service_name: str, type_name: str) -> bool:
        """Whether `list_available_services(type_name)` would include `service_name`: a
        directory of that name on the search path has an API version with such a file."""
        if not _SERVICE_NAME.fullmatch(service_name):
            return False
        for location in self._potential_locations(service_name, must_exist=True, is_dir=True):
            for api_version in os.listdir(location):
                if self.file_loader.exists(os.path.join(location, api_version, type_name)):
                    return True
        return False


_MODELS = _Models()
"""The process's one loader of service models; its cache is what sessions share."""


def botocore_session() -> botocore.session.Session:
    """A fresh botocore session whose clients parse timestamps with `parse_timestamp`, and
    whose service models come from the process's shared loader."""
    core = botocore.session.get_session()
    core.register_component("data_loader", _MODELS)
    core.get_component("response_parser_factory").set_parser_defaults(
        timestamp_parser=parse_timestamp
    )
    return core


class _AssumedRole(CredentialProvider):  # type: ignore[misc]
    """A botocore credential provider holding refreshable assumed-role credentials."""

    METHOD = "vigil-assume-role"
    CANONICAL_NAME = "VigilAssumeRole"

    def __init__(self, credentials: RefreshableCredentials) -> None:
        super().__init__()
        self._credentials = credentials

    def load(self) -> RefreshableCredentials:
        return self._credentials


class Sessions:
    """Guarded, cached boto3 clients for one source, per (role, service, region). Thread-safe."""

    def __init__(self, config: AwsSourceConfig) -> None:
        self.config = config
        self._lock = threading.Lock()
        self._sessions: dict[str, boto3.Session] = {}
        self._clients: dict[tuple[str, str, str], BaseClient] = {}
        self.budgets = Budgets(config.name, config.api_rates)
        self._client_config = Config(
            retries={"mode": "standard", "total_max_attempts": config.max_attempts},
            connect_timeout=config.connect_timeout,
            read_timeout=config.read_timeout,
            max_pool_connections=max(10, config.service_concurrency * 2),
            user_agent_extra="vigil",
        )

    def client(self, service: str, region: str, role_arn: str | None = None) -> BaseClient:
        """A guarded client for `service` in `region`, as `role_arn` (assumed from the base)."""
        key = (role_arn or "", service, region)
        with self._lock:
            if key not in self._clients:
                session = self._session(role_arn)
                client = session.client(
                    service,
                    region_name=region,
                    endpoint_url=self.config.endpoint_url,
                    config=self._client_config,
                )
                self._clients[key] = self.budgets.attach(guard(client), role_arn or "", region)
            return self._clients[key]

    def _session(self, role_arn: str | None) -> boto3.Session:
        """The session for `role_arn` (None: the source's own). The caller holds the lock."""
        name = role_arn or ""
        if name not in self._sessions:
            if role_arn is None:
                self._sessions[name] = self._base_session()
            else:
                external_id = self._external_id_for_member()
                self._sessions[name] = self._assume(self._session(None), role_arn, external_id)
        return self._sessions[name]

    def _base_session(self) -> boto3.Session:
        """The source's credentials: profile and/or explicit keys, then its role_arn if any."""
        config = self.config
        session = boto3.Session(
            botocore_session=botocore_session(),
            profile_name=config.profile,
            aws_access_key_id=_secret(config.access_key_id),
            aws_secret_access_key=_secret(config.secret_access_key),
        )
        if config.role_arn:
            session = self._assume(session, config.role_arn, _secret(config.external_id))
        return session

    def _external_id_for_member(self) -> str | None:
        organization = self.config.organization
        return _secret(organization.external_id) if organization else None

    def _assume(
        self, parent: boto3.Session, role_arn: str, external_id: str | None
    ) -> boto3.Session:
        """A session whose refreshable credentials come from sts:AssumeRole on `parent`."""
        sts = guard(
            parent.client(
                "sts",
                region_name=self._sts_region(),
                endpoint_url=self.config.endpoint_url,
                config=self._client_config,
            )
        )

        def fetch() -> dict[str, Any]:
            params: dict[str, Any] = {"RoleArn": role_arn, "RoleSessionName": ROLE_SESSION_NAME}
            if external_id:
                params["ExternalId"] = external_id
            credentials = sts.assume_role(**params)["Credentials"]
            return {
                "access_key": credentials["AccessKeyId"],
                "secret_key": credentials["SecretAccessKey"],
                "token": credentials["SessionToken"],
                "expiry_time": credentials["Expiration"].isoformat(),
            }

        credentials = RefreshableCredentials.create_from_metadata(
            metadata=fetch(), refresh_using=fetch, method=_AssumedRole.METHOD
        )
        core = botocore_session()
        core.get_component("credential_provider").insert_before("env", _AssumedRole(credentials))
        return boto3.Session(botocore_session=core)

    def _sts_region(self) -> str:
        regions = self.config.regions
        return regions[0] if isinstance(regions, list) and regions else GLOBAL_API_REGION

    def caller_account(self) -> tuple[str, str]:
        """(account id, partition) of the source's own credentials, via sts:GetCallerIdentity."""
        identity = self.client("sts", self._sts_region()).get_caller_identity()
        return str(identity["Account"]), str(identity["Arn"]).split(":")[1]

    def regions(self) -> list[str]:
        """The configured regions, or every enabled region (ec2:DescribeRegions) for `all`."""
        if isinstance(self.config.regions, list):
            return list(self.config.regions)
        answer = self.client("ec2", GLOBAL_API_REGION).describe_regions()
        return sorted(
            region["RegionName"]
            for region in answer["Regions"]
            # Opt-in regions not enabled for the account only ever answer AuthFailure.
            if region.get("OptInStatus") != "not-opted-in"
        )

    def organization_accounts(self) -> Iterator[str]:
        """Ids of the Organization's active accounts (organizations:ListAccounts, paginated)."""
        client = self.client("organizations", GLOBAL_API_REGION)
        for page in client.get_paginator("list_accounts").paginate():
            for account in page["Accounts"]:
                if account.get("State", account.get("Status")) == "ACTIVE":
                    yield str(account["Id"])


def _secret(value: Any) -> str | None:
    """The plain text of an optional pydantic SecretStr."""
    return value.get_secret_value() if value is not None else None
