"""Canonical JSON and the content digest made from it: how ingest tells "changed" from "same".

A record's tags and attributes are encoded once per scan as canonical JSON (sorted keys, no
spaces: equal values give equal text); the text is both stored and hashed, so a rescan in which
nothing moved hashes equal and writes no row. Encoding is the ingest path's largest cost, which
is why the encoder below is built once instead of on every call.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

_CANONICAL = json.JSONEncoder(sort_keys=True, default=str, separators=(",", ":"))
# The C encoder JSONEncoder.encode builds on every call, built once: encoding is the ingest
# path's largest cost. Same arguments, same text; without markers a cycle is a RecursionError
# instead of a ValueError, and records are trees.
_C_ENCODE = getattr(json.encoder, "c_make_encoder", None)
_CANONICAL_C = (
    _C_ENCODE(
        None,
        _CANONICAL.default,
        json.encoder.encode_basestring_ascii,
        None,
        _CANONICAL.key_separator,
        _CANONICAL.item_separator,
        True,
        False,
        True,
    )
    if _C_ENCODE is not None
    else None
)


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no spaces: equal values give equal text."""
    if _CANONICAL_C is None:
        return _CANONICAL.encode(value)
    return "".join(_CANONICAL_C(value, 0))


def content_digest(name: str, tags_json: str, attributes_json: str) -> str:
    """The digest a change is measured on: name, canonical tags and canonical attributes."""
    content = f"{name}\x00{tags_json}\x00{attributes_json}\x00".encode()
    return hashlib.blake2b(content, digest_size=16).hexdigest()
