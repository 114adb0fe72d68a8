"""Graphviz on the server: names drawn literally, links that cannot break out, SVG rebuilt with
shapes and text only, `dot` missing or slow said in one sentence. Real `dot`, no stand-in."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import graphviz
import pytest

from tests.fixtures.services import require_service
from vigil.app import drawing
from vigil.app.drawing import DrawingError

SVG = "{http://www.w3.org/2000/svg}"
XLINK = "{http://www.w3.org/1999/xlink}"


@pytest.fixture(autouse=True)
def dot() -> str:
    return require_service("dot")


def _drawn(label: str, **attributes: str) -> ET.Element:
    graph = graphviz.Digraph()
    graph.node("a", label=drawing.text(label), **attributes)
    return ET.fromstring(drawing.clean_svg(drawing.render(graph.source, "svg", timeout=10)))


def _texts(root: ET.Element) -> list[str]:
    return [text.text or "" for text in root.iter(f"{SVG}text")]


@pytest.mark.parametrize(
    "name",
    [
        "&#8238;fdp.exe",  # an entity Graphviz would decode into a real right-to-left override
        "&lt;b&gt;x&lt;/b&gt;",  # drawn as "<b>x</b>" without the doubling
        "AT&T &amp; co",
        "<b>x</b>",  # would be an HTML-like label if the NoHtml mark were lost
        '<script>alert(1)</script>" onload="alert(2)',
        "back\\N\\slash\\",  # \N: the node's id; a trailing backslash escapes the quote
    ],
)
def test_a_name_is_drawn_exactly_as_written(name: str) -> None:
    root = _drawn(name, tooltip=drawing.text(name))

    assert _texts(root) == [name]
    (anchor,) = root.iter(f"{SVG}a")
    if "\\" not in name:  # Graphviz 2.43 reads `\\N` in a tooltip as `\N`: the node's id
        assert anchor.get(f"{XLINK}title") == name
    assert not [e for e in root.iter() if e.tag in (f"{SVG}script", f"{SVG}b")]


@pytest.mark.parametrize(
    "url",
    ["inventory?uid=aws%2F111111111111%2Fus-east-1%2Fserver%2Fi-1", "https://example.com/a#b"],
)
def test_a_safe_link_is_kept(url: str) -> None:
    assert drawing.link(url) == url
    root = _drawn("box", URL=drawing.link(url))
    (anchor,) = root.iter(f"{SVG}a")
    assert anchor.get(f"{XLINK}href") == url


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "JavaScript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        'inventory?uid=x"><script>alert(1)</script>',  # Graphviz copies a URL unescaped
        "inventory?uid=a&b",
        "inventory?uid=a b",
    ],
)
def test_a_link_that_could_break_out_is_refused(url: str) -> None:
    with pytest.raises(ValueError, match="not a URL Graphviz can carry safely"):
        drawing.link(url)


def test_graphviz_output_is_rebuilt_with_shapes_text_and_safe_links_only() -> None:
    hostile = (
        b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" '
        b'xmlns:xlink="http://www.w3.org/1999/xlink" width="10pt" onload="alert(1)">\n'
        b'<g class="node"><script>alert(2)</script><a xlink:href="javascript:alert(3)" '
        b'xlink:title="t" onclick="alert(4)"><polygon fill="red" points="0,0 1,1"/>'
        b"<text>name<tspan>x</tspan></text></a></g>\n\n"
        b'<foreignObject><div xmlns="http://www.w3.org/1999/xhtml">x</div></foreignObject>'
        b'<a xlink:href="inventory?uid=ok"><text>ok</text></a></svg>'
    )

    text = drawing.clean_svg(hostile, aria_label="Topology graph")

    root = ET.fromstring(text)
    assert {e.tag.rpartition("}")[2] for e in root.iter()} == {
        "svg", "g", "a", "polygon", "text",
    }  # fmt: skip
    assert not [name for e in root.iter() for name in e.attrib if name.startswith("on")]
    assert [a.get(f"{XLINK}href") for a in root.iter(f"{SVG}a")] == [None, "inventory?uid=ok"]
    assert root.get("aria-label") == "Topology graph" and root.get("width") == "10pt"
    assert _texts(root) == ["name", "ok"]


@pytest.mark.parametrize(
    ("drawn", "said"),
    [
        (b"<svg xmlns='http://www.w3.org/2000/svg'><a href='x\"'></svg>", "not well-formed"),
        (b"<html><body>x</body></html>", "did not write an SVG document"),
    ],
)
def test_output_that_is_no_svg_document_is_refused(drawn: bytes, said: str) -> None:
    with pytest.raises(DrawingError, match=said):
        drawing.clean_svg(drawn)


def test_without_dot_on_path_the_error_says_how_to_install_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(DrawingError, match=r"`dot` was not found on PATH; install Graphviz"):
        drawing.render("digraph { a }", "svg", timeout=10)


def test_a_drawing_over_its_time_is_stopped_and_said() -> None:
    edges = " ".join(f"n{i} -> n{(i * 7919) % 3000};" for i in range(3000))
    with pytest.raises(DrawingError, match=r"Graphviz took more than 0.05 s to draw"):
        drawing.render(f"digraph {{ {edges} }}", "svg", timeout=0.05)


def test_dot_failing_is_said_with_its_first_line() -> None:
    with pytest.raises(DrawingError, match=r"Graphviz exited with 1: .*syntax error"):
        drawing.render("digraph { a -> }", "svg", timeout=10)


def test_graphvizs_own_names_are_not_kept_for_a_browser_to_show_on_hover() -> None:
    graph = graphviz.Digraph()
    graph.node("n0", label="web", tooltip="the uid")
    graph.edge("n0", "n1")
    root = ET.fromstring(drawing.clean_svg(drawing.render(graph.source, "svg", timeout=10)))

    assert not list(root.iter(f"{SVG}title"))  # `n0`, `n0->n1`: Graphviz's names, not ours
    assert not [e for e in root.iter() if "id" in e.attrib]
    classes = [g.get("class") for g in root.iter(f"{SVG}g") if g.get("class")]
    assert classes == ["graph", "node", "node", "edge"]  # what pages and tests find boxes by
    assert _texts(root) == ["web", "n1"]
