"""Where this process's AWS API budgets live: in the process, or shared through PostgreSQL.

On PostgreSQL every process that collects (the threads of a pass, the worker processes of
`executor.kind: processes`, the queue workers of `kind: queue`, on any machine) takes its
tokens from the `api_budgets` table (storage/budgets.py), so together they spend each budget
once. On SQLite the budgets stay in the process; the `processes` executor splits them between
its workers (collectors/aws/budget.py, `share_among`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from collectors.aws import budget
from storage.urls import is_postgresql

# storage.budgets (SQLAlchemy) is imported only for PostgreSQL: on SQLite a pass reaches its
# first API request without loading SQLAlchemy (DESIGN.md, start-up).


def share_budgets(database_url: str) -> bool:
    """Make every AWS budget of this process shared through the database at `database_url`,
    for the rest of the process; call once per process, before collecting. Returns whether
    they are (True for PostgreSQL; SQLite: False, nothing changed). Connects on first use:
    a database unreachable then fails that request's scope with a retryable StorageError."""
    if not is_postgresql(database_url):
        return False
    from storage.budgets import PostgresBucketStore

    previous = budget.use_store(PostgresBucketStore(database_url))
    if isinstance(previous, PostgresBucketStore):
        previous.dispose()
    return True


@contextmanager
def budgets_shared_through(database_url: str) -> Iterator[bool]:
    """`share_budgets` for the duration of a pass of this process (then as before); yields
    whether they are shared. A process whose budgets are shared already keeps its store."""
    if budget.current_store() is not None or not is_postgresql(database_url):
        yield budget.current_store() is not None
        return
    from storage.budgets import PostgresBucketStore

    store = PostgresBucketStore(database_url)
    budget.use_store(store)
    try:
        yield True
    finally:
        if budget.current_store() is store:
            budget.use_store(None)
        store.dispose()
