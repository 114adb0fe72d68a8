"""The embedded demo: a fake AWS account (moto) in three regions, with seeded problems."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from collectors.aws.config import AwsSourceConfig
from vigil.core.errors import VigilError

DEMO_REGIONS = ("us-east-1", "eu-west-1", "ap-southeast-2")
DEMO_SOURCE = "demo-aws"


@dataclass(frozen=True)
class FakeAws:
    """A moto server on loopback, and the source config that points Vigil at it."""

    endpoint_url: str

    def source(self) -> AwsSourceConfig:
        return AwsSourceConfig(
            name=DEMO_SOURCE, regions=list(DEMO_REGIONS), endpoint_url=self.endpoint_url
        )


@contextmanager
def fake_aws() -> Iterator[FakeAws]:
    """Start moto's server on a free loopback port with throwaway credentials."""
    # Without this moto loads ~1,300 public snapshots per region into the demo account.
    os.environ.setdefault("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")
    for name, value in (("AWS_ACCESS_KEY_ID", "demo"), ("AWS_SECRET_ACCESS_KEY", "demo")):
        os.environ[name] = value
    os.environ.pop("AWS_PROFILE", None)
    try:
        from moto.server import ThreadedMotoServer
    except ImportError:
        raise VigilError(
            "the demo needs moto's server: pip install 'vigil[demo]' (make demo does this)"
        ) from None
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield FakeAws(endpoint_url=f"http://127.0.0.1:{port}")
    finally:
        server.stop()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
