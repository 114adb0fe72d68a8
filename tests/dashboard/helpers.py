"""Reading what a page shows, the way a user reads it."""

from __future__ import annotations

import pandas as pd
from streamlit.testing.v1 import AppTest


def metric(app: AppTest, label: str) -> int:
    """The value of the metric tile labelled `label`, as a number."""
    values = [m.value for m in app.metric if m.label == label]
    assert values, f"no metric {label!r}; shown: {[m.label for m in app.metric]}"
    return int(values[0].replace(",", ""))


def texts(app: AppTest) -> str:
    """Every info, success, warning, error and caption on the page, joined."""
    parts = [
        e.value
        for kind in ("info", "success", "warning", "error", "caption")
        for e in getattr(app, kind)
    ]
    return "\n".join(str(p) for p in parts)


def table(app: AppTest, having: str) -> pd.DataFrame:
    """The first table with a column named `having`."""
    for frame in app.dataframe:
        if having in frame.value.columns:
            return frame.value
    raise AssertionError(f"no table with a {having!r} column")


def set_widget(app: AppTest, key: str, value: object) -> AppTest:
    """Set the widget with `key` to `value` and rerun, as a user changing a filter."""
    app.session_state[key] = value
    return app.run()
