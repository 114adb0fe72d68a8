"""Graphviz on the server: running `dot`, and untrusted text made safe for DOT and its SVG.

Both the reports' architecture diagrams and the dashboard's Topology page draw with the
`dot` program (Debian's `graphviz`), run with a timeout, and put its SVG inline in HTML.

What Graphviz does with DOT strings, measured with Graphviz 2.43 (`tests/app/test_drawing.py`):
it XML-escapes labels and tooltips (`<`, `>`, `"`, `&`) into the SVG, but passes entity
references through: a name `&#8238;` becomes a real right-to-left override in the drawing,
and `&lt;b&gt;` is drawn as `<b>`. `text` doubles every `&` to `&amp;` so that Graphviz
draws a name literally in every output format. A node's `URL` is written into the SVG's
`xlink:href` unescaped (a `"` would end the attribute): `link` accepts only a relative or
http(s) URL of URL-safe characters, as `urllib.parse.quote` writes them.

One quirk left as it is: in a tooltip (not a label) Graphviz 2.43 reads an escaped backslash
before `N` as its node-name escape and writes the node's id there; a tooltip is a uid, which
seldom holds a backslash.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET

import graphviz

from vigil.core.errors import VigilError

INSTALL_HINT = "install Graphviz (`apt-get install graphviz`, `brew install graphviz`)"
_SVG_PREAMBLE = re.compile(r"<\?xml.*?\?>|<!DOCTYPE[^>]*>|<!--.*?-->", re.DOTALL)
_SAFE_URL = re.compile(r"(?:https?://)?[A-Za-z0-9._~%/?=+:#-]*")
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")


class DrawingError(VigilError):
    """Graphviz is missing, failed or took too long."""


def text(value: str) -> str:
    """Untrusted text for a DOT string (label, tooltip): backslashes literal and never an
    HTML-like label (`graphviz.escape`: keep its result, a `str` marked `NoHtml`, as it is —
    `str()` of it would make `<b>x</b>` an HTML label again), and `&` as `&amp;`, so no entity
    reference reaches the drawing."""
    escaped: str = graphviz.escape(value.replace("&", "&amp;"))
    return escaped


def link(url: str) -> str:
    """`url` for a node's URL attribute; ValueError unless it is relative or http(s) and made
    of URL-safe characters only (Graphviz copies it into the SVG as it is)."""
    relative = _SCHEME.match(url) is None
    if not _SAFE_URL.fullmatch(url) or not (relative or url.startswith(("http:", "https:"))):
        raise ValueError(f"not a URL Graphviz can carry safely: {url!r}")
    return url


def render(source: str, fmt: str, *options: str, timeout: float) -> bytes:
    """Run Graphviz's `dot` on `source`; DrawingError when it is missing, fails or takes
    longer than `timeout` seconds."""
    program = shutil.which("dot")
    if program is None:
        raise DrawingError(f"Graphviz's `dot` was not found on PATH; {INSTALL_HINT}")
    try:
        done = subprocess.run(
            [program, f"-T{fmt}", *options],
            input=source.encode("utf-8"),
            capture_output=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise DrawingError(f"Graphviz took more than {timeout:g} s to draw") from None
    except OSError as exc:
        raise DrawingError(f"cannot run Graphviz ({program}): {exc.strerror}") from None
    if done.returncode != 0 or not done.stdout:
        problem = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise DrawingError(
            f"Graphviz exited with {done.returncode}: {problem[0] if problem else 'no output'}"
        )
    return done.stdout


def svg_element(drawn: bytes, attributes: str) -> str:
    """`dot -Tsvg`'s document as an `<svg>` element to inline in HTML (no prolog, doctype or
    comments), `attributes` (trusted, already escaped) added to its start tag."""
    element = _SVG_PREAMBLE.sub("", drawn.decode("utf-8")).strip()
    if not element.startswith("<svg"):
        raise DrawingError("Graphviz did not write an SVG document")
    return element.replace("<svg", f"<svg {attributes}", 1)


SVG_NS = "http://www.w3.org/2000/svg"
XLINK_NS = "http://www.w3.org/1999/xlink"
_ELEMENTS = frozenset(
    f"{{{SVG_NS}}}{name}"
    for name in ("svg", "g", "a", "polygon", "polyline", "path", "ellipse", "text")
)
"""What `dot -Tsvg` writes for boxes, ellipses, edges and labels. Not its `<title>`s: a
browser shows them on hover, and they hold Graphviz's names (`r1->r0`), not ours (a box's
tooltip is its link's `xlink:title`)."""
_ATTRIBUTES = frozenset(
    {
        "width", "height", "viewBox", "class", "transform", "points", "d", "cx", "cy",
        "rx", "ry", "x", "y", "fill", "fill-opacity", "stroke", "stroke-width",
        "stroke-opacity", "stroke-dasharray", "text-anchor", "font-family", "font-size",
        "font-weight", "font-style", "target", f"{{{XLINK_NS}}}title",
    }
)  # fmt: skip
_HREF = f"{{{XLINK_NS}}}href"
ET.register_namespace("", SVG_NS)
ET.register_namespace("xlink", XLINK_NS)


def clean_svg(drawn: bytes, **extra: str) -> str:
    """`dot -Tsvg`'s document rebuilt as an `<svg>` element to inline in HTML that nothing
    else sanitises (the dashboard's drawing): parsed as XML (DrawingError unless
    well-formed), only the SVG elements and presentation attributes Graphviz writes for a
    graph kept, links only through `link`, every text and attribute escaped again on the way
    out. `extra` attributes (`aria_label` for `aria-label`) go on the `<svg>` element."""
    try:
        # The only DTD Graphviz names is SVG 1.1's, by URL: expat never fetches it, and an
        # internal entity declaration would be drawn as text, not expanded into markup.
        root = ET.fromstring(drawn)
    except ET.ParseError as exc:
        raise DrawingError(f"Graphviz wrote SVG that is not well-formed XML: {exc}") from None
    if root.tag != f"{{{SVG_NS}}}svg":
        raise DrawingError("Graphviz did not write an SVG document")
    clean = _copy(root)
    for name, value in extra.items():
        clean.set(name.replace("_", "-"), value)
    return ET.tostring(clean, encoding="unicode")


def _copy(element: ET.Element) -> ET.Element:
    """`element` (an allowed SVG element) with its allowed attributes and children."""
    copy = ET.Element(element.tag)
    for key, value in element.attrib.items():
        if key in _ATTRIBUTES:
            copy.set(key, value)
        elif key == _HREF:
            with contextlib.suppress(ValueError):  # drawn, not linked
                copy.set(key, link(value))
    copy.text = element.text
    for child in element:
        if child.tag in _ELEMENTS:
            kept = _copy(child)
            kept.tail = child.tail
            copy.append(kept)
    return copy
