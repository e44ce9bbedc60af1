"""What the intervals table accepted, read from its DynamoDB Stream, turned into Changes and acted on.

Every door writes the intervals table; this one place (a) marks the touched 15-minute buckets
dirty for the rollup job, (b) hands the changes to the lake and (c) -- after both, in the
`changes` function -- they are fanned out to live subscribers (watershed.services.live, posted by
watershed.api.websocket). A REMOVE made by TTL is retention: it neither dirties rollups nor
reaches the lake as a delete.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from watershed.model import Change
from watershed.store import catalog
from watershed.store import rollups as store
from watershed.store.intervals import decode_value

log = logging.getLogger(__name__)
BASE_MS = store.BASE_MS
TTL_PRINCIPAL = "dynamodb.amazonaws.com"


@dataclass(frozen=True)
class Owner:
    """Where a stream sits; never changes for the life of a stream, so it is cached per container."""

    org: str
    pool: str
    station: str
    deleted: bool


_owners: dict[str, Owner] = {}


def owner(stream_id: str) -> Owner | None:
    """The stream's org/pool/station, from its catalog item or, once deleted, its tombstone."""
    found = _owners.get(stream_id)
    if found is not None:
        return found
    doc = catalog.get("stream", stream_id)
    deleted = doc is None
    if doc is None:
        doc = store.deleted_stream(stream_id)
    if doc is None:
        return None
    found = Owner(doc["org"], doc["pool"], doc["station"], deleted)
    if deleted:
        _owners[stream_id] = found
    else:
        _owners.setdefault(stream_id, found)
    return found


def _is_ttl_removal(record: dict[str, Any]) -> bool:
    identity = record.get("userIdentity") or {}
    return identity.get("type") == "Service" and identity.get("principalId") == TTL_PRINCIPAL


def change_of(record: dict[str, Any]) -> Change | None:
    """The Change one stream record stands for; None for records that change nothing we track.

    Skipped: a MODIFY whose images are equal (moto emits them, DynamoDB does not), a TTL
    removal (retention), and a record of a stream nobody can place (logged).
    """
    event = record["eventName"]
    body = record["dynamodb"]
    if event == "MODIFY" and body.get("OldImage") == body.get("NewImage"):
        return None
    if event == "REMOVE" and _is_ttl_removal(record):
        return None
    stream_id = body["Keys"]["pk"]["S"]
    where = owner(stream_id)
    if where is None:
        log.warning("stream record of unknown stream %s skipped", stream_id)
        return None
    put = event in ("INSERT", "MODIFY")
    image = body.get("NewImage" if put else "OldImage") or {}
    value = decode_value(image["v"]["S"]) if "v" in image else None
    return Change(
        org=where.org, pool=where.pool, station=where.station, stream=stream_id,
        ts=int(body["Keys"]["sk"]["N"]), value=value, op="put" if put else "delete",
        at=int(float(body.get("ApproximateCreationDateTime", 0)) * 1000),
    )


def dirty_buckets(changes: Iterable[Change]) -> set[tuple[str, int]]:
    """(stream, 15m bucket start) pairs to recompute; deleted streams are not re-aggregated."""
    return {
        (c.stream, c.ts - c.ts % BASE_MS)
        for c in changes
        if not _owners.get(c.stream, Owner("", "", "", False)).deleted
    }


def apply(changes: Sequence[Change]) -> int:
    """Act on a batch's changes, in stream order; returns how many buckets were marked dirty."""
    marked = store.mark_dirty(dirty_buckets(changes)) if changes else 0
    _deliver_to_lake(changes)
    return marked


def _deliver_to_lake(changes: Sequence[Change]) -> None:
    """Through watershed.services.lake when it is part of the layer (it comes with the S3 issue)."""
    if not changes:
        return
    try:
        from watershed.services import lake
    except ModuleNotFoundError as exc:
        if exc.name != "watershed.services.lake":
            raise
        return
    lake.deliver(list(changes))
