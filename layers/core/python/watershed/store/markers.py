"""The dirty markers' layout in the catalog table, shared by the writers of intervals and the rollups.

`pk = DIRTY#<shard>`, `sk = <stream>#<15m bucket start, 13 digits>`, `t` = a token that changes
with every mark (see store.rollups, which reads and clears them).
"""

from __future__ import annotations

import uuid
import zlib
from collections.abc import Iterable
from typing import Any

SHARDS = 8
"""Sharding spreads the markers of busy streams over several partitions."""


def shard(stream_id: str) -> int:
    return zlib.crc32(stream_id.encode()) % SHARDS


def marker_key(stream_id: str, bucket: int) -> dict[str, Any]:
    return {"pk": {"S": f"DIRTY#{shard(stream_id)}"}, "sk": {"S": f"{stream_id}#{bucket:013d}"}}


def marker_puts(buckets: Iterable[tuple[str, int]]) -> list[dict[str, Any]]:
    """The PutRequests that mark (stream, 15m bucket start) pairs dirty, with a fresh token.

    For the catalog table; the intervals repository sends them in its own BatchWriteItem calls so a
    push's buckets are dirty by the time it answers (read-your-writes for aggregates).
    """
    token = uuid.uuid4().hex
    return [
        {"PutRequest": {"Item": {**marker_key(stream, bucket), "kind": {"S": "dirty"}, "t": {"S": token}}}}
        for stream, bucket in sorted(set(buckets))
    ]
