"""The exporter's HTTP(S) server: `/metrics`, `/healthz` and `/readyz` on `metrics.listen`."""

from __future__ import annotations

import logging
import socket
import ssl
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Protocol

from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.openmetrics.exposition import CONTENT_TYPE_LATEST as OPENMETRICS_TYPE

from vigil import __version__
from vigil.core.errors import ConfigError, VigilError

log = logging.getLogger(__name__)


ReadyCheck = Callable[[], tuple[bool, str]]


class Exposition(Protocol):
    """What the server serves on `/metrics` (the daemon's exporter, or a worker's)."""

    def exposition(self, *, openmetrics: bool = False) -> bytes: ...


class MetricsServer:
    """HTTP(S) on `metrics.listen`: `/metrics`, `/healthz` (alive), `/readyz` (`ready()`)."""

    def __init__(
        self,
        collector: Exposition,
        address: tuple[str, int],
        *,
        ready: ReadyCheck,
        tls: tuple[str, str] | None = None,
    ) -> None:
        handler = _handler(collector, ready)
        family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        server_class = type(
            "_Server", (_QuietServer,), {"address_family": family, "daemon_threads": True}
        )
        try:
            self.httpd = server_class(address, handler)
        except OSError as exc:
            raise MetricsListenError(address, exc) from None
        if tls is not None:
            # The handshake happens in the connection's own thread, on first read: a slow or
            # plain-HTTP client cannot stall the accept loop.
            self.httpd.socket = _tls_context(*tls).wrap_socket(
                self.httpd.socket, server_side=True, do_handshake_on_connect=False
            )
        self._thread = threading.Thread(
            target=self.httpd.serve_forever, name="vigil-http", daemon=True
        )

    @property
    def port(self) -> int:
        return int(self.httpd.server_address[1])

    def start(self) -> MetricsServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        # A client that hung up or spoke plain HTTP to HTTPS: not worth a traceback.
        log.debug("metrics connection from %s failed", client_address, exc_info=True)


class MetricsListenError(VigilError):
    """`metrics.listen` cannot be bound (in use, or not an address of this machine)."""

    exit_code = 2

    def __init__(self, address: tuple[str, int], exc: OSError) -> None:
        super().__init__(
            f"cannot listen on {address[0]}:{address[1]} (metrics.listen): {exc.strerror}; "
            "pick a free port or another address in the config's metrics.listen"
        )


def _tls_context(cert: str, key: str) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(
            f"metrics.tls_cert / metrics.tls_key: cannot load {cert} and {key}: {exc}",
            fix="point tls_cert at a PEM certificate (chain) and tls_key at its PEM private key",
        ) from None
    return context


def _handler(collector: Exposition, ready: ReadyCheck) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = f"vigil/{__version__}"

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                om = "application/openmetrics-text" in self.headers.get("Accept", "")
                body = collector.exposition(openmetrics=om)
                self._send(200, body, OPENMETRICS_TYPE if om else CONTENT_TYPE_LATEST)
            elif path == "/healthz":
                self._send(200, b"ok\n")
            elif path == "/readyz":
                ok, reason = ready()
                self._send(200 if ok else 503, f"{reason}\n".encode())
            elif path == "/":
                self._send(200, b"vigil exporter: /metrics /healthz /readyz\n")
            else:
                self._send(404, b"not found: try /metrics, /healthz or /readyz\n")

        def _send(self, code: int, body: bytes, content_type: str = "text/plain") -> None:
            self.send_response(code)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            log.debug("http %s", format % args)

    return Handler
