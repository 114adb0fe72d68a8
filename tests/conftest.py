"""Shared fixtures. Expensive servers live in tests/fixtures/* as session-scoped plugins."""

pytest_plugins = [
    "tests.fixtures.services",
    "tests.fixtures.aws",
    "tests.fixtures.database",
    "tests.fixtures.cli",
    "tests.fixtures.tls",
    "tests.fixtures.webservers",
    "tests.fixtures.dnsserver",
    "tests.fixtures.libcloud_api",
    "tests.fixtures.slack_api",
    "tests.fixtures.pagerduty_api",
    "tests.fixtures.teams_webhook",
    "tests.fixtures.smtp",
    "tests.fixtures.sshd",
    "tests.fixtures.alertmanager",
    "tests.fixtures.prometheus",
    "tests.fixtures.browser",
    "tests.fixtures.oidc",
]
