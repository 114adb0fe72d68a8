"""Turn botocore exceptions into Vigil's `CollectError`s with messages that say what to do.

"No access" is *unknown*, never *empty*: access errors raise `AccessDeniedError` so the scope
fails and nothing downstream mistakes it for an empty account. Messages name the source,
account, region and service, never a credential (access key ids are scrubbed defensively).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionError,
    HTTPClientError,
    NoCredentialsError,
    PartialCredentialsError,
    ProfileNotFound,
)

from collectors.aws.guard import iam_action
from vigil.core.errors import AccessDeniedError, CollectError, grant_hint

ACCESS_CODES = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "AuthFailure",
        "ExpiredToken",
        "ExpiredTokenException",
        "InvalidAccessKeyId",
        "InvalidClientTokenId",
        "OptInRequired",
        "SignatureDoesNotMatch",
        "UnauthorizedAccess",
        "UnauthorizedOperation",
        "UnrecognizedClientException",
    }
)
THROTTLE_CODES = frozenset(
    {
        "BandwidthLimitExceeded",
        "EC2ThrottledException",
        "LimitExceededException",
        "PriorRequestNotComplete",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "RequestThrottled",
        "RequestThrottledException",
        "SlowDown",
        "Throttling",
        "ThrottlingException",
        "TooManyRequestsException",
    }
)
UNSUPPORTED_CODES = frozenset(
    {"404", "InvalidAction", "NotImplemented", "UnknownOperationException", "UnsupportedOperation"}
)
"""What an endpoint answers for an API it does not implement (moto answers AWS Backup's
restore APIs with a bare HTTP 404, whose code botocore reports as `404`)."""
_KEY_ID = re.compile(r"\b(?:AKIA|ASIA|AROA|AIDA)[A-Z0-9]{12,}\b")


@dataclass(frozen=True, slots=True)
class Where:
    """What was being read when an error happened, for the message."""

    source: str
    account: str
    region: str
    service: str

    def __str__(self) -> str:
        return (
            f"aws source {self.source!r} (account {self.account}, region {self.region}, "
            f"service {self.service})"
        )


def scrub(text: str) -> str:
    """Remove anything shaped like an AWS access key id from `text`."""
    return _KEY_ID.sub("<redacted>", text)


def translate(exc: BotoCoreError | ClientError, where: Where) -> CollectError:
    """The `CollectError` (or `AccessDeniedError`) that explains `exc` at `where`."""
    if isinstance(exc, ClientError):
        return _client_error(exc, where)
    if isinstance(exc, ConnectionError | HTTPClientError):
        return CollectError(
            f"{where}: could not reach the API ({type(exc).__name__}); "
            "check network access and endpoint_url, it will be retried next cycle",
            retryable=True,
        )
    if isinstance(exc, NoCredentialsError | PartialCredentialsError | ProfileNotFound):
        return AccessDeniedError(
            f"{where}: no usable credentials ({scrub(str(exc))}); set profile, "
            "access_key_id/secret_access_key or the AWS_* environment variables",
            retryable=False,
        )
    return CollectError(f"{where}: {type(exc).__name__}: {scrub(str(exc))}", retryable=False)


def error_code(exc: ClientError) -> str:
    """The AWS error code of a ClientError (`AccessDenied`, `TargetGroupNotFound`, ...)."""
    return str(exc.response.get("Error", {}).get("Code", "")) or "Unknown"


def unsupported(exc: ClientError) -> bool:
    """Whether the endpoint does not implement the operation (not: the item was not found)."""
    return error_code(exc) in UNSUPPORTED_CODES


def _client_error(exc: ClientError, where: Where) -> CollectError:
    error = exc.response.get("Error", {})
    code = error_code(exc)
    detail = scrub(str(error.get("Message", "")))
    operation = exc.operation_name
    status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
    what = f"{where}: {code} calling {operation}: {detail}".rstrip(": ")
    if code in ACCESS_CODES:
        return AccessDeniedError(
            f"{what}. {grant_hint(iam_action(where.service, operation))} "
            "(see deploy/ for the read-only IAM policy), or check that the credentials have "
            "not expired and the region is enabled",
            retryable=False,
        )
    if code in THROTTLE_CODES:
        return CollectError(
            f"{what}. Still throttled after all retries; raise max_attempts or lower "
            "service_concurrency for this source",
            retryable=True,
        )
    return CollectError(what, retryable=status >= 500)
