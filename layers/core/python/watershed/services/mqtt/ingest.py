"""MQTT data messages: the valid items of a message are stored, the rest dead-lettered with reasons."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from watershed.errors import NotFound, ValidationError, WatershedError
from watershed.model import Interval, StreamType
from watershed.services import catalog as cat
from watershed.services import ingest
from watershed.services.mqtt import dead_letters, events
from watershed.services.mqtt.items import DataItem, Rejected
from watershed.store import catalog as store


def infer_type(value: Any) -> StreamType | None:
    """The stream type an auto-created stream gets from its first value."""
    if isinstance(value, bool):
        return StreamType.BOOLEAN
    if isinstance(value, int):
        return StreamType.INTEGER
    if isinstance(value, float):
        return StreamType.FLOAT
    if isinstance(value, str):
        return StreamType.STRING
    if isinstance(value, dict) and {"lat", "lon"} <= set(value) <= {"lat", "lon", "alt"}:
        return StreamType.COORDINATE
    if isinstance(value, dict | list):
        return StreamType.JSON
    return None


@dataclass
class IngestResult:
    """What one data message did: intervals stored, streams created, items dead-lettered."""

    stored: int = 0
    created_streams: list[str] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return {"stored": self.stored, "createdStreams": self.created_streams, "rejected": len(self.rejected)}


def _catalog_docs(keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], dict[str, Any]]:
    """Several catalog items in one consistent BatchGetItem, by (pk, sk); absent ones are missing."""
    from watershed.store.tables import CatalogItem

    unique = list(dict.fromkeys(keys))
    if not unique:
        return {}
    found = CatalogItem.batch_get(unique, consistent_read=True)
    return {(item.pk, item.sk): dict(item.doc or {}) for item in found}


def _station_key(station_id: str) -> tuple[str, str]:
    return store.entity_pk("station", station_id), store.META


def _guard_key(station_id: str, bucket: str, alias: str) -> tuple[str, str]:
    return cat.alias_guard(station_id, bucket, alias), store.GUARD


class _Streams:
    """The streams one message names, looked up together: two BatchGetItem for any number of aliases.

    Round one reads the station and the alias guards, round two the streams they point to (and
    the pool, only when an alias is unknown and auto-creation must be asked). Nothing outlives
    the invocation, so a stream deleted between two messages is never written again.
    """

    def __init__(self, station_id: str, bucket: str, aliases: Iterable[str]) -> None:
        self.bucket = bucket
        self.created: list[str] = []
        self.by_alias: dict[str, Any] = {}
        wanted = {alias: _guard_key(station_id, bucket, alias) for alias in aliases}
        first = _catalog_docs([_station_key(station_id), *wanted.values()])
        station = first.get(_station_key(station_id))
        if station is None:
            raise NotFound(f"station {station_id!r} not found", "station")
        self.station = station
        stream_keys = {
            alias: (store.entity_pk("stream", first[key]["stream"]), store.META)
            for alias, key in wanted.items()
            if key in first
        }
        pool_key = (store.entity_pk("pool", station["pool"]), store.META)
        unknown = len(stream_keys) < len(wanted)
        second = _catalog_docs([*stream_keys.values(), *([pool_key] if unknown else [])])
        for alias, key in stream_keys.items():
            if key in second:
                self.by_alias[alias] = cat.stream_from_doc(second[key])
        self._pool: dict[str, Any] | None = second.get(pool_key, {}) if unknown else None

    @property
    def auto_create(self) -> bool:
        if self._pool is None:
            self._pool = store.get("pool", self.station["pool"]) or {}
        return bool(self._pool.get("autoCreateStreams"))

    def get(self, item: DataItem) -> Any:
        stream = self.by_alias.get(item.alias)
        if stream is None:
            stream = cat.stream_from_doc(self._create(item))
            self.by_alias[item.alias] = stream
        return stream

    def _create(self, item: DataItem) -> dict[str, Any]:
        if not self.auto_create:
            raise ValidationError(
                f"no stream with alias '{item.alias}' in bucket '{self.bucket}', and the pool does not "
                "auto-create streams",
                f"[{item.index}].id",
            )
        stream_type = infer_type(item.value)
        if stream_type is None:
            raise ValidationError("cannot infer a stream type from this value", f"[{item.index}].value")
        body = {"name": item.alias, "alias": item.alias, "type": stream_type.value, "bucket": self.bucket}
        try:
            doc = cat.create_stream_in(self.station, body)
        except WatershedError:
            found = cat.find_stream_by_alias(self.station["id"], self.bucket, item.alias)
            if found is None:
                raise
            return found
        self.created.append(doc["id"])
        return doc


def refuse(event: dict[str, Any], error: WatershedError, function: str | None = None) -> IngestResult:
    """A message none of which can be stored (unreadable payload, unknown station): dead-lettered whole."""
    dead_letters.send(dead_letters.letter(event, error.message, function))
    return IngestResult(rejected=[Rejected(-1, None, error.message)])


def ingest_items(
    event: dict[str, Any], items: list[DataItem], rejected: list[Rejected], function: str | None = None
) -> IngestResult:
    """Store the items of one data message (read from its payload by the device's protocol
    module); dead-letter the rest with their reasons.

    `function` is the name of the function running this, kept in dead letters for re-drives.
    """
    result = IngestResult()
    station_id = str(event.get("station") or "")
    bucket = str(event.get("bucket") or "")
    received_at = events.received_at(event)
    try:
        if not station_id:
            raise NotFound("the topic names no station", "station")
        streams = _Streams(station_id, bucket, (item.alias for item in items))
    except WatershedError as error:
        return refuse(event, error, function)
    rejected = list(rejected)
    points: dict[str, tuple[Any, dict[int, Interval]]] = {}
    for item in items:
        try:
            stream = streams.get(item)
            value = ingest.check_value(stream.type, item.value, f"[{item.index}].value")
        except WatershedError as error:
            rejected.append(Rejected(item.index, _raw(item), error.message, error.field))
            continue
        timestamp = item.timestamp if item.timestamp is not None else received_at
        points.setdefault(stream.id, (stream, {}))[1][timestamp] = Interval(timestamp, value)
    for stream, by_time in points.values():
        result.stored += ingest.write(stream, list(by_time.values()))
    result.created_streams = streams.created
    result.rejected = rejected
    if rejected:
        reason = f"{len(rejected)} item(s) could not be stored"
        dead_letters.send(dead_letters.letter(event, reason, function, rejected))
    return result


def _raw(item: DataItem) -> dict[str, Any]:
    raw: dict[str, Any] = {"id": item.alias, "value": item.value}
    if item.timestamp is not None:
        raw["timestamp"] = item.timestamp
    return raw
