"""libvirt and vSphere: libcloud drivers that speak through an SDK (libvirt-python, pyVmomi)
instead of libcloud's HTTP connections, so `drivers.guard` never sees their requests.

- libvirt: the connection is opened read-only (`VIR_CONNECT_RO`), so libvirt itself refuses
  every change ("read only access prevents virDomainDestroy"), and a monitoring account
  needs only libvirt's read-only socket.
- vSphere: every SOAP method outside the reads libcloud's `list_nodes` makes is refused on
  pyVmomi's stub before it is sent (`ReadOnlyViolation`).
- `close` ends the session after each scope: libcloud's vSphere driver would otherwise keep
  every login until the process exits (a daemon would pile up vCenter sessions).

Neither SDK is a dependency of Vigil: `pip install 'vigil[libvirt]'` / `'vigil[vsphere]'`.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from libcloud.compute.types import Provider

from vigil.core.errors import ReadOnlyViolation

EXTRAS: dict[str, tuple[str, str]] = {
    Provider.LIBVIRT: ("libvirt-python", "libvirt"),
    Provider.VSPHERE: ("pyvmomi", "vsphere"),
}
"""Driver -> (the PyPI package its SDK comes from, Vigil's extra that installs it)."""

VSPHERE_READS = frozenset(
    {
        "RetrieveServiceContent",
        "CurrentTime",
        "CreateContainerView",  # a view lives in the session only; Logout ends it
        "DestroyView",
        "RetrieveProperties",
        "RetrievePropertiesEx",
        "ContinueRetrievePropertiesEx",
        "CancelRetrievePropertiesEx",
        "Fetch",  # pyVmomi's read of one property of a managed object
        "QueryEvents",
        "Logout",
    }
)
"""The SOAP methods (WSDL names) a vSphere scope may send: those libcloud's `list_nodes` uses."""


def missing_sdk(driver_type: str) -> str | None:
    """How to install the SDK a driver needs, or None when it needs none."""
    if driver_type not in EXTRAS:
        return None
    package, extra = EXTRAS[driver_type]
    return f"needs the Python package {package}: pip install 'vigil[{extra}]'"


def open_libvirt(cls: type, uri: str, key: str | None = None, secret: str | None = None) -> Any:
    """libcloud's libvirt driver on a read-only connection to `uri`.

    What the driver's own `__init__` does, with `openAuth(..., VIR_CONNECT_RO)` where it
    calls `open`/`openAuth(..., 0)`; `key`/`secret` answer SASL prompts (`qemu+tcp://`).
    """
    import libvirt

    libvirt.registerErrorHandler(_quiet, None)  # errors are raised; don't also print them
    driver: Any = object.__new__(cls)
    driver._uri, driver._key, driver._secret = uri, key, secret
    credentials = [libvirt.VIR_CRED_AUTHNAME, libvirt.VIR_CRED_PASSPHRASE]
    auth = [credentials, driver._cred_callback, None]
    driver.connection = libvirt.openAuth(uri, auth, libvirt.VIR_CONNECT_RO)
    return driver


def _quiet(_context: Any, _error: Any) -> None:
    """libvirt's default error handler writes every error to stderr."""


def guard_vsphere(driver: Any) -> None:
    """Refuse every SOAP method but `VSPHERE_READS` on the driver's pyVmomi stub.

    Every managed object pyVmomi returns shares the service instance's stub, so wrapping it
    covers property reads (`Fetch`) and methods of any object the driver reaches.
    """
    stub = driver.connection._stub
    stub.InvokeMethod = _read_only_soap(stub.InvokeMethod)


def _read_only_soap(invoke: Callable[..., Any]) -> Callable[..., Any]:
    def checked(mo: Any, info: Any, args: Any, *rest: Any, **options: Any) -> Any:
        if info.wsdlName not in VSPHERE_READS:
            raise ReadOnlyViolation(f"refused vSphere {info.wsdlName}: Vigil only reads")
        return invoke(mo, info, args, *rest, **options)

    return checked


def close(driver: Any) -> None:
    """End the driver's session (vSphere's Logout, libvirt's connection); others hold none."""
    kind = getattr(driver, "type", None)
    if kind == Provider.LIBVIRT:
        driver.connection.close()
    elif kind == Provider.VSPHERE:
        import atexit

        from pyVim import connect

        connect.Disconnect(driver.connection)  # type: ignore[no-untyped-call]
        # the driver registered a Disconnect at exit for every login; all are closed here
        atexit.unregister(connect.Disconnect)


def sdk_errors() -> tuple[type[BaseException], ...]:
    """The error types of the SDKs already loaded (a driver built imports its SDK; catching
    its errors must never import one)."""
    found: list[type[BaseException]] = []
    libvirt = sys.modules.get("libvirt")
    if libvirt is not None:
        found.append(libvirt.libvirtError)
    pyvmomi = sys.modules.get("pyVmomi")
    if pyvmomi is not None:
        found.append(pyvmomi.vmodl.MethodFault)
    return tuple(found)


def is_login_fault(error: BaseException | None) -> bool:
    """vCenter refused the user name or password (`vim.fault.InvalidLogin`).

    libcloud recognises only vCenter's English wording ("incorrect user name") and reports
    anything else as "Cannot connect to vSphere"; the fault's type says it in any language.
    """
    pyvmomi = sys.modules.get("pyVmomi")
    return pyvmomi is not None and isinstance(error, pyvmomi.vim.fault.InvalidLogin)
