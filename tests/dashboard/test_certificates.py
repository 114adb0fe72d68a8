"""The certificates page: soonest expiry first, with where each was found, where it is bound
and served, and the unused ones."""

from __future__ import annotations

from storage.db import Database
from tests.dashboard.estate import Estate
from tests.dashboard.helpers import metric, table, texts
from tests.factories.storage import certificate_estate
from vigil.core.model import utcnow


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


def test_where_each_certificate_is_bound_and_served_and_which_are_unused(
    open_page, sqlite_db: Database
) -> None:
    made = certificate_estate(sqlite_db, utcnow())

    app = open_page("views/certificates.py")

    assert metric(app, "Unused") == 1
    shown = table(app, "days_left").set_index("native_id")
    bound = shown.loc[made["bound"].native_id]
    assert (bound["bound_to"], bound["served_at"]) == ("load_balancer web", "www.example.com:443")
    assert shown.loc[made["elsewhere"].native_id]["served_at"] == "old.example.com:443"
    assert shown.loc[made["spare"].native_id]["bound_to"] == ""
    unused = [frame.value for frame in app.dataframe if "days_left" not in frame.value.columns]
    assert [frame["native_id"].tolist() for frame in unused] == [[made["spare"].native_id]]
    assert "Unused certificates" in [header.value for header in app.subheader]


def test_no_unused_certificate_says_so(open_page, estate: Estate) -> None:
    # The seeded ACM certificates do not say where ACM uses them: unknown, never unused.
    app = open_page("views/certificates.py")
    assert metric(app, "Unused") == 0
    assert "None: every ACM certificate is bound or served somewhere" in texts(app)
