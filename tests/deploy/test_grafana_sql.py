"""The SQL dashboard (deploy/grafana/vigil-sql.json): every panel's query runs on a real
PostgreSQL through the read-only role docs/sql.md creates, and says what the CLI says."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml

from storage.db import Database
from storage.findings import FindingQuery, FindingStore
from tests.fixtures.database import PostgresCluster
from tests.storage.test_views import START, seeded

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
DASHBOARD = json.loads((DEPLOY / "grafana/vigil-sql.json").read_text())
DATASOURCE = yaml.safe_load((DEPLOY / "grafana/provisioning/datasources/postgres.yaml").read_text())
SQL_DOC = (DEPLOY.parent / "docs/sql.md").read_text()
GRANTS = re.search(r"```sql\n(.*?)```", SQL_DOC, re.DOTALL)
PANELS = {panel["title"]: panel for panel in DASHBOARD["panels"]}


def grafana_sql(panel: dict[str, object]) -> str:
    """The panel's query as Grafana sends it for a time range around the seeded history
    (its time macro expanded as Grafana's PostgreSQL datasource does)."""
    (target,) = panel["targets"]  # type: ignore[misc]
    window = (
        f"BETWEEN '{START - timedelta(days=1):%Y-%m-%d}' AND '{START + timedelta(days=1):%Y-%m-%d}'"
    )
    return re.sub(r"\$__timeFilter\((\w+)\)", rf"\1 {window}", target["rawSql"])  # type: ignore[index]


@pytest.fixture
def bi_engine(postgres: PostgresCluster) -> Iterator[sa.Engine]:
    url = postgres.create_database()
    db = seeded(Database(url))
    database = sa.make_url(url).database
    assert GRANTS is not None
    grants = GRANTS.group(1).replace("'...'", "'bi-secret'").replace("vigil TO", f'"{database}" TO')
    with db.begin() as conn:
        conn.execute(sa.text("DROP ROLE IF EXISTS vigil_bi"))
    with db.begin() as conn:
        for statement in filter(str.strip, grants.split(";")):
            conn.execute(sa.text(statement))
    engine = sa.create_engine(sa.make_url(url).set(username="vigil_bi", password="bi-secret"))
    yield engine
    engine.dispose()
    with db.begin() as conn:
        conn.execute(sa.text(f'REVOKE ALL ON DATABASE "{database}" FROM vigil_bi'))
        conn.execute(sa.text("REVOKE ALL ON SCHEMA public FROM vigil_bi"))
        conn.execute(sa.text("DROP OWNED BY vigil_bi"))
        conn.execute(sa.text("DROP ROLE vigil_bi"))
    db.dispose()


def test_every_panel_reads_the_datasource_the_provisioning_defines() -> None:
    (source,) = DATASOURCE["datasources"]
    assert source["user"] == "vigil_bi" and "password" not in source
    assert source["secureJsonData"]["password"] == "$VIGIL_BI_PASSWORD"
    for panel in DASHBOARD["panels"]:
        assert panel["datasource"]["uid"] == source["uid"]
        assert all(t["datasource"]["uid"] == source["uid"] for t in panel["targets"])


@pytest.mark.parametrize("title", sorted(PANELS))
def test_every_panel_query_runs_as_the_read_only_role(bi_engine: sa.Engine, title: str) -> None:
    with bi_engine.connect() as conn:
        rows = list(conn.execute(sa.text(grafana_sql(PANELS[title]))))
    assert rows, f"{title}: no rows on a seeded database"


def test_open_findings_by_severity_matches_vigil_findings(bi_engine: sa.Engine) -> None:
    with bi_engine.connect() as conn:
        result = conn.execute(sa.text(grafana_sql(PANELS["Open findings by severity"])))
        counted = {severity: count for severity, count in result}
    url = bi_engine.url.set(username="postgres", password=None)
    db = Database(url.render_as_string(hide_password=False))
    open_ = list(FindingStore(db).findings(FindingQuery(statuses=("open",))))
    db.dispose()
    assert counted == {"critical": len(open_)}


def test_the_role_reads_the_views_and_not_the_tables(bi_engine: sa.Engine) -> None:
    with bi_engine.connect() as conn, pytest.raises(sa.exc.ProgrammingError, match="permission"):
        conn.execute(sa.text("SELECT * FROM resources"))
