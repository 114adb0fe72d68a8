"""bench/topology.py still runs and prints every figure its notes quote (at a tiny size)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fixtures.services import require_service

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_links_walks_exposure_and_the_page_are_measured_and_name_the_estate() -> None:
    require_service("chromium")
    command = [
        sys.executable, "bench/topology.py", "--resources", "1500", "--findings", "300",
        "--new-servers", "2",
    ]  # fmt: skip
    output = subprocess.run(
        command, cwd=REPO, capture_output=True, text=True, timeout=600, check=True
    ).stdout

    estate = re.search(
        r"estate: ([\d,]+) resources, ([\d,]+) links, 300 findings; .+, (\d+) cores", output
    )
    assert estate, output
    resources, links = (int(estate[n].replace(",", "")) for n in (1, 2))
    assert resources > 1000 and links > resources  # a few links per resource, as in an account
    assert re.search(r"links at [\d,]+ links/s", output), output
    walk = re.search(
        r"--from NAME --depth 4 .*: median [\d.]+ ms.*\((last: )?(\d+) resources", output
    )
    assert walk and int(walk[2]) > 3, output  # the walk from a routed name reaches servers
    exposed = re.search(
        r"exposure paths for ([\d,]+) findings: [\d.]+ s, [\d.]+ s .*\(([\d,]+) reachable", output
    )
    assert exposed and int(exposed[2].replace(",", "")) > 0, output
    shown = r"[\d.]+ s \(page shown [\d.]+ s\)"
    first = re.search(
        r"topology page, new visitor, data not cached yet: median ([\d.]+) s of 2 servers "
        r"\(([\d.]+)–([\d.]+) s; page shown [\d.]+ s\)",
        output,
    )
    assert first and float(first[2]) <= float(first[1]) <= float(first[3]), output
    assert re.search(r"topology page's reads \(first view, in-process\): \d+ ms", output), output
    assert re.search(r"topology page, from the overview by its link.*: +" + shown, output), output
    # The front end's own floor, beside the page's figure: what a Streamlit page cannot beat.
    assert re.search(r"a page of Streamlit's with a title only.*: [\d.]+–[\d.]+ s", output), output
