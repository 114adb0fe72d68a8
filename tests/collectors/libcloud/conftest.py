"""The loopback vCenter for the vSphere tests."""

from tests.fixtures.vsphere import vcenter

__all__ = ["vcenter"]
