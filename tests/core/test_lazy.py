"""vigil.core.lazy: modules loaded on first use, with the cyclic GC paused while they load."""

from __future__ import annotations

import gc
import threading

import pytest

from vigil.core.lazy import importing, lazy_import


def test_the_collector_runs_again_after_the_imports() -> None:
    """Cycles left by start-up are still collected once the modules have loaded."""
    assert gc.isenabled()
    with importing():
        assert not gc.isenabled()
        with importing():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the outer block still imports
    assert gc.isenabled()
    with pytest.raises(ImportError), importing():
        import vigil.no_such_module  # noqa: F401
    assert gc.isenabled()


def test_concurrent_imports_share_one_pause() -> None:
    inside, leave = threading.Event(), threading.Event()

    def other() -> None:
        with importing():
            inside.set()
            leave.wait(5)

    thread = threading.Thread(target=other)
    thread.start()
    inside.wait(5)
    with importing():
        pass
    assert not gc.isenabled()  # the other thread is still importing
    leave.set()
    thread.join(5)
    assert gc.isenabled()


def test_a_collector_disabled_by_someone_else_stays_disabled() -> None:
    gc.disable()
    try:
        with importing():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_a_lazy_module_fails_as_an_ordinary_import_and_leaves_gc_on() -> None:
    with pytest.raises(ModuleNotFoundError):
        lazy_import("vigil.no_such_module")
    json = lazy_import("json.decoder")
    assert json.JSONDecodeError.__name__ == "JSONDecodeError"
    assert gc.isenabled()
