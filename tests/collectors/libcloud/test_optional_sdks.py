"""Without their SDKs (optional extras), the libvirt and vSphere drivers fail their scopes
saying what to install: in a Python that cannot import libvirt-python or pyVmomi."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
SCRIPT = """
import json, sys
for sdk in ("libvirt", "pyVmomi", "pyVim"):
    sys.modules[sdk] = None  # as if not installed: importing it raises ImportError
from collectors.libcloud import LibcloudCollector, LibcloudSourceConfig
from vigil.core.errors import CollectError
config = LibcloudSourceConfig.model_validate(json.loads(sys.argv[1]))
collector = LibcloudCollector(config)
(scope,) = collector.plan({"server"})
try:
    list(collector.collect(scope))
except CollectError as error:
    print(json.dumps({"message": str(error), "retryable": error.retryable}))
"""


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (
            {"driver": "libvirt", "uri": "test:///default"},
            "kvm: driver libvirt needs the Python package libvirt-python: "
            "pip install 'vigil[libvirt]'",
        ),
        (
            {"driver": "vsphere", "host": "127.0.0.1", "key": "${USER_X}", "secret": "${PASS_X}"},
            "kvm: driver vsphere needs the Python package pyvmomi: pip install 'vigil[vsphere]'",
        ),
    ],
    ids=["libvirt", "vsphere"],
)
def test_a_missing_sdk_names_the_extra_to_install(source: dict[str, str], expected: str) -> None:
    config = json.dumps({"name": "kvm", **source})
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, config],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO), "USER_X": "reader", "PASS_X": "pw"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"message": expected, "retryable": False}
