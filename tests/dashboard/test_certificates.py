"""The certificates page: soonest expiry first, with where each was found."""

from __future__ import annotations

from tests.dashboard.estate import Estate
from tests.dashboard.helpers import metric, table


def test_sorted_by_expiry_with_counts(open_page, estate: Estate) -> None:
    app = open_page("views/certificates.py")
    assert metric(app, "Certificates") == 4
    assert metric(app, "Expired") == 1
    assert metric(app, "Expiring in 7 days") == 1
    assert metric(app, "Expiring in 30 days") == 2
    shown = table(app, "days_left")
    assert shown["name"].tolist() == [f"c{i}.example.com" for i in range(4)]
    assert set(shown["origin"]) == {"acm"} and set(shown["source"]) == {"aws-test"}
    assert app.get("arrow_vega_lite_chart") or app.get("vega_lite_chart")  # the timeline
