"""The notify use case on real storage (SQLite and PostgreSQL) and a real HTTP receiver:
routing, grouping, dedup, reminders, resolves, silences, durability and backoff."""

from __future__ import annotations

from datetime import timedelta

import pytest

from storage import outbox as store
from storage import tables
from storage.db import Database
from storage.silences import SilenceStore
from tests.factories.notifiers import T0, check, config, finding, findings, webhook
from tests.fixtures.slack_api import HttpRecorder
from vigil.app.config import parse_config
from vigil.app.notify import deliver, outbox_counts, outbox_hook


def events(recorder: HttpRecorder, path: str = "/hook") -> list[list[tuple[str, str]]]:
    """Per delivered message, its (event, native_id) pairs."""
    return [
        sorted((a["event"], a["resource"]["native_id"]) for a in r.json["alerts"])
        for r in recorder.ok(path)
    ]


def test_nothing_to_hook_without_notifiers_or_routes() -> None:
    assert outbox_hook(None) is None
    assert outbox_hook(parse_config({})) is None
    assert outbox_hook(config([webhook("w", "http://127.0.0.1:9/")], routes=[])) is None


def test_500_findings_of_one_rule_make_one_message_per_route(
    db: Database, http_recorder: HttpRecorder
) -> None:
    cfg = config(
        [
            webhook("pager", f"{http_recorder.url}/pager"),
            webhook("audit", f"{http_recorder.url}/audit"),
        ],
        routes=[
            {"match": {"severity": ["critical", "high"]}, "notifiers": ["pager"], "continue": True},
            {"notifiers": ["audit"]},
        ],
    )
    check(db, findings(500), cfg)
    report = deliver(db, cfg, now=T0)
    assert (report.sent, report.failed, report.dead) == (2, 0, 0)
    for path in ("/pager", "/audit"):
        (body,) = [r.json for r in http_recorder.ok(path)]
        assert body["counts"] == {"firing": 500, "repeat": 0, "resolved": 0}
        assert len(body["alerts"]) == 500
    assert outbox_counts(db) == {"pending": 0, "sent": 2, "failed": 0, "dead": 0}


def test_first_matching_route_wins_and_tags_route_to_teams(
    db: Database, http_recorder: HttpRecorder
) -> None:
    cfg = config(
        [webhook(n, f"{http_recorder.url}/{n}") for n in ("payments", "certs", "rest")],
        routes=[
            {"match": {"team": "payments"}, "notifiers": ["payments"]},
            {"match": {"rule": "cert.*"}, "notifiers": ["certs"]},
            {"notifiers": ["rest"]},
        ],
    )
    produced = [
        finding("sg-pay", team="payments"),
        finding("sg-other"),
        finding("cert-1", rule="cert.expiring", type_="certificate", team="payments"),
        finding("cert-2", rule="cert.expiring", type_="certificate"),
    ]
    check(db, produced, cfg)
    deliver(db, cfg, now=T0)
    assert events(http_recorder, "/payments") == [[("firing", "sg-pay")], [("firing", "cert-1")]]
    assert events(http_recorder, "/certs") == [[("firing", "cert-2")]]
    assert events(http_recorder, "/rest") == [[("firing", "sg-other")]]


def test_two_checks_send_nothing_new_then_a_reminder_then_one_resolve(
    db: Database, http_recorder: HttpRecorder
) -> None:
    cfg = config(
        [webhook("w", f"{http_recorder.url}/hook")],
        routes=[{"notifiers": ["w"], "repeat_interval": "4h"}],
    )
    open_ports = [finding("sg-1"), finding("sg-2")]
    for minutes in (0, 15, 30):
        check(db, open_ports, cfg, now=T0 + timedelta(minutes=minutes))
        deliver(db, cfg, now=T0 + timedelta(minutes=minutes))
    assert events(http_recorder) == [[("firing", "sg-1"), ("firing", "sg-2")]]

    later = T0 + timedelta(hours=4, minutes=1)
    check(db, open_ports, cfg, now=later)
    deliver(db, cfg, now=later)
    assert events(http_recorder)[1:] == [[("repeat", "sg-1"), ("repeat", "sg-2")]]

    fixed = later + timedelta(minutes=15)
    check(db, open_ports[:1], cfg, now=fixed)  # sg-2 was fixed
    deliver(db, cfg, now=fixed)
    check(db, open_ports[:1], cfg, now=fixed + timedelta(minutes=15))
    deliver(db, cfg, now=fixed + timedelta(minutes=15))
    assert events(http_recorder)[2:] == [[("resolved", "sg-2")]]


def test_send_resolved_false_sends_no_resolve(db: Database, http_recorder: HttpRecorder) -> None:
    cfg = config(
        [webhook("w", f"{http_recorder.url}/hook")],
        routes=[{"notifiers": ["w"], "send_resolved": False}],
    )
    check(db, [finding("sg-1")], cfg)
    check(db, [], cfg, now=T0 + timedelta(minutes=15))
    deliver(db, cfg, now=T0 + timedelta(minutes=15))
    assert events(http_recorder) == [[("firing", "sg-1")]]


def test_silenced_findings_send_nothing(db: Database, http_recorder: HttpRecorder) -> None:
    cfg = config([webhook("w", f"{http_recorder.url}/hook")])
    SilenceStore(db).add_silence(
        rule="network.open_port",
        reason="known",
        author="ops",
        expires_at=T0 + timedelta(days=1),
        now=T0,
    )
    check(db, [finding("sg-1")], cfg)
    check(db, [], cfg, now=T0 + timedelta(minutes=15))  # resolved while silenced
    deliver(db, cfg, now=T0 + timedelta(minutes=15))
    assert http_recorder.requests == []
    assert outbox_counts(db)["pending"] == 0


def test_a_crash_between_enqueue_and_send_delivers_once_on_the_next_run(
    db: Database, http_recorder: HttpRecorder
) -> None:
    cfg = config([webhook("w", f"{http_recorder.url}/hook")])
    check(db, [finding("sg-1")], cfg)  # committed with the findings; the process "dies" here
    assert outbox_counts(db)["pending"] == 1
    first, second = deliver(db, cfg, now=T0), deliver(db, cfg, now=T0 + timedelta(hours=1))
    assert (first.sent, second.sent) == (1, 0)
    assert len(http_recorder.requests) == 1


def test_a_sender_that_died_mid_send_is_replaced_after_its_lease(
    db: Database, http_recorder: HttpRecorder
) -> None:
    cfg = config([webhook("w", f"{http_recorder.url}/hook")])
    check(db, [finding("sg-1")], cfg)
    (entry,) = store.due(db, T0)
    assert store.claim(db, entry, T0 + timedelta(minutes=5))  # claimed, then killed
    assert deliver(db, cfg, now=T0 + timedelta(minutes=1)).sent == 0  # still leased
    assert deliver(db, cfg, now=T0 + timedelta(minutes=6)).sent == 1
    assert len(http_recorder.requests) == 1


def test_failures_back_off_exponentially_then_die(
    db: Database, http_recorder: HttpRecorder
) -> None:
    cfg = config([webhook("w", f"{http_recorder.url}/hook", max_attempts=3, backoff="30s")])
    for _ in range(3):
        http_recorder.then("/hook", 503)
    check(db, [finding("sg-1")], cfg)
    moments = [0, 10, 31, 60, 92]  # failure 1 waits 30 s, failure 2 waits 60 s
    reports = [deliver(db, cfg, now=T0 + timedelta(seconds=s)) for s in moments]
    assert [(r.sent, r.failed, r.dead) for r in reports] == [
        (0, 1, 0), (0, 0, 0), (0, 1, 0), (0, 0, 0), (0, 0, 1),
    ]  # fmt: skip
    (dead,) = store.entries(db, (tables.DEAD,))
    assert dead.attempts == 3 and dead.last_error == "the webhook answered HTTP 503"
    assert outbox_counts(db) == {"pending": 0, "sent": 0, "failed": 0, "dead": 1}


def test_a_retry_after_a_server_error_sends_once(db: Database, http_recorder: HttpRecorder) -> None:
    cfg = config([webhook("w", f"{http_recorder.url}/hook", backoff="1s")])
    http_recorder.then("/hook", 500)
    check(db, [finding("sg-1")], cfg)
    deliver(db, cfg, now=T0)
    deliver(db, cfg, now=T0 + timedelta(seconds=2))
    deliver(db, cfg, now=T0 + timedelta(seconds=10))
    assert [r.status for r in http_recorder.requests] == [500, 200]


def test_a_refusal_that_cannot_succeed_is_dead_at_once(
    db: Database, http_recorder: HttpRecorder
) -> None:
    cfg = config([webhook("w", f"{http_recorder.url}/hook")])
    http_recorder.then("/hook", 404)
    check(db, [finding("sg-1")], cfg)
    report = deliver(db, cfg, now=T0)
    assert report.dead == 1 and report.errors == ["w: the webhook answered HTTP 404"]


def test_a_message_for_a_removed_notifier_is_dead(
    db: Database, http_recorder: HttpRecorder
) -> None:
    check(db, [finding("sg-1")], config([webhook("old", f"{http_recorder.url}/hook")]))
    report = deliver(db, config([webhook("new", f"{http_recorder.url}/hook")]), now=T0)
    assert report.dead == 1 and "no longer configured" in report.errors[0]
    assert http_recorder.requests == []


@pytest.mark.parametrize("kind", ["new", "unsilenced"])
def test_firing_again_after_a_silence_or_a_reopen_notifies(
    db: Database, http_recorder: HttpRecorder, kind: str
) -> None:
    cfg = config([webhook("w", f"{http_recorder.url}/hook")])
    if kind == "unsilenced":
        silence = SilenceStore(db).add_silence(
            rule="*", reason="r", author="a", expires_at=T0 + timedelta(days=1), now=T0
        )
        check(db, [finding("sg-1")], cfg)
        SilenceStore(db).remove_silence(silence.id)
    else:
        check(db, [finding("sg-1")], cfg)
        check(db, [], cfg, now=T0 + timedelta(minutes=5))
    check(db, [finding("sg-1")], cfg, now=T0 + timedelta(minutes=10))
    deliver(db, cfg, now=T0 + timedelta(minutes=10))
    kinds = [[a["kind"] for a in r.json["alerts"]] for r in http_recorder.ok("/hook")]
    expected = [["unsilenced"]] if kind == "unsilenced" else [["new"], ["resolved"], ["reopened"]]
    assert kinds == expected


def test_two_routes_of_one_name_keep_their_own_state_and_messages(
    db: Database, http_recorder: HttpRecorder
) -> None:
    hook = webhook("w", f"{http_recorder.url}/hook")
    routes = [
        {"name": "pager", "notifiers": ["w"], "continue": True},
        {"name": "pager", "notifiers": ["w"]},
    ]
    cfg = config([hook], routes=routes)
    check(db, [finding("sg-1")], cfg)  # raised IntegrityError: one key for both messages
    assert deliver(db, cfg, now=T0).sent == 2
    assert [e.route for e in store.entries(db)] == ["pager@route-2", "pager"]
