"""The explicit map of notifier types to notifiers. A new channel is one line here."""

from __future__ import annotations

from typing import Any

from notifiers.alertmanager import AlertmanagerNotifier
from notifiers.base import Notifier, NotifierFactory, NotifierSettings
from notifiers.email import EmailNotifier
from notifiers.pagerduty import PagerDutyNotifier
from notifiers.slack import SlackNotifier
from notifiers.teams import TeamsNotifier
from notifiers.webhook import WebhookNotifier

_ALL: tuple[Any, ...] = (
    SlackNotifier,
    EmailNotifier,
    WebhookNotifier,
    AlertmanagerNotifier,
    PagerDutyNotifier,
    TeamsNotifier,
)
# Each constructor takes its own config model; the registry hands it the matching one.
NOTIFIERS: dict[str, NotifierFactory] = {factory.type: factory for factory in _ALL}


def notifier_config_models() -> list[type[NotifierSettings]]:
    return [factory.config_model for factory in NOTIFIERS.values()]


def build_notifier(config: NotifierSettings) -> Notifier:
    """The notifier of a configured channel."""
    return NOTIFIERS[config.type](config)
