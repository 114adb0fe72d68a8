"""Where certificates are bound and served, and which ACM certificates are unused."""

from __future__ import annotations

from storage.certificate_usage import certificate_usage
from storage.db import Database
from storage.reconcile import Reconciler
from tests.factories.storage import certificate_estate, scan
from vigil.core.model import Scope, utcnow


def test_bound_served_and_unused_certificates(db: Database) -> None:
    made = certificate_estate(db, utcnow())

    usage = {u.uid: u for u in certificate_usage(db)}

    bound = usage[made["bound"].uid]
    assert (bound.bound_to, bound.served_at, bound.unused) == (
        ("load_balancer web",),
        ("www.example.com:443",),
        False,
    )
    # Bound nowhere, served nowhere (the unreachable probe's serial is only its last known
    # one), and ACM says in use by nothing: unused.
    spare = usage[made["spare"].uid]
    assert (spare.bound_to, spare.served_at, spare.unused) == ((), (), True)
    # ACM did not say where it is used: unknown, not unused.
    assert usage[made["unknown"].uid].unused is False
    # Bound to nothing Vigil knows, but a probe saw it served: not unused.
    elsewhere = usage[made["elsewhere"].uid]
    assert (elsewhere.served_at, elsewhere.unused) == (("old.example.com:443",), False)
    assert [u.native_id for u in usage.values() if u.unused] == [made["spare"].native_id]
    # A probed certificate is where it was served.
    assert usage[made["probe_www"].uid].served_at == ("www.example.com:443",)
    assert usage[made["probe_www"].uid].unused is False


def test_a_load_balancer_gone_binds_nothing_any_more(db: Database) -> None:
    made = certificate_estate(db, utcnow())
    lb = made["lb"]
    where = Scope(lb.source, lb.provider, lb.account, lb.region, lb.type)
    scan(Reconciler(db, clock=utcnow), where, [[]])  # a completed scan without it: deleted

    usage = {u.uid: u for u in certificate_usage(db)}

    # ACM's own in_use_by still names the load balancer: that is what is shown then.
    assert usage[made["bound"].uid].bound_to == (made["lb"].native_id,)
