"""fewer_gc_pauses: one raised threshold however many passes overlap, restored after the last."""

from __future__ import annotations

import gc

from vigil.app.gc_tuning import GC_FIRST_THRESHOLD, fewer_gc_pauses


def test_overlapping_blocks_keep_the_threshold_raised_until_the_last_one_ends() -> None:
    before = gc.get_threshold()
    outer = fewer_gc_pauses()
    inner = fewer_gc_pauses()
    outer.__enter__()
    inner.__enter__()
    assert gc.get_threshold() == (GC_FIRST_THRESHOLD, *before[1:])
    outer.__exit__(None, None, None)  # the daemon's jobs end in any order
    assert gc.get_threshold()[0] == GC_FIRST_THRESHOLD
    inner.__exit__(None, None, None)
    assert gc.get_threshold() == before


def test_the_threshold_is_restored_when_the_block_raises() -> None:
    before = gc.get_threshold()
    try:
        with fewer_gc_pauses():
            raise RuntimeError("a storage error mid-pass")
    except RuntimeError:
        pass
    assert gc.get_threshold() == before
