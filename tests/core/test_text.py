"""Untrusted text shown safely: no control or bidi-override character reaches a renderer."""

from __future__ import annotations

import unicodedata

from hypothesis import given
from hypothesis import strategies as st

from vigil.core.text import BIDI_CONTROLS, printable


def reaches_renderer(char: str) -> bool:
    return char in BIDI_CONTROLS or (unicodedata.category(char) == "Cc" and char not in "\t\n")


@given(st.text())
def test_nothing_a_terminal_acts_on_survives(text: str) -> None:
    shown = printable(text)
    assert not any(reaches_renderer(c) for c in shown)
    if not any(reaches_renderer(c) for c in text):
        assert shown == text  # ordinary text, any script, is shown as it is


def test_escapes_are_visible_and_name_the_character() -> None:
    assert printable("invoice\u202efdp.exe") == "invoice\\u202efdp.exe"
    assert printable("\x1b]0;pwned\x07web-1") == "\\u001b]0;pwned\\u0007web-1"
    assert printable("données-ß-東京\tok") == "données-ß-東京\tok"
