"""Who may see the dashboard: the `dashboard.access` allow-list and the decision over a login.

An OIDC login proves only that someone has an account with the issuer (with Google's issuer:
any Google account). `decide()` compares the claims of that login with the allow-list. Emails
and domains count only when the issuer says the email is verified: an unverified address is
whatever the user typed. Groups come from the configured claim, where the issuer sends one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from pydantic import Field, field_validator

from vigil.core.schema import StrictModel


class AccessConfig(StrictModel):
    """`dashboard.access:` who may log in; required with `dashboard.oidc`.

    A visitor is let in when their verified email is listed, their verified email's domain is
    listed (exactly: `example.com` does not admit `dev.example.com` or `evilexample.com`), or
    one of their groups is listed. Anyone else sees "not allowed" and a log-out button.

    ```yaml
    dashboard:
      access:
        emails: [sre@example.com]
        domains: [example.com]
        groups: [sre]
        groups_claim: groups
    ```
    """

    emails: list[str] = Field(
        default_factory=list,
        description="Verified email addresses that may log in (case-insensitive).",
    )
    domains: list[str] = Field(
        default_factory=list,
        description="Email domains whose verified addresses may log in (exact: no subdomains).",
    )
    groups: list[str] = Field(
        default_factory=list,
        description="Groups that may log in, read from `groups_claim` where the issuer sends it.",
    )
    groups_claim: str = Field(
        default="groups", min_length=1, description="The ID-token claim that lists the groups."
    )
    allow_any_authenticated: bool = Field(
        default=False,
        description="Let in anyone with an account at the issuer; must be said explicitly.",
    )

    @field_validator("emails")
    @classmethod
    def _emails(cls, values: list[str]) -> list[str]:
        for value in values:
            local, at, domain = value.rpartition("@")
            if not (local and at and domain) or "@" in local:
                raise ValueError(f"{value!r} is not an email address (name@domain)")
        return [value.strip().casefold() for value in values]

    @field_validator("domains")
    @classmethod
    def _domains(cls, values: list[str]) -> list[str]:
        for value in values:
            if not value or "@" in value or value.startswith(".") or " " in value:
                raise ValueError(f"{value!r} is not a domain; write it as example.com")
        return [value.strip().casefold() for value in values]

    @property
    def lists_anyone(self) -> bool:
        """Whether the allow-list names anyone (or says explicitly that anyone may log in)."""
        return bool(self.emails or self.domains or self.groups or self.allow_any_authenticated)


@dataclass(frozen=True)
class Decision:
    """Whether a login may see the dashboard, and why (for the page and the log)."""

    allowed: bool
    reason: str


def decide(access: AccessConfig, claims: Mapping[str, object]) -> Decision:
    """The allow-list's answer for the claims of one login (Streamlit's `st.user`)."""
    if claims.get("is_logged_in") is not True:
        return Decision(False, "not logged in")
    if access.allow_any_authenticated:
        return Decision(True, "any authenticated account is allowed")
    email = _verified_email(claims)
    if email is not None and email in access.emails:
        return Decision(True, "email is on the allow-list")
    if email is not None and email.rpartition("@")[2] in access.domains:
        return Decision(True, "email domain is on the allow-list")
    groups = _groups(claims, access.groups_claim)
    if groups & set(access.groups):
        return Decision(True, "group is on the allow-list")
    return Decision(False, _refusal(access, claims, email, groups))


def _verified_email(claims: Mapping[str, object]) -> str | None:
    """The email, casefolded, when the issuer vouches for it; None otherwise."""
    email = claims.get("email")
    verified = claims.get("email_verified")
    # Some issuers (e.g. Cognito) send the flag as the string "true".
    if verified is not True and not (isinstance(verified, str) and verified.lower() == "true"):
        return None
    if not isinstance(email, str) or email.count("@") != 1:
        return None
    local, _, domain = email.strip().casefold().partition("@")
    return f"{local}@{domain}" if local and domain else None


def _groups(claims: Mapping[str, object], claim: str) -> set[str]:
    value = claims.get(claim)
    if isinstance(value, str):
        return {value}
    if isinstance(value, list | tuple):
        return {item for item in value if isinstance(item, str)}
    return set()


def _refusal(
    access: AccessConfig, claims: Mapping[str, object], email: str | None, groups: set[str]
) -> str:
    """Why a login was refused, in words its owner can act on."""
    reasons = []
    if (access.emails or access.domains) and email is None:
        reasons.append(
            "the issuer did not confirm the email as verified"
            if claims.get("email")
            else "the issuer sent no email"
        )
    elif access.emails or access.domains:
        reasons.append("the email is not on the allow-list")
    if access.groups and access.groups_claim not in claims:
        reasons.append(f"the issuer sent no {access.groups_claim!r} claim")
    elif access.groups:
        reasons.append("none of the groups is on the allow-list")
    return "; ".join(reasons) or "the allow-list is empty"
