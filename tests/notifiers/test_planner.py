"""The alerting planner without a database: grouping, repeat interval, resolve, idempotency keys.

End to end (real storage and receivers) the same behaviour is in tests/app/test_notify.py.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from notifiers import planner
from notifiers.base import FIRING, REPEAT, RESOLVED, Message
from notifiers.routing import RouteConfig
from tests.factories.notifiers import T0, transition
from vigil.core.alerting import NotifyState, ResourceContext, StateKey
from vigil.core.model import Resolution, make_uid
from vigil.core.transitions import Transition, TransitionKind

NOW = T0 + timedelta(hours=6)
STILL_OPEN, RESOLVED_KIND = TransitionKind.STILL_OPEN, TransitionKind.RESOLVED


def route(**options: object) -> RouteConfig:
    return RouteConfig.model_validate({"notifiers": ["oncall"], **options})


def plan(
    transitions: Sequence[Transition],
    routes: Sequence[RouteConfig] = (),
    *,
    states: Mapping[StateKey, NotifyState] | None = None,
    contexts: Mapping[str, ResourceContext] | None = None,
    now: datetime = NOW,
) -> planner.Plan:
    catalog = {"network.open_port": ("Security group open to the internet", "Close it.")}
    return planner.plan(
        transitions, list(routes) or [route()], contexts or {}, states or {}, now, catalog
    )


def sent(result: planner.Plan) -> list[tuple[str, list[tuple[str, str]]]]:
    """Per message: its notifier, and its (event, native_id) pairs."""
    return [(m.notifier, sorted((a.event, a.native_id) for a in m.alerts)) for m in result.messages]


def firing_since(
    at: datetime, *native_ids: str, route_key: str = "route-1"
) -> dict[StateKey, NotifyState]:
    """Notify states saying these findings were last notified as firing at `at`."""
    return {
        (route_key, transition(n).finding.fingerprint): NotifyState(at, True) for n in native_ids
    }


# -- grouping ----------------------------------------------------------------------------------


def test_one_rule_and_source_make_one_message_per_notifier_of_the_route() -> None:
    result = plan([transition(f"sg-{i}") for i in range(3)], [route(notifiers=["oncall", "audit"])])
    alerts = [("firing", "sg-0"), ("firing", "sg-1"), ("firing", "sg-2")]
    assert sent(result) == [("oncall", alerts), ("audit", alerts)]
    oncall, audit = result.messages
    assert oncall.group == {"rule": "network.open_port", "source": "aws-prod"}
    assert oncall.rule_title == "Security group open to the internet"
    assert oncall.remediation == "Close it."
    assert oncall.key != audit.key


def test_default_grouping_splits_by_rule_and_source() -> None:
    result = plan(
        [
            transition("sg-1"),
            transition("sg-2", source="aws-dev"),
            transition("cert-1", rule="cert.expiring", type_="certificate"),
        ]
    )
    assert [m.group for m in result.messages] == [
        {"rule": "network.open_port", "source": "aws-prod"},
        {"rule": "network.open_port", "source": "aws-dev"},
        {"rule": "cert.expiring", "source": "aws-prod"},
    ]
    assert result.messages[2].rule_title == "cert.expiring"  # not in the catalog: its id


def test_group_by_joins_findings_of_several_rules_in_one_message_per_value() -> None:
    result = plan(
        [
            transition("sg-1", team="payments"),
            transition("cert-1", rule="cert.expiring", type_="certificate", team="payments"),
            transition("sg-2", team="infra"),
            transition("sg-3"),  # no team: the group of the empty value
        ],
        [route(group_by=["team"])],
    )
    assert [(m.group, len(m.alerts)) for m in result.messages] == [
        ({"team": "payments"}, 2),
        ({"team": "infra"}, 1),
        ({"team": ""}, 1),
    ]
    payments = result.messages[0]
    assert (payments.rule, payments.rule_title) == ("cert.expiring, network.open_port", "2 rules")


def test_group_open_counts_what_is_still_open_in_the_group_notified_or_not() -> None:
    states = firing_since(NOW - timedelta(minutes=15), "sg-2", "sg-3")
    result = plan(
        [
            transition("sg-1"),  # new
            transition("sg-2", STILL_OPEN),  # still open, reminder not due: no alert
            transition("sg-3", RESOLVED_KIND),  # resolved: announced, not counted
            transition("sg-4", team="other", source="aws-dev"),  # another group
        ],
        states=states,
    )
    assert sent(result) == [
        ("oncall", [("firing", "sg-1"), ("resolved", "sg-3")]),
        ("oncall", [("firing", "sg-4")]),
    ]
    assert [m.group_open for m in result.messages] == [2, 1]


def test_a_group_whose_findings_all_resolved_has_none_open() -> None:
    states = firing_since(NOW - timedelta(hours=1), "sg-1", "sg-2")
    result = plan([transition(n, RESOLVED_KIND) for n in ("sg-1", "sg-2")], states=states)
    (message,) = result.messages
    assert message.group_open == 0
    assert [a.event for a in message.alerts] == [RESOLVED, RESOLVED]


def test_a_finding_on_two_routes_is_remembered_per_route() -> None:
    routes = [route(name="pager", continue_=True), route(notifiers=["audit"])]
    result = plan([transition("sg-1")], routes)
    assert sent(result) == [("oncall", [("firing", "sg-1")]), ("audit", [("firing", "sg-1")])]
    assert [m.route for m in result.messages] == ["pager", "route-2"]
    fingerprint = transition("sg-1").finding.fingerprint
    assert result.states == {
        ("pager", fingerprint): NotifyState(NOW, True),
        ("route-2", fingerprint): NotifyState(NOW, True),
    }


def test_resource_context_gives_tags_to_route_on_and_the_name_and_provider() -> None:
    found = transition("sg-1", provider="")
    uid = make_uid("aws", "111111111111", "us-east-1", "security_group", "sg-1")
    assert found.finding.resource_uid == uid
    contexts = {uid: ResourceContext("web", "aws", {"team": "payments"})}
    routes = [route(match={"team": "payments"}, notifiers=["payments"]), route()]
    result = plan([found], routes, contexts=contexts)
    (message,) = result.messages
    assert message.notifier == "payments"
    (alert,) = message.alerts
    assert (alert.name, alert.provider, alert.display_name) == ("web", "aws", "sg-1 (web)")
    assert sent(plan([found], routes)) == [("oncall", [("firing", "sg-1")])]  # no context


# -- repeat interval ---------------------------------------------------------------------------


def test_a_reminder_goes_out_when_the_repeat_interval_has_passed_not_before() -> None:
    routes = [route(repeat_interval="4h")]
    still = [transition("sg-1", STILL_OPEN)]
    almost = plan(
        still, routes, states=firing_since(NOW - timedelta(hours=4) + timedelta(seconds=1), "sg-1")
    )
    assert (almost.messages, almost.states) == ([], {})
    due = plan(still, routes, states=firing_since(NOW - timedelta(hours=4), "sg-1"))
    assert sent(due) == [("oncall", [("repeat", "sg-1")])]
    assert due.messages[0].repeat_interval_seconds == 4 * 3600
    assert list(due.states.values()) == [NotifyState(NOW, True)]


def test_still_open_on_a_route_that_never_said_firing_fires() -> None:
    still = [transition("sg-1", STILL_OPEN)]
    assert sent(plan(still)) == [("oncall", [("firing", "sg-1")])]  # new route, or --no-notify
    key = ("route-1", still[0].finding.fingerprint)
    told_resolved = {key: NotifyState(NOW - timedelta(minutes=1), False)}
    assert sent(plan(still, states=told_resolved)) == [("oncall", [("firing", "sg-1")])]


def test_new_reopened_and_unsilenced_fire_whatever_was_notified() -> None:
    states = firing_since(NOW - timedelta(minutes=1), "sg-1", "sg-2", "sg-3")
    kinds = (TransitionKind.NEW, TransitionKind.REOPENED, TransitionKind.UNSILENCED)
    result = plan([transition(f"sg-{i}", k) for i, k in enumerate(kinds, 1)], states=states)
    assert [a.event for a in result.messages[0].alerts] == [FIRING] * 3
    assert [a.kind for a in result.messages[0].alerts] == ["new", "reopened", "unsilenced"]
    assert planner.decide(STILL_OPEN, route(), states[next(iter(states))], NOW) is None
    assert planner.decide(STILL_OPEN, route(), NotifyState(T0, True), NOW) == REPEAT


# -- resolve -----------------------------------------------------------------------------------


def test_a_resolve_goes_out_only_when_the_firing_message_was_sent() -> None:
    resolved = [transition("sg-1", RESOLVED_KIND)]
    after_firing = plan(resolved, states=firing_since(NOW - timedelta(hours=1), "sg-1"))
    assert sent(after_firing) == [("oncall", [("resolved", "sg-1")])]
    assert after_firing.messages[0].alerts[0].resolved_at == "2026-11-01T12:00:00Z"
    assert list(after_firing.states.values()) == [NotifyState(NOW, False)]

    never_notified = plan(resolved)  # e.g. it opened under --no-notify
    assert (never_notified.messages, never_notified.states) == ([], {})

    key = ("route-1", resolved[0].finding.fingerprint)
    already = plan(resolved, states={key: NotifyState(NOW - timedelta(hours=1), False)})
    assert already.messages == []


def test_send_resolved_false_sends_none_but_remembers_the_end() -> None:
    resolved = [transition("sg-1", RESOLVED_KIND)]
    states = firing_since(NOW - timedelta(hours=1), "sg-1")
    result = plan(resolved, [route(send_resolved=False)], states=states)
    assert result.messages == []
    assert list(result.states.values()) == [NotifyState(NOW, False)]


def test_unannounced_resolutions_send_nothing_but_end_the_firing_state() -> None:
    states = firing_since(NOW - timedelta(hours=1), "sg-1", "sg-2", "sg-3")
    retired = transition("sg-1", RESOLVED_KIND, resolution=Resolution.RETIRED)
    disabled = transition("sg-2", RESOLVED_KIND, resolution=Resolution.RULE_DISABLED)
    deleted = transition("sg-3", RESOLVED_KIND, resolution=Resolution.DELETED)
    assert (retired.unannounced, disabled.unannounced, deleted.unannounced) == (True, True, False)
    result = plan([retired, disabled, deleted], states=states)
    assert sent(result) == [("oncall", [("resolved", "sg-3")])]
    assert set(result.states.values()) == {NotifyState(NOW, False)}
    assert len(result.states) == 3


def test_silenced_transitions_plan_nothing() -> None:
    silenced = [transition("sg-1", TransitionKind.SILENCED)]
    assert planner.notifiable(silenced) == []
    result = plan(silenced, states=firing_since(NOW - timedelta(hours=9), "sg-1"))
    assert (result.messages, result.states) == ([], {})


# -- idempotency keys --------------------------------------------------------------------------


def keys(result: planner.Plan) -> list[str]:
    return [m.key for m in result.messages]


def test_idempotency_keys_are_stable_across_runs_of_the_same_check() -> None:
    def run() -> planner.Plan:
        transitions = [transition("sg-2"), transition("sg-1"), transition("cert-1", rule="cert.x")]
        return plan(transitions, [route(notifiers=["oncall", "audit"])])

    first, second = run(), run()
    assert keys(first) == keys(second)
    assert all(len(k) == 32 for k in keys(first))
    reordered = plan(
        [transition("sg-1"), transition("cert-1", rule="cert.x"), transition("sg-2")],
        [route(notifiers=["oncall", "audit"])],
    )
    assert sorted(keys(reordered)) == sorted(keys(first))


def test_idempotency_keys_differ_per_notifier_group_transitions_and_check() -> None:
    base = keys(
        plan(
            [transition("sg-1"), transition("cert-1", rule="cert.x")], [route(notifiers=["a", "b"])]
        )
    )
    assert len(set(base)) == 4  # two groups × two notifiers
    one = keys(plan([transition("sg-1")]))
    assert keys(plan([transition("sg-1"), transition("sg-2")])) != one  # another transition set
    repeat = plan([transition("sg-1", STILL_OPEN)], states=firing_since(T0, "sg-1"))
    assert keys(repeat) != one  # same finding, another event
    assert keys(plan([transition("sg-1")], now=NOW + timedelta(minutes=15))) != one
    assert keys(plan([transition("sg-1")], [route(name="pager")])) != one


# -- outbox rows -------------------------------------------------------------------------------


def test_outbox_rows_carry_each_message_whole() -> None:
    many = [transition(f"sg-{i:03d}", severity="critical" if i == 7 else "low") for i in range(60)]
    result = plan(
        many + [transition("old", RESOLVED_KIND, severity="critical")],
        states=firing_since(T0, "old"),
    )
    (message,) = result.messages
    (row,) = result.outbox()
    assert (row.key, row.notifier, row.route, row.rule) == (
        message.key,
        "oncall",
        "route-1",
        "network.open_port",
    )
    assert row.severity == "critical"
    assert row.alerts == 61
    assert row.created_at == NOW
    assert row.summary == "[CRITICAL] Security group open to the internet: 60 new, 1 resolved"
    assert Message.from_dict(row.payload) == message


def test_a_long_summary_is_clipped_in_the_row_only() -> None:
    catalog = {"network.open_port": ("x" * 600, "")}
    result = planner.plan([transition("sg-1")], [route()], {}, {}, NOW, catalog)
    (row,) = result.outbox()
    assert len(row.summary) == planner.SUMMARY_LIMIT
    assert Message.from_dict(row.payload).rule_title == "x" * 600
