"""Alembic's history stays one line: several engineers add migrations in parallel."""

from __future__ import annotations

from alembic.script import ScriptDirectory

from storage.db import MIGRATIONS, alembic_config


def test_history_has_exactly_one_head() -> None:
    heads = ScriptDirectory.from_config(alembic_config()).get_heads()
    assert len(heads) == 1, (
        f"migrations in {MIGRATIONS} have {len(heads)} heads {sorted(heads)}: "
        "rebase the newer one onto the other (set its down_revision), or `alembic merge`"
    )


def test_history_has_exactly_one_base() -> None:
    bases = ScriptDirectory.from_config(alembic_config()).get_bases()
    assert bases == ["0001"], f"a migration starts a second history: {bases}"
