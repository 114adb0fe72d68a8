"""dashboard.access: who, once logged in through OIDC, may see the dashboard."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from vigil.app.access import AccessConfig, decide


def login(**claims: Any) -> dict[str, Any]:
    """The claims Streamlit puts in st.user after a login, with a verified email by default."""
    return {"is_logged_in": True, "email_verified": True, **claims}


def allowed(access: AccessConfig, claims: dict[str, Any]) -> bool:
    return decide(access, claims).allowed


EMAILS = AccessConfig(emails=["SRE@example.com"])
DOMAINS = AccessConfig(domains=["example.com"])
GROUPS = AccessConfig(groups=["sre"])


def test_a_listed_verified_email_is_let_in_whatever_its_case() -> None:
    assert allowed(EMAILS, login(email="sre@example.com"))
    assert allowed(EMAILS, login(email="Sre@Example.COM"))


def test_an_unlisted_email_is_refused_and_told_why() -> None:
    decision = decide(EMAILS, login(email="dev@example.com"))
    assert not decision.allowed
    assert decision.reason == "the email is not on the allow-list"


@pytest.mark.parametrize("flag", [False, None, "false", 1])
@pytest.mark.parametrize("access", [EMAILS, DOMAINS], ids=["emails", "domains"])
def test_an_unverified_email_is_refused_for_emails_and_domains(
    access: AccessConfig, flag: object
) -> None:
    claims = login(email="sre@example.com", email_verified=flag)
    if flag is None:
        del claims["email_verified"]
    decision = decide(access, claims)
    assert not decision.allowed
    assert "verified" in decision.reason


def test_a_verified_flag_sent_as_the_string_true_counts() -> None:
    assert allowed(EMAILS, login(email="sre@example.com", email_verified="true"))


def test_a_verified_email_of_a_listed_domain_is_let_in() -> None:
    assert allowed(DOMAINS, login(email="anyone@example.com"))
    assert allowed(DOMAINS, login(email="anyone@EXAMPLE.com"))


@pytest.mark.parametrize(
    "email",
    [
        "mallory@example.com.evil.org",
        "mallory@evilexample.com",
        "mallory@dev.example.com",
        "mallory@evil.org@example.com",
        "example.com@evil.org",
        "mallory@example.co",
    ],
)
def test_a_domain_matches_only_exactly(email: str) -> None:
    assert not allowed(DOMAINS, login(email=email))


def test_no_email_at_all_is_refused_by_emails_and_domains() -> None:
    decision = decide(DOMAINS, login())
    assert not decision.allowed and decision.reason == "the issuer sent no email"


def test_a_listed_group_in_the_claim_is_let_in_without_an_email() -> None:
    assert allowed(GROUPS, login(groups=["dev", "sre"]))
    assert allowed(GROUPS, login(groups="sre"))  # some issuers send one group as a string


def test_groups_are_read_from_the_configured_claim() -> None:
    access = AccessConfig(groups=["sre"], groups_claim="roles")
    assert allowed(access, login(roles=["sre"]))
    assert not allowed(access, login(groups=["sre"]))


def test_groups_not_listed_are_refused() -> None:
    decision = decide(GROUPS, login(groups=["dev", "SRE"]))  # group names are exact
    assert not decision.allowed and decision.reason == "none of the groups is on the allow-list"


def test_an_issuer_without_a_groups_claim_is_refused_and_says_so() -> None:
    decision = decide(GROUPS, login(email="sre@example.com"))
    assert not decision.allowed
    assert decision.reason == "the issuer sent no 'groups' claim"


def test_any_one_matching_list_is_enough() -> None:
    access = AccessConfig(emails=["boss@other.org"], domains=["example.com"], groups=["sre"])
    assert allowed(access, login(email="boss@other.org"))
    assert allowed(access, login(email="dev@example.com"))
    assert allowed(access, login(email="contractor@agency.net", groups=["sre"]))
    assert not allowed(access, login(email="contractor@agency.net", groups=["dev"]))


def test_allow_any_authenticated_lets_in_any_login_but_not_a_visitor() -> None:
    access = AccessConfig(allow_any_authenticated=True)
    assert allowed(access, login(email="anyone@gmail.com", email_verified=False))
    assert not allowed(access, {"is_logged_in": False, "email": "anyone@gmail.com"})


def test_nobody_is_let_in_by_an_empty_list_or_without_a_login() -> None:
    assert not AccessConfig().lists_anyone
    assert not allowed(AccessConfig(), login(email="sre@example.com"))
    assert not allowed(EMAILS, {"email": "sre@example.com", "email_verified": True})


@pytest.mark.parametrize(
    ("key", "value"),
    [("emails", "not-an-email"), ("emails", "a@b@c"), ("domains", "@example.com")],
)
def test_malformed_entries_are_config_errors(key: str, value: str) -> None:
    with pytest.raises(ValidationError, match="is not"):
        AccessConfig.model_validate({key: [value]})
