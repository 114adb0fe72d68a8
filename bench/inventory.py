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
import contextlib
import os
import platform
import re
import resource
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

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
            if args.executor == ["threads"]:
                bench_synthetic(size, args.latency, paging)
            else:
                bench_synthetic_executors(size, args.latency, paging, args.executor, args.postgres)
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
        proxy = ReplayProxy(f"http://127.0.0.1:{port}")
        proxy.start()
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


def bench_synthetic_executors(
    size: int, latency: float, paging: str, executors: list[str], postgres: bool = False
) -> None:
    """The synthetic estate's first pass and a no-change rescan through `vigil collect` under
    each executor, against DESIGN.md's floor for it: the larger of the critical path and the
    rows over the measured single-writer ingest rate. `postgres`: every pass into a fresh
    PostgreSQL database (the floor's ingest rate measured there too), where `queue` runs, its
    workers each writing their own scopes: the writer per worker against `processes`' one."""
    from bench.synthetic import SyntheticCollector, plugin_path

    cluster = _postgres() if postgres else None
    collector = SyntheticCollector(size, latency, paging=paging)
    path_floor = max(collector.sequential_calls(s) for s in collector.plan()) * latency
    rate, _ = measure_ingest(size, cluster.create_database() if cluster else None)
    floor = max(path_floor, size / rate)
    store = "PostgreSQL" if cluster else "SQLite"
    source = (
        f"  - name: synthetic\n    provider: synthetic\n    size: {size}\n"
        f"    latency: {latency}\n    paging: {paging}\n"
    )
    timed: dict[str, float] = {}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            plugins = plugin_path(Path(tmp) / "plugins")
            env = {"PYTHONPATH": os.pathsep.join((str(REPO), str(plugins)))}
            for executor in executors:
                url = cluster.create_database() if cluster else f"sqlite:///{tmp}/{executor}.db"
                with _queue_workers(Path(tmp), source, url, env, executor == "queue"):
                    first = _collect(Path(tmp), source, url, executor, env)
                    rescan = _collect(Path(tmp), source, url, executor, env)
                timed[executor] = seconds = float(str(first["collect_s"]))
                print(
                    f"synthetic {first['seen']:>6} resources, {paging} paging, {store}, "
                    f"executor {executor}: first pass {seconds:.2f}s = {seconds / floor:.2f}x "
                    f"the floor {floor:.2f}s (critical path {path_floor:.2f}s; {size:,} rows / "
                    f"{rate:,.0f} rows/s single-writer ingest = {size / rate:.2f}s); "
                    f"CPU {first['cpu_s']:.1f}s (the pass's process and its children); "
                    f"peak RSS {first['rss_mb']:.0f} MB (parent); rescan: {rescan['summary']}",
                    flush=True,
                )
    finally:
        if cluster is not None:
            cluster.stop()
    for other in ("processes", "queue"):
        if "threads" in timed and other in timed:
            print(
                f"synthetic {size} resources, {store}: {other} {timed[other]:.2f}s vs threads "
                f"{timed['threads']:.2f}s = {timed['threads'] / timed[other]:.2f}x"
            )


def _postgres() -> Any:
    from tests.fixtures.database import PostgresCluster

    return PostgresCluster()


@contextlib.contextmanager
def _queue_workers(
    workdir: Path, source: str, url: str, env: dict[str, str], wanted: bool
) -> Iterator[None]:
    """`vigil worker` processes, one per core, while the block runs (none unless `wanted`)."""
    if not wanted:
        yield
        return
    _write_config(workdir, source, "queue")
    environment = {**os.environ, **env, "VIGIL_DATABASE_URL": url}
    environment["PYTHONPATH"] = env["PYTHONPATH"]
    workers = [
        subprocess.Popen(
            [sys.executable, "-m", "vigil", "--config", str(workdir / "vigil.yaml"), "worker"],
            env=environment,
            cwd=workdir,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(os.cpu_count() or 1)
    ]
    try:
        yield
    finally:
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
        for worker in workers:
            worker.wait(timeout=30)


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
    source = (
        "  - name: bench\n    provider: aws\n"
        f"    regions: [{', '.join(regions)}]\n    endpoint_url: {endpoint_url}\n"
        "    service_concurrency: 8\n" + (f"    types: [{', '.join(types)}]\n" if types else "")
    )
    return _collect(workdir, source, database, executor, {**_dummy_credentials()})


def _collect(
    workdir: Path, source: str, database: str, executor: str, env: dict[str, str]
) -> dict[str, object]:
    """`vigil collect` of one source (its YAML) under `executor`, in a child process, into
    `database`: a URL, or a file name in `workdir`."""
    config = _write_config(workdir, source, executor)
    url = database if "://" in database else f"sqlite:///{workdir / database}"
    env = {"PYTHONPATH": str(REPO), **os.environ, **env, "VIGIL_DATABASE_URL": url}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    output, rss = _run_measured(
        [sys.executable, "-m", "vigil", "--config", str(config), "collect"], env, cwd=workdir
    )
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    summary = next(line for line in output.splitlines() if " scopes, " in line)
    seconds = _pass_seconds(summary.rsplit(" in ", 1)[1], wall)
    seen = int(summary.split(" resources seen", 1)[0].rsplit(" ", 1)[1])
    changed = sum(_column_total(output, column) for column in (7, 8, 9))  # new, changed, deleted
    return {
        "collect_s": seconds,
        "rss_mb": rss,
        "cpu_s": cpu,
        "seen": seen,
        "summary": f"{summary.strip()}, {changed} created/changed/deleted",
    }


def _write_config(workdir: Path, source: str, executor: str) -> Path:
    config = workdir / "vigil.yaml"
    config.write_text(f"sources:\n{source}executor:\n  kind: {executor}\n")
    return config


def _pass_seconds(printed: str, wall: float) -> float:
    """The pass's own duration as `vigil collect` printed it ("12.3s"); past a minute it
    prints whole minutes ("1m45s" reads "1m"), so the child's wall time stands in."""
    return float(printed[:-1]) if re.fullmatch(r"[0-9.]+s", printed) else wall


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
        help="executor kinds of the timed passes: threads and/or processes (a synthetic "
        "estate then runs through `vigil collect`, its first pass and a no-change rescan)",
    )
    parser.add_argument(
        "--postgres",
        action="store_true",
        help="synthetic passes under --executor into PostgreSQL (a throwaway cluster), where "
        "`queue` runs too: a `vigil worker` per core, each writing its own scopes",
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
