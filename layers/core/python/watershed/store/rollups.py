"""Rollups repository: aggregate buckets per (stream, period)."""

from __future__ import annotations

from watershed.store.tables import RollupItem

PERIODS = ("15m", "1h", "1d", "1mo")


def delete_stream(stream_id: str) -> int:
    """Remove every rollup of a deleted stream."""
    removed = 0
    with RollupItem.batch_write() as batch:
        for period in PERIODS:
            for item in RollupItem.query(f"{stream_id}#{period}", attributes_to_get=["pk", "sk"]):
                batch.delete(item)
                removed += 1
    return removed
