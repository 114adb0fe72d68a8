"""Compliance mappings: which framework controls a rule's finding is evidence against."""

from __future__ import annotations

from collections.abc import Mapping

Controls = Mapping[str, tuple[str, ...]]
"""framework id → the ids of the controls a rule tests."""
