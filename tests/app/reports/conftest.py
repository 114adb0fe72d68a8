"""Reports are tested over one seeded database (see seed.py) and a report gathered from it."""

from __future__ import annotations

import pytest

from rules.compliance import FRAMEWORKS
from storage.db import Database
from tests.app.reports.seed import T0, T2, Estate, seed
from vigil.app.reports.contents import Report, ReportParams, gather


def params(**overrides: object) -> ReportParams:
    """Report parameters at T2 (the seed's last moment), every framework, period from T0."""
    values: dict[str, object] = {
        "frameworks": tuple(FRAMEWORKS),
        "at": T2,
        "since": T0,
        "generated_at": T2,
        "as_of_given": True,
        "organization": "Example <Corp>",
    }
    values.update(overrides)
    return ReportParams(**values)  # type: ignore[arg-type]


@pytest.fixture
def estate(sqlite_db: Database) -> Estate:
    return seed(sqlite_db)


@pytest.fixture
def report(sqlite_db: Database, estate: Estate) -> Report:
    return gather(sqlite_db, params())
