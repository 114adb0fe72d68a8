"""kill -9 of `vigil collect` at random points, on SQLite and PostgreSQL.

Between passes the estate churns (a disk and its snapshot go, new ones come), so a pass has
real deletions to make next to resources that must stay. After every kill: the database is
sound (`vigil db check`'s checks), no `deleted` event names a resource that still exists, a
`vigil check` over what the killed pass left resolves no finding of a live resource, and the
next `vigil collect` completes with the inventory equal to what moto holds.
"""

from __future__ import annotations

import random
from collections import Counter

import pytest

from tests.fixtures.cli import VigilCli
from tests.reliability.conftest import (
    REGIONS,
    SCOPES,
    Estate,
    Views,
    assert_no_false_deletion,
    assert_nothing_live_resolved,
    backend,
    configure,
    kill_when,
    progress_point,
    report,
    timed,
)

ITERATIONS = {"sqlite": 10, "postgresql": 5}


@pytest.mark.slow
def test_collect_killed_at_random_points_never_invents_a_deletion(
    cli_on: VigilCli, db_url: str, moto: str, estate: Estate, rng: random.Random
) -> None:
    configure(cli_on, moto)
    duration, first = timed(cli_on, "collect")
    assert first.returncode == 0, first.stderr
    assert cli_on("check", "--no-notify").returncode == 0
    views = Views(db_url)
    assert views.open_findings(), "the estate has findings that a false resolution would close"

    outcomes: Counter[str] = Counter()
    delays: list[str] = []
    try:
        for _ in range(ITERATIONS[backend(db_url)]):
            for region in REGIONS:
                estate.churn(region)
            live = estate.truth()
            completed = views.runs("complete")
            # A random point of progress, plus up to 10 ms (moto answers fast, so scopes
            # commit in bursts).
            ready = progress_point(views, rng.randrange(SCOPES))
            killed = kill_when(cli_on, ready, rng.uniform(0, 0.01), "collect")
            committed = views.runs("complete") - completed
            delays.append(f"{killed.after:.2f}s/{committed}")
            outcomes["finished before the kill" if killed.finished else "killed"] += 1
            if committed < SCOPES and not killed.finished:
                outcomes["killed mid-pass"] += 1
            assert "Traceback" not in killed.stderr, killed.stderr

            assert views.healthy() == []
            assert_no_false_deletion(views, estate)
            assert_nothing_live_resolved(cli_on, views, live)

            again = cli_on("collect")
            assert again.returncode == 0, again.stdout + again.stderr
            assert views.inventory() == live
            outcomes["recovered"] += 1
        outcomes["true deletions recorded"] = assert_no_false_deletion(views, estate)
    finally:
        views.close()
    runs = outcomes["killed"] + outcomes["finished before the kill"]
    report(
        f"kill -9 vigil collect [{backend(db_url)}]: {runs} iterations, {dict(outcomes)}, "
        f"full pass {duration:.2f}s, killed after (s/scopes committed of {SCOPES}) "
        f"{', '.join(delays)}; 0 false deletions, 0 live findings resolved, "
        "inventory == moto after every recovery"
    )
