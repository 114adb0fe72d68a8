"""kill -9 of `vigil run` (the daemon) at random points, on SQLite and PostgreSQL.

The same churning estate as the kill -9 of `vigil collect` (conftest.Estate), collected by
the daemon instead: its first pass starts at once, the check follows the collection. Each
round kills the daemon at one point, in a seeded random order: while it starts (imports,
lock, clean-up), after a random number of its scopes committed (plus up to 10 ms), once its
pass committed every scope (the check and notify step), or idle after a finished cycle. After
every kill: the database is sound, no `deleted` event names a live resource, no finding of a
live resource was resolved, and the next `vigil run` takes the lock the dead one held,
completes a cycle (its metrics say so), stops cleanly on SIGTERM, and leaves the inventory
equal to what moto holds.
"""

from __future__ import annotations

import random
import signal
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable

import pytest

from tests.fixtures.cli import VigilCli
from tests.fixtures.services import free_port
from tests.reliability.conftest import (
    REGIONS,
    SCOPES,
    Estate,
    Views,
    assert_no_false_deletion,
    backend,
    configure,
    kill_when,
    progress_point,
    report,
)

POINTS = ("starting", "collecting", "checking", "idle")
"""One round at each point, in a seeded random order (two daemon starts a round)."""
FINISHED = "vigil_cycle_last_success_timestamp_seconds "
"""The metric sample a daemon serves once a cycle finished with its check."""


def cycle_finished(port: int) -> bool:
    """Whether the daemon on `port` has finished a cycle (False while it is not serving)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as answer:
            text = answer.read().decode()
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False
    return any(line.startswith(FINISHED) for line in text.splitlines())


def kill_point(point: str, views: Views, port: int, rng: random.Random) -> Callable[[], bool]:
    if point == "starting":
        started = time.monotonic() + rng.uniform(0.1, 1.5)
        return lambda: time.monotonic() >= started
    if point == "collecting":
        return progress_point(views, rng.randrange(SCOPES))
    if point == "checking":
        return progress_point(views, SCOPES)
    return lambda: cycle_finished(port)


def run_one_cycle(cli: VigilCli, port: int, timeout: float = 90) -> float:
    """`vigil run` until its first cycle finished, then SIGTERM; seconds to that cycle."""
    started = time.monotonic()
    process = cli.start("run")
    try:
        while not cycle_finished(port):
            assert process.poll() is None, process.communicate()
            assert time.monotonic() - started < timeout, "the daemon never finished a cycle"
            time.sleep(0.05)
        took = time.monotonic() - started
        process.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=15)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, stderr
    assert "Traceback" not in stderr, stderr
    return took


@pytest.mark.slow
def test_daemon_killed_at_random_points_loses_nothing_and_the_next_run_completes(
    cli_on: VigilCli, db_url: str, moto: str, estate: Estate, rng: random.Random
) -> None:
    port = free_port()
    schedule = (
        f"schedule:\n  collect_every: 1h\n  jitter: 0s\nmetrics:\n  listen: 127.0.0.1:{port}\n"
    )
    configure(cli_on, moto, schedule)
    first = run_one_cycle(cli_on, port)
    views = Views(db_url)
    assert views.inventory() == estate.truth()
    assert views.open_findings(), "the estate has findings that a false resolution would close"

    outcomes: Counter[str] = Counter()
    timings: list[str] = []
    try:
        points = list(POINTS)
        rng.shuffle(points)
        for point in points:
            for region in REGIONS:
                estate.churn(region)
            live = estate.truth()
            before = views.open_findings()
            completed = views.runs("complete")
            ready = kill_point(point, views, port, rng)
            jitter = rng.uniform(0, 0.01) if point in ("collecting", "checking") else 0
            killed = kill_when(cli_on, ready, jitter, "run")
            committed = views.runs("complete") - completed
            timings.append(f"{point} {killed.after:.2f}s/{committed}")
            outcomes["exited before the kill" if killed.finished else f"killed {point}"] += 1
            assert "Traceback" not in killed.stderr, killed.stderr

            assert views.healthy() == []
            assert_no_false_deletion(views, estate)
            after = views.open_findings()
            falsely = {fp: r for fp, r in before.items() if fp not in after and r in live}
            assert not falsely, f"live findings resolved by a killed daemon: {falsely}"

            took = run_one_cycle(cli_on, port)  # the lock the dead daemon held is free
            outcomes["recovered"] += 1
            timings[-1] += f", next run {took:.1f}s"
            assert views.healthy() == []
            assert views.inventory() == live
            assert_no_false_deletion(views, estate)
        outcomes["true deletions recorded"] = assert_no_false_deletion(views, estate)
    finally:
        views.close()
    report(
        f"kill -9 vigil run [{backend(db_url)}]: {len(POINTS)} rounds, {dict(outcomes)}, "
        f"first cycle {first:.1f}s; killed at (point after s/scopes committed of {SCOPES}) "
        f"{'; '.join(timings)}; 0 false deletions, 0 live findings resolved, inventory == "
        "moto after every next run"
    )
