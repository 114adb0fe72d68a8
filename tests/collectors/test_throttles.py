"""Throttling answers count for the process and for the scope they were received in, the
scope's detail threads included."""

from __future__ import annotations

import threading

from collectors import throttles
from collectors.aws.details import each


def test_a_scope_counts_the_answers_of_its_detail_threads_and_not_of_others() -> None:
    def describe(_: int) -> None:
        throttles.note("src", "acm", "DescribeCertificate")

    elsewhere = threading.Thread(target=throttles.note, args=("src", "ec2", "DescribeVolumes"))
    before = throttles.process_counts()
    with throttles.counting() as scope:
        each(describe, list(range(12)), workers=4)  # on the pool's threads
        throttles.note("src", "acm", "ListCertificates")  # on the scope's own thread
        elsewhere.start()  # another thread, not working for the scope
        elsewhere.join()

    assert scope.counts() == {"acm:DescribeCertificate": 12, "acm:ListCertificates": 1}
    after = throttles.process_counts()
    assert (
        after[("src", "acm", "DescribeCertificate")]
        == before.get(("src", "acm", "DescribeCertificate"), 0) + 12
    )
    assert (
        after[("src", "ec2", "DescribeVolumes")]
        == before.get(("src", "ec2", "DescribeVolumes"), 0) + 1
    )


def test_answers_counted_by_another_process_add_to_this_ones() -> None:
    key = ("other", "route53", "ListResourceRecordSets")
    before = throttles.process_counts().get(key, 0)
    throttles.add_counted_elsewhere("other", {"route53:ListResourceRecordSets": 4})
    assert throttles.process_counts()[key] == before + 4
