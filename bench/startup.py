"""Benchmark: start-up. `vigil --help`, and `vigil collect` until its first AWS request.

    .venv/bin/python bench/startup.py [--runs 7]

DESIGN.md's targets: `vigil --help` < 0.3 s; `vigil collect` reaches its first API call
< 0.6 s after start. A loopback HTTP listener stands in for AWS and notes when the first
request arrives (it answers 500, so the pass fails fast); the database is created and
migrated by a first run that is not counted. Prints the median and the worst of --runs.

The commands run this checkout's code (PYTHONPATH, from a directory holding no other: an
editable install, or a checkout as the working directory, would put another first)
from compiled bytecode, as an installed Vigil does: a cache under the temporary directory,
filled by the uncounted first runs, even where PYTHONDONTWRITEBYTECODE is set (else every run
compiles every module again, ~0.1 s that users do not pay).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

VIGIL = [sys.executable, "-m", "vigil"]
CHECKOUT = Path(__file__).resolve().parents[1]


class FirstRequest(BaseHTTPRequestHandler):
    arrived: list[float] = []

    def do_POST(self) -> None:  # http.server dispatches on the method's name
        FirstRequest.arrived.append(time.perf_counter())
        self.send_response(500)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        """Silent."""


def time_to_first_request(workdir: Path, env: dict[str, str]) -> float:
    FirstRequest.arrived.clear()
    started = time.perf_counter()
    subprocess.run([*VIGIL, "collect"], cwd=workdir, env=env, capture_output=True, check=False)
    return FirstRequest.arrived[0] - started


def time_help(workdir: Path, env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run([*VIGIL, "--help"], cwd=workdir, env=env, capture_output=True, check=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", 0), FirstRequest)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        env = dict(os.environ, AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench")
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(workdir / "pycache")
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(CHECKOUT), env.get("PYTHONPATH")]))
        (workdir / "vigil.yaml").write_text(
            f"database_url: sqlite:///{workdir}/vigil.db\n"
            "sources:\n  - name: aws\n    provider: aws\n    regions: [us-east-1]\n"
            f"    types: [server]\n    endpoint_url: http://127.0.0.1:{server.server_port}\n"
            "    max_attempts: 1\n"
        )
        time_to_first_request(workdir, env)  # creates and migrates the database, compiles
        time_help(workdir, env)
        helps = [time_help(workdir, env) for _ in range(args.runs)]
        firsts = [time_to_first_request(workdir, env) for _ in range(args.runs)]
    server.shutdown()
    for label, walls, target in (
        ("vigil --help", helps, 0.3),
        ("vigil collect to its first API request", firsts, 0.6),
    ):
        print(
            f"{label}: median {statistics.median(walls):.3f}s, worst {max(walls):.3f}s "
            f"over {args.runs} runs (target < {target}s)"
        )


if __name__ == "__main__":
    main()
