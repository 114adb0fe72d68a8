"""Benchmark: alerting for 10k new findings across 20 rules and 5 routes.

    .venv/bin/python bench/alerts.py [--findings 10000] [--rules 20]

Folds the findings into a fresh SQLite database with the outbox hook (routing, grouping and
the outbox write happen inside the findings transaction), then delivers the outbox to a
loopback Slack Web API (slack-sdk) and a loopback SMTP server (aiosmtpd). Prints the number
of messages produced, the time to enqueue (the whole findings transaction, and the hook's
share of it) and the time to deliver, with the machine it ran on.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sqlalchemy.engine import Connection  # noqa: E402

from storage.db import Database  # noqa: E402
from storage.findings import FindingStore  # noqa: E402
from tests.fixtures.slack_api import SlackApi  # noqa: E402
from tests.fixtures.smtp import SmtpServer  # noqa: E402
from vigil.app.config import VigilConfig, parse_config  # noqa: E402
from vigil.app.notify import deliver, outbox_counts, outbox_hook  # noqa: E402
from vigil.core.model import Finding, Severity, make_uid, utcnow  # noqa: E402
from vigil.core.transitions import Transition  # noqa: E402

TEAMS = ("payments", "infra", "web", "data")
SEVERITIES = tuple(Severity)


def findings(count: int, rules: int) -> list[Finding]:
    out = []
    for i in range(count):
        rule, severity = f"bench.rule-{i % rules:02d}", SEVERITIES[i % len(SEVERITIES)]
        source, region = f"aws-{i % 2}", ("us-east-1", "eu-west-1")[i % 2]
        uid = make_uid("aws", "123456789012", region, "server", f"i-{i:06d}")
        labels = {"provider": "aws", "account": "123456789012", "region": region,
                  "type": "server", "source": source, "rule": rule,
                  "severity": severity.value, "team": TEAMS[i % len(TEAMS)]}  # fmt: skip
        out.append(
            Finding(
                rule=rule,
                severity=severity,
                title=f"server i-{i:06d} is wrong",
                detail="bench",
                resource_uid=uid,
                native_id=f"i-{i:06d}",
                type="server",
                source=source,
                region=region,
                labels=labels,
            )  # fmt: skip
        )
    return out


def config(slack: SlackApi, smtp: SmtpServer, db_url: str) -> VigilConfig:
    os.environ["BENCH_SLACK_TOKEN"] = SlackApi.TOKEN
    notifiers: list[dict[str, Any]] = [
        {"name": "slack", "type": "slack", "token": "${BENCH_SLACK_TOKEN}",
         "channel": "#alerts", "base_url": slack.base_url},
        {"name": "mail", "type": "email", "smtp_host": "127.0.0.1", "smtp_port": smtp.port,
         "starttls": False, "from": "vigil@example.com", "to": ["oncall@example.com"]},
    ]  # fmt: skip
    routes: list[dict[str, Any]] = [
        {"match": {"severity": "critical"}, "notifiers": ["slack"], "continue": True},
        {"match": {"team": "payments"}, "notifiers": ["mail"]},
        {"match": {"team": "infra"}, "notifiers": ["slack"]},
        {"match": {"rule": ["bench.rule-0*"]}, "notifiers": ["mail"]},
        {"notifiers": ["slack"]},
    ]
    return parse_config({"database_url": db_url, "notifiers": notifiers, "routes": routes})


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--findings", type=int, default=10_000)
    parser.add_argument("--rules", type=int, default=20)
    args = parser.parse_args(argv)
    slack, smtp = SlackApi(), SmtpServer().start()
    workdir = tempfile.mkdtemp(prefix="vigil-bench-alerts-")
    db = Database(f"sqlite:///{workdir}/vigil.db")
    cfg = config(slack, smtp, db.url)
    produced = findings(args.findings, args.rules)
    hook = outbox_hook(cfg)
    assert hook is not None
    hook_seconds = 0.0

    def timed(conn: Connection, transitions: Sequence[Transition]) -> None:
        nonlocal hook_seconds
        started = time.perf_counter()
        hook(conn, transitions)
        hook_seconds = time.perf_counter() - started

    started = time.perf_counter()
    FindingStore(db).apply(produced, utcnow(), on_transitions=timed)
    enqueue = time.perf_counter() - started
    messages = outbox_counts(db)["pending"]
    report = deliver(db, cfg)
    slack.close()
    smtp.stop()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, {platform.python_version()}")
    print(f"estate: {args.findings} new findings, {args.rules} rules, 5 routes, SQLite")
    print(f"messages produced: {messages} (slack {len(slack.posts())}, email {len(smtp.messages)})")
    print(f"enqueue: {enqueue:.2f} s for the findings transaction, of which the hook "
          f"(route + group + outbox write) {hook_seconds:.2f} s")  # fmt: skip
    per_message = report.seconds / max(report.sent, 1) * 1000
    print(f"deliver: {report.seconds:.2f} s for {report.sent} sent, {report.failed} failed, "
          f"{report.dead} dead ({per_message:.1f} ms/message)")  # fmt: skip
    db.dispose()


if __name__ == "__main__":
    main()
