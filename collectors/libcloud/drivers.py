"""Build libcloud drivers from a source's config, read-only guarded, and translate their errors.

libcloud drivers are not thread-safe, so each scope builds its own. Every service connection
of the driver (compute, and OpenStack's image/volume/network ones) is wrapped so that any
request other than GET/HEAD is refused before it is sent; authentication (Keystone's POST) runs
on separate identity connections and is not affected. Query-string APIs send writes as GET
too (EC2's `Action=TerminateInstances`, CloudStack's `command=destroyVirtualMachine`), so the
operation they name must read as well.

Error messages never carry a credential: libcloud's connection errors quote the request URL,
whose query string holds the key and signature of query-string APIs (CloudStack `apiKey`,
EC2 `AWSAccessKeyId`); query strings and the source's secret values are redacted.
"""

from __future__ import annotations

import functools
import inspect
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from libcloud.common.base import Connection
from libcloud.common.exceptions import BaseHTTPError, RateLimitReachedError
from libcloud.common.types import InvalidCredsError, LibcloudError
from libcloud.compute.providers import get_driver as compute_driver
from libcloud.compute.types import Provider
from libcloud.dns.providers import get_driver as dns_driver

from collectors.libcloud import hypervisors
from collectors.libcloud.cloudflare import CloudflareDNSDriver
from collectors.libcloud.config import LibcloudSourceConfig
from collectors.libcloud.dnsimple import DNSimpleV2DNSDriver
from collectors.libcloud.loadbalancer import CloudStackLBReader
from vigil.core.errors import REDACTED, AccessDeniedError, CollectError, ReadOnlyViolation, scrub

READ_METHODS = frozenset({"GET", "HEAD"})
ACTION_PARAMS = ("Action", "command", "api_action", "action")
"""Parameters in which query-string APIs name the operation: EC2 and its kin (`Action`),
CloudStack (`command`), Linode v3 (`api_action`), Zonomi (`action`)."""
READ_ACTIONS = ("describe", "list", "get", "lookup", "search", "query", "batchget")
"""Operation-name prefixes (case-insensitive, after the last `.`) that only read."""
_TARGETS = ("uri", "host")
"""Connection options Vigil passes by name that some constructors take first."""
DNS_DRIVER_CLASSES: dict[str, type] = {
    "cloudflare": CloudflareDNSDriver,
    "dnsimple": DNSimpleV2DNSDriver,
}
"""`dns_driver` names Vigil serves with its own class instead of libcloud's: libcloud's
DNSimple driver speaks API v1, which DNSimple no longer serves; its Cloudflare driver reports
a rejected API token as a plain error (see each module)."""
LB_DRIVER_CLASSES: dict[str, type] = {"cloudstack": CloudStackLBReader}
"""`lb_driver` names and Vigil's drivers for them (libcloud's lack member health and paging)."""
_QUERY_STRING = re.compile(r"\?[^\s'\")]+")


class CannotList(CollectError):
    """The driver has no way to list a type: the type is unknown, never empty."""


def build_compute(config: LibcloudSourceConfig) -> Any:
    """The compute driver named by `driver`, pointed at `host`/`port` when given."""
    assert config.driver is not None
    options = dict(config.options)
    if config.compute_api_version:
        options["api_version"] = config.compute_api_version
    return _build(compute_driver(config.driver), config, config.key, config.secret, options)


def build_dns(config: LibcloudSourceConfig) -> Any:
    """The DNS driver named by `dns_driver` (with its own credentials)."""
    assert config.dns_driver is not None
    key, secret = config.dns_key or config.key, config.dns_secret
    cls = DNS_DRIVER_CLASSES.get(config.dns_driver) or dns_driver(config.dns_driver)
    return _build(cls, config, key, secret, config.dns_options)


def build_lb(config: LibcloudSourceConfig) -> Any:
    """The load-balancer driver named by `lb_driver` (credentials default to the compute's)."""
    assert config.lb_driver is not None
    key, secret = config.lb_key or config.key, config.lb_secret or config.secret
    cls = LB_DRIVER_CLASSES[config.lb_driver]
    return _build(cls, config, key, secret, config.load_balancer_options)


def _build(
    cls: type, config: LibcloudSourceConfig, key: Any, secret: Any, options: dict[str, Any]
) -> Any:
    plain = [value.get_secret_value() if value else None for value in (key, secret)]
    args, kwargs = _credentials(cls, *plain)
    kwargs.update(options)
    for name, value in _connection_options(config).items():
        if _accepts(cls, name):
            kwargs[name] = value
    try:
        driver = _construct(cls, args, kwargs)
    except TypeError as exc:
        problem = redact(str(exc), config.secret_values())
        raise CollectError(
            f"{config.name}: driver {cls.__name__} rejected its options: {problem}"
        ) from None
    except ImportError as exc:
        kind = getattr(cls, "type", cls.__name__)
        needs = hypervisors.missing_sdk(kind) or f"cannot import its SDK ({exc})"
        raise CollectError(f"{config.name}: driver {kind} {needs}") from None
    if config.host and isinstance(driver.connection, Connection):  # DigitalOcean drops them
        _point(driver.connection, config.host, config.port, config.secure)
    guard(driver)
    return driver


def _credentials(
    cls: type, key: str | None, secret: str | None
) -> tuple[list[Any], dict[str, Any]]:
    """Key and secret positionally, as libcloud's drivers take them (`key, secret`, GCE's
    `user_id, key`), or by name where the constructor takes the connection target first and
    Vigil passes that by name: libvirt's `uri, key, secret`, vSphere's `host, username,
    password`."""
    parameters = inspect.signature(cls).parameters
    if next(iter(parameters), None) not in _TARGETS:
        return ([key] if secret is None else [key, secret]), {}
    kwargs: dict[str, Any] = {}
    for value, spellings in ((key, ("key", "username")), (secret, ("secret", "password"))):
        name = next((n for n in spellings if n in parameters), spellings[0])
        if value is not None or name in parameters:
            kwargs[name] = value
    return [], kwargs


def _connection_options(config: LibcloudSourceConfig) -> dict[str, Any]:
    """Where and how to connect, as the source says; given to the drivers that take each."""
    options: dict[str, Any] = {"timeout": config.timeout}
    if config.region:
        options["region"] = config.region
    if config.uri:
        options["uri"] = config.uri
    if config.host:
        options.update(host=config.host, secure=config.secure)
        if config.port is not None:
            options["port"] = config.port
    return options


def _construct(cls: type, args: list[Any], kwargs: dict[str, Any]) -> Any:
    """`cls(*args, **kwargs)`, working around drivers whose `__new__` cannot take kwargs, with
    libvirt opened read-only and vSphere's SOAP stub guarded (`hypervisors`).

    DigitalOcean's `__new__` (which picks the v2 class) forwards keyword arguments to
    `object.__new__`, which refuses them: so select the class with positional arguments only,
    then initialise it with everything.
    """
    kind = getattr(cls, "type", None)
    if kind == Provider.LIBVIRT:
        return hypervisors.open_libvirt(cls, *args, **kwargs)
    try:
        driver = cls(*args, **kwargs)
    except TypeError as exc:
        if "object.__new__()" not in str(exc):
            raise
        driver = cls.__new__(cls, *args)
        type(driver).__init__(driver, *args, **kwargs)
    if kind == Provider.VSPHERE:
        hypervisors.guard_vsphere(driver)
    return driver


def _accepts(cls: type, name: str) -> bool:
    """Whether the driver's constructor takes `name` (most pass **kwargs to BaseDriver)."""
    parameters = inspect.signature(cls).parameters.values()
    return any(p.name == name or p.kind is p.VAR_KEYWORD for p in parameters)


def _point(connection: Connection, host: str, port: int | None, secure: bool) -> None:
    connection.host = host
    connection.secure = 1 if secure else 0
    connection.port = port or (443 if secure else 80)
    connection.connect()  # type: ignore[no-untyped-call]


def guard(driver: Any) -> None:
    """Refuse every non-read request on the driver's service connections."""
    for value in list(vars(driver).values()):
        if isinstance(value, Connection) and not getattr(value, "_vigil_guarded", False):
            value.request = _read_only(value.request)  # type: ignore[method-assign]
            value._vigil_guarded = True  # type: ignore[attr-defined]


def _read_only(request: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(request)
    def checked(
        action: str,
        params: Any = None,
        data: Any = None,
        headers: Any = None,
        method: str = "GET",
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        refusal = refused(method, action, params)
        if refusal is not None:
            raise ReadOnlyViolation(refusal)
        return request(action, params, data, headers, method, *args, **kwargs)

    return checked


def refused(method: str, action: str, params: Any) -> str | None:
    """Why a request may not be sent (None: it only reads)."""
    if method.upper() not in READ_METHODS:
        return f"refused {method} {action}: Vigil only reads"
    operation = _operation(params)
    if operation is not None:
        verb = operation.rsplit(".", 1)[-1].lower()
        if not verb.startswith(READ_ACTIONS):
            return f"refused {operation} ({method} {action}): Vigil only reads"
    return None


def _operation(params: Any) -> str | None:
    """The operation a query-string request names, if it names one."""
    pairs = params.items() if isinstance(params, Mapping) else params or ()
    for pair in pairs:
        if isinstance(pair, tuple) and len(pair) == 2 and pair[0] in ACTION_PARAMS:
            return str(pair[1])
    return None


def method(driver: Any, name: str, source: str, driver_name: str, what: str) -> Callable[..., Any]:
    """The driver's listing method `name`, or `CannotList` when it has none."""
    found = getattr(driver, name, None)
    if not callable(found):
        raise CannotList(f"{source}: driver {driver_name} cannot list {what} (no {name})")
    listing: Callable[..., Any] = found
    return listing


@contextmanager
def translated(
    source: str, driver_name: str, what: str, secrets: Iterable[str] = ()
) -> Iterator[None]:
    """libcloud's errors as Vigil's: bad credentials are access denied, gaps are unknown.

    The SDKs under libvirt and vSphere raise their own errors (`hypervisors.sdk_errors`).
    Messages are redacted (`redact`): `secrets` are the source's credential values.
    """
    try:
        yield
    except NotImplementedError as exc:
        raise CannotList(f"{source}: driver {driver_name} cannot list {what} ({exc})") from exc
    except _ERRORS + hypervisors.sdk_errors() as exc:
        raise _collect_error(exc, f"{source}: {driver_name}", what, secrets) from None


_ERRORS: tuple[type[Exception], ...] = (
    BaseHTTPError,
    LibcloudError,
    OSError,
    ValueError,
    KeyError,
)


def _collect_error(exc: BaseException, who: str, what: str, secrets: Iterable[str]) -> CollectError:
    detail = redact(_detail(exc), secrets)
    if isinstance(exc, InvalidCredsError) or hypervisors.is_login_fault(exc.__context__):
        return AccessDeniedError(f"{who} rejected the credentials while listing {what}: {detail}")
    if isinstance(exc, RateLimitReachedError):
        return CollectError(f"{who} throttled {what}: {detail}", retryable=True)
    return CollectError(
        f"{who} failed listing {what}: {type(exc).__name__}: {detail}", retryable=True
    )


def _detail(exc: BaseException) -> str:
    """The error's own words, and those of the error it replaced: libcloud's vSphere driver
    turns every failed login into "Cannot connect to vSphere" (the TLS or SOAP fault is the
    reason); pyVmomi's faults print as a whole object, their `msg` is the message."""
    value = getattr(exc, "value", None)
    text = value if isinstance(value, str) else getattr(exc, "msg", None) or str(exc)
    cause = exc.__context__
    if cause is None or exc.__suppress_context__:
        return str(text)
    return f"{text} ({type(cause).__name__}: {_detail(cause)})"


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` without URL query strings (keys, signatures) or any of the `secrets`."""
    return scrub(_QUERY_STRING.sub(f"?{REDACTED}", text), secrets)
