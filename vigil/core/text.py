"""Untrusted text made safe to show: resource names, tags and API strings on a terminal or page.

Cloud APIs hand back whatever their users typed. A tag holding an ANSI escape sequence can
recolour or retitle the terminal that prints it, and a bidirectional override (U+202E) makes
`exe.txt` read as `txt.exe`. Every renderer shows such characters as visible escapes instead;
what is stored stays exactly what the API said.
"""

from __future__ import annotations

import re

BIDI_CONTROLS = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
"""Marks and overrides that reorder how text around them reads."""
_UNSAFE = re.compile(f"[\\x00-\\x08\\x0b-\\x1f\\x7f-\\x9f{BIDI_CONTROLS}]")


def printable(text: str) -> str:
    """`text` with control and bidirectional-override characters shown as `\\uXXXX` escapes.

    Tab and newline stay (tables wrap, messages have lines); everything else a terminal or a
    renderer would act on instead of showing is escaped."""
    if not _UNSAFE.search(text):
        return text
    return _UNSAFE.sub(_escape, text)


def _escape(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"
