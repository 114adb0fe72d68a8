"""An SVG drawing shown inline in the page, its links live: the Topology page's graph.

st.markdown would show it too (`unsafe_allow_html`), but its Markdown pipeline turns every
SVG element into a React element in the browser (a lazily loaded HTML parser, then React),
which took about 0.15 s longer on a page of the Topology page's elements (2 cores). This
element, a Streamlit components-v2 element (no iframe), hands the browser the SVG text to
parse natively.

It sanitises nothing, like st.markdown's `unsafe_allow_html`, and innerHTML, though it never
runs a `<script>`, does run event-handler attributes and `javascript:` links: all of the
safety is vigil.app.drawing.clean_svg's, whose output alone may be passed here (SVG shapes,
text and presentation attributes from a fixed list, every text and attribute escaped, links
only through drawing.link: no handler, no script, no foreign markup).
"""

from __future__ import annotations

import streamlit as st

# Registered once per server process (this module is imported, the pages are re-run): a
# second registration under the same name would log a warning on every run. (Each mount
# registers it with a runtime that lacks it, e.g. each AppTest's.)
_ELEMENT = st.components.v2.component(
    "vigil.inline_svg",
    html='<div class="vigil-inline-svg"></div>',
    css=".vigil-inline-svg { width: 100%; overflow-x: auto; }",
    js="""
export default function ({ data, parentElement }) {
  parentElement.querySelector(".vigil-inline-svg").innerHTML = data;
}
""",
)


def show_clean_svg(svg: str, *, key: str) -> None:
    """Show `svg`, which must be vigil.app.drawing.clean_svg's output, in the page."""
    _ELEMENT(data=svg, key=key)
