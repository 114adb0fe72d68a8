"""Fixtures of the libcloud tests: the loopback provider API."""

from tests.fixtures.libcloud_api import fake_cloud

__all__ = ["fake_cloud"]
