"""Pages cut from a stream of resources, for sources whose client libraries return whole lists
(libcloud drivers page internally) or that build every resource at once (probes, hosts)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import islice

from vigil.core.model import Resource

PAGE_SIZE = 500


def chunked(resources: Iterable[Resource], size: int = PAGE_SIZE) -> Iterator[list[Resource]]:
    """`resources` as consecutive pages of at most `size` (no empty page), read lazily."""
    if size < 1:
        raise ValueError(f"page size must be at least 1, not {size}")
    stream = iter(resources)
    while page := list(islice(stream, size)):
        yield page
