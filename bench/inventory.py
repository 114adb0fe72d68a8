"""Benchmark: a full collection pass, ingest + reconcile, no-change rescans, memory.

    .venv/bin/python bench/inventory.py                      # moto 1k and 10k, synthetic 100k
    .venv/bin/python bench/inventory.py --moto 1000 --synthetic 0 --latency 0.1
    .venv/bin/python bench/inventory.py --moto 7500 --synthetic 0 --ingest 0 --latency 0 \
        --types server --replay-regions 40 --executor threads,processes
                                                 # the parse-bound case: threads vs processes

Two kinds of estate:

- **moto**: seeded into moto's server, collected by `vigil collect` through real botocore. A
  recording pass goes through to moto; the timed pass replays the recorded answers with a fixed
  per-request latency (bench/replay.py), so it measures Vigil, not moto, against the
  critical-path floor (the slowest scope's sequential API calls × latency).
- **synthetic**: a collector that yields realistic pages after `latency` per page, through the
  same pipeline and storage — the 100k-resource case moto cannot seed in reasonable time. Three
  passes over one database: the first (everything created), a steady-state one with 2% of the
  records changed, and one where nothing changed. `--paging uniform` pages every type 1000 at
  a time (the whole estate arrives in 12 pages per scope: the pipeline's hardest case);
  `--paging aws` pages each type as the AWS collector asks its list API.

`--executor threads,processes` times the moto pass under each `executor.kind` (the same
recorded answers, a fresh database each) and prints the speed-up of `processes` over
`threads`; with `--latency 0` the pass is bound by botocore's parsing, the case `processes`
exists for (DESIGN.md, Targets: >= 0.7 x cores).

Each timed pass runs in a child process so its peak RSS is its own. Prints one line per run.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.synthetic import measure_ingest, run_synthetic_child

REPO = Path(__file__).resolve().parents[1]
REGIONS = ("us-east-1", "eu-west-1", "ap-southeast-2")
# Timed passes over more regions than were seeded (`--replay-regions`) get the seeded regions'
# recorded answers: the replay keys requests by operation and body, not by region.
MORE_REGIONS = (
    "us-east-2", "us-west-1", "us-west-2", "ca-central-1", "eu-central-1", "eu-west-2",
    "eu-west-3", "eu-north-1", "ap-northeast-1", "ap-northeast-2", "ap-northeast-3",
    "ap-south-1", "ap-southeast-1", "sa-east-1", "eu-south-1", "me-south-1", "af-south-1",
)  # fmt: skip


def main() -> None:
    args = _parse()
    if args.synthetic_child:
        run_synthetic_child(args.synthetic_child, args.latency, args.database, args.paging[0])
        return
    machine = f"{platform.machine()}, {os.cpu_count()} cores"
    print(f"# machine: {machine}, Python {platform.python_version()}")
    print(f"# latency per API request: {args.latency * 1000:.0f} ms")
    for size in args.moto:
        bench_moto(size, args.latency, args.executor, args.types, args.replay_regions)
    for size in args.synthetic:
        for paging in args.paging:
            bench_synthetic(size, args.latency, paging)
    for size in args.ingest:
        rate, rescan = measure_ingest(size)
        print(
            f"ingest   {size:>7} resources into SQLite: {rate:,.0f} resources/s; "
            f"no-change rescan {rescan:,.0f} resources/s, 0 resource rows written"
        )


def bench_moto(
    size: int, latency: float, executors: list[str], types: list[str], replay_regions: int
) -> None:
    from bench.replay import ReplayProxy
    from tests.fixtures.services import free_port, wait_for_port
    from vigil.app.demo_estate import seed_estate

    env = {**os.environ, "MOTO_EC2_LOAD_DEFAULT_AMIS": "false", **_dummy_credentials()}
    port = free_port()
    moto = subprocess.Popen(
        [str(Path(sys.executable).with_name("moto_server")), "-H", "127.0.0.1", "-p", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port, timeout=60)
        os.environ.update(_dummy_credentials())
        started = time.monotonic()
        per_region = max(1, size // (len(REGIONS) * 5))
        estate = seed_estate(
            f"http://127.0.0.1:{port}", regions=REGIONS, servers_per_region=per_region
        )
        seeded = sum(estate.counts.values())
        seed_time = time.monotonic() - started
        proxy = ReplayProxy(f"http://127.0.0.1:{port}").start()
        timed: dict[str, dict[str, object]] = {}
        with tempfile.TemporaryDirectory() as tmp:
            record = _vigil_collect(Path(tmp), proxy.url, "record.db", "threads", types)
            proxy.replay(latency)
            regions = _regions(replay_regions)
            for executor in executors:
                database = f"timed-{executor}.db"
                timed[executor] = _vigil_collect(
                    Path(tmp), proxy.url, database, executor, types, regions
                )
                floor, scope, calls = proxy.floor()
                api_calls = sum(proxy.calls.values())
                proxy.calls.clear()
                rescan = _vigil_collect(Path(tmp), proxy.url, database, executor, types, regions)
                proxy.calls.clear()
                run = timed[executor]
                seconds = float(str(run["collect_s"]))
                print(
                    f"moto     {seeded:>7} resources (seeded in {seed_time:.0f}s), "
                    f"executor {executor}: moto-bound pass {record['collect_s']:.1f}s; "
                    f"with {latency * 1000:.0f} ms latency {seconds:.2f}s "
                    f"= {seconds / floor if floor else 0:.2f}x the floor {floor:.2f}s "
                    f"({calls} sequential calls in {scope[0]}/{scope[1]}); "
                    f"{run['seen']} collected, {int(str(run['seen'])) / seconds:,.0f} resources/s; "
                    f"{api_calls} API calls; "
                    f"CPU {run['cpu_s']:.1f}s; peak RSS {run['rss_mb']:.0f} MB (parent); "
                    f"rescan: {rescan['summary']}"
                )
        proxy.stop()
        if "threads" in timed and "processes" in timed:
            threads_s = float(str(timed["threads"]["collect_s"]))
            processes_s = float(str(timed["processes"]["collect_s"]))
            cores = os.cpu_count() or 1
            speedup = threads_s / processes_s
            print(
                f"executor {timed['threads']['seen']} resources: processes ({cores} workers) "
                f"{processes_s:.2f}s "
                f"vs threads {threads_s:.2f}s = {speedup:.2f}x speed-up "
                f"({speedup / cores:.2f} x cores; target >= 0.70 x cores)"
            )
    finally:
        moto.terminate()
        moto.wait()


def bench_synthetic(size: int, latency: float, paging: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        database = f"sqlite:///{tmp}/synthetic.db"
        command = [
            sys.executable, __file__, "--synthetic-child", str(size),
            "--latency", str(latency), "--database", database, "--paging", paging,
        ]  # fmt: skip
        output, rss = _run_measured(command, os.environ.copy(), cwd=REPO)
        print(f"{output.strip()}; peak RSS {rss:.0f} MB")


def _vigil_collect(
    workdir: Path,
    endpoint_url: str,
    database: str,
    executor: str = "threads",
    types: list[str] | None = None,
    regions: tuple[str, ...] = REGIONS,
) -> dict[str, object]:
    config = workdir / "vigil.yaml"
    config.write_text(
        "sources:\n  - name: bench\n    provider: aws\n"
        f"    regions: [{', '.join(regions)}]\n    endpoint_url: {endpoint_url}\n"
        "    service_concurrency: 8\n"
        + (f"    types: [{', '.join(types)}]\n" if types else "")
        + f"executor:\n  kind: {executor}\n"
    )
    env = {
        **os.environ,
        **_dummy_credentials(),
        "VIGIL_DATABASE_URL": f"sqlite:///{workdir / database}",
        "PYTHONPATH": str(REPO),
    }
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    output, rss = _run_measured(
        [sys.executable, "-m", "vigil", "--config", str(config), "collect"], env, cwd=workdir
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    summary = next(line for line in output.splitlines() if " scopes, " in line)
    seconds = float(summary.rsplit(" in ", 1)[1].rstrip("s"))
    seen = int(summary.split(" resources seen", 1)[0].rsplit(" ", 1)[1])
    changed = sum(_column_total(output, column) for column in (7, 8, 9))  # new, changed, deleted
    return {
        "collect_s": seconds,
        "rss_mb": rss,
        "cpu_s": cpu,
        "seen": seen,
        "summary": f"{summary.strip()}, {changed} created/changed/deleted",
    }


def _column_total(output: str, index: int) -> int:
    total = 0
    for line in output.splitlines():
        cells = [c.strip() for c in line.split("│")]
        if len(cells) > index + 1 and cells[index].isdigit():
            total += int(cells[index])
    return total


def _run_measured(command: list[str], env: dict[str, str], cwd: Path) -> tuple[str, float]:
    """Run a child; return its stdout and its own peak RSS in MB."""
    with tempfile.TemporaryFile("w+") as out:
        child = subprocess.Popen(
            command, env=env, cwd=cwd, stdout=out, stderr=subprocess.PIPE, text=True
        )
        _, status, usage = os.wait4(child.pid, 0)
        child.returncode = os.waitstatus_to_exitcode(status)
        errors = child.stderr.read() if child.stderr else ""
        out.seek(0)
        output = out.read()
    if child.returncode not in (0,):
        raise SystemExit(f"{command[:4]} failed ({child.returncode}):\n{output}\n{errors}")
    return output, usage.ru_maxrss / 1024


def _regions(count: int) -> tuple[str, ...]:
    """The seeded regions, then real region names, then made-up ones (`xx-bench-1`, ...)."""
    names = REGIONS + MORE_REGIONS
    made_up = tuple(f"xx-bench-{n}" for n in range(1, max(0, count - len(names)) + 1))
    return (names + made_up)[: max(len(REGIONS), count)]


def _dummy_credentials() -> dict[str, str]:
    return {
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_DEFAULT_REGION": "us-east-1",
    }


def _sizes(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part.strip() and int(part) > 0]


def _parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--moto", type=_sizes, default=[1000, 10000], help="moto estate sizes")
    parser.add_argument("--synthetic", type=_sizes, default=[10000, 100000], help="synthetic sizes")
    parser.add_argument("--ingest", type=_sizes, default=[100000], help="ingest-only sizes")
    parser.add_argument("--latency", type=float, default=0.1, help="seconds per API request")
    parser.add_argument(
        "--paging",
        type=lambda text: text.split(","),
        default=["uniform", "aws"],
        help="synthetic page sizes: uniform (1000 each) and/or aws (as the AWS collector asks)",
    )
    parser.add_argument(
        "--executor",
        type=lambda text: [kind for kind in text.split(",") if kind],
        default=["threads"],
        help="executor kinds of the timed moto pass: threads and/or processes",
    )
    parser.add_argument(
        "--types",
        type=lambda text: [kind for kind in text.split(",") if kind],
        default=[],
        help="resource types the moto passes collect (default all); server,disk,"
        "security_group,dns_record leaves out the per-item calls: a parse-bound pass",
    )
    parser.add_argument(
        "--replay-regions",
        type=int,
        default=len(REGIONS),
        help="regions of the timed moto passes: those beyond the 3 seeded replay the seeded "
        "regions' answers, a bigger parse-bound estate than moto can seed",
    )
    parser.add_argument("--synthetic-child", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--database", default="", help=argparse.SUPPRESS)
    return parser.parse_args()


if __name__ == "__main__":
    resource.setrlimit(resource.RLIMIT_NOFILE, (4096, 4096))
    main()
