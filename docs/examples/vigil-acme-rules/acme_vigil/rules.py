"""`acme.ownerless`: a server nobody answers for.

A rule is a class with its metadata as class attributes and one pure method, exactly like
Vigil's built-in rules (rules/base.py): the registry checks the same contract.
"""

from __future__ import annotations

from collections.abc import Iterator

from pydantic import Field

from rules.base import describe, finding
from rules.view import InventoryView
from vigil.core.model import Finding, Severity
from vigil.core.schema import StrictModel


class OwnerlessParams(StrictModel):
    """`rules.params.acme.ownerless`: the tag that names an owner."""

    tag: str = Field(default="owner", description="The tag whose value names the owner.")


class OwnerlessServer:
    """A server without an owner tag: nobody is paged when it breaks."""

    id = "acme.ownerless"
    title = "Server without an owner"
    severity = Severity.MEDIUM
    resource_types = ("server",)
    params_model = OwnerlessParams
    remediation = "Tag the server with owner=<team address>; ACME's runbook RB-12 says who."
    compliance = {"soc2-2017": ("CC7.2",)}

    def evaluate(self, view: InventoryView, params: OwnerlessParams) -> Iterator[Finding]:
        for server in view.of_type(*self.resource_types):
            if not view.observed(server):
                view.undecided(self.id, server.uid)  # unknown is not empty
            elif not server.tags.get(params.tag, "").strip():
                yield finding(
                    self,
                    server,
                    f"server {describe(server)} has no {params.tag} tag",
                    f"Tags: {', '.join(sorted(server.tags)) or 'none'}.",
                )
