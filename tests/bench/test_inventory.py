"""bench/inventory.py still runs and reports what the closing notes quote (at a tiny size)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_synthetic_passes_report_the_floor_and_write_nothing_when_nothing_changed() -> None:
    command = [
        sys.executable, "bench/inventory.py", "--moto", "0", "--synthetic", "600",
        "--paging", "uniform,aws", "--ingest", "600", "--latency", "0.01",
    ]  # fmt: skip
    output = subprocess.run(
        command, cwd=REPO, capture_output=True, text=True, timeout=300, check=True
    ).stdout

    passes = [line for line in output.splitlines() if line.startswith("synthetic")]
    assert [line.split(", ")[1] for line in passes] == ["uniform paging", "aws paging"]
    for line in passes:
        seen = re.search(r"synthetic +(\d+) resources", line)
        first = re.search(r"first [\d.]+s = [\d.]+x \([\d,]+/s, (\d+) written\)", line)
        assert seen and first and first[1] == seen[1], line  # the first pass creates them all
        assert re.search(r"2% changed .*\(.*, \d+ written\)", line), line
        assert re.search(r"no change .*\(.*, 0 written\)", line), line
        assert "peak RSS" in line
    assert re.search(r"ingest +600 resources into SQLite: [\d,]+ resources/s", output)


@pytest.mark.slow
def test_synthetic_passes_under_each_executor_collect_the_same_estate() -> None:
    """The synthetic estate as a source plugin: `vigil collect` under threads and processes
    (its worker processes load the plugin too) collects all of it, then rescans unchanged."""
    command = [
        sys.executable, "bench/inventory.py", "--moto", "0", "--ingest", "0",
        "--synthetic", "600", "--paging", "uniform", "--latency", "0",
        "--executor", "threads,processes",
    ]  # fmt: skip
    output = subprocess.run(
        command, cwd=REPO, capture_output=True, text=True, timeout=300, check=True
    ).stdout

    passes = [line for line in output.splitlines() if " executor " in line]
    assert [re.search(r"executor (\w+)", line)[1] for line in passes] == [  # type: ignore[index]
        "threads",
        "processes",
    ]
    for line in passes:
        seen = re.search(r"synthetic +(\d+) resources", line)
        assert seen and int(seen[1]) > 500, line
        assert re.search(r"the floor [\d.]+s", line), line
        assert f"{seen[1]} resources seen" in line and "0 created/changed/deleted" in line, line
    assert re.search(r"processes [\d.]+s vs threads [\d.]+s = [\d.]+x", output)
