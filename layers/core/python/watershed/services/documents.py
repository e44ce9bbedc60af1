"""JSON documents in a `json` stream: Custom Stream's datasets (insert-only, `_id`, Mongo filters).

A document is one interval whose timestamp is its arrival in ms, made unique within the stream:
a write reserves as many consecutive milliseconds as it has documents from an atomic counter
(from now, or after the last reservation), so two documents of the same millisecond are both
kept and a batch keeps its order. `_timestamp` is that key
in seconds, so a filter bounding `_timestamp` reads only that key range. Each `_id` is a guard
item naming its document's timestamp: a look-up by `_id` is one GetItem, a duplicate a 409.
"""

from __future__ import annotations

import math
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from watershed.errors import Conflict, NotFound, Unavailable, ValidationError
from watershed.model import Interval, Principal, Stream, StreamType
from watershed.services import catalog as cat
from watershed.services import ingest, natural
from watershed.store import catalog as store
from watershed.store import intervals
from watershed.timefmt import now_ms

POOL_KEY = "customstream"
STATION_KEY = "datasets"
MAX_ID_BYTES = 512
MAX_DOCS = 10_000
ANNOTATIONS = ("_datasetid", "_timestamp", "_timestamp_year", "_timestamp_month", "_timestamp_day",
               "_timestamp_hour", "_timestamp_minute", "_timestamp_second")


def dataset(principal: Principal, uuid: str, create: bool) -> Stream:
    """A dataset: the json stream with this id, or with this alias in the organisation's dataset
    station (pool key `customstream`, station key `datasets`), created on a first write."""
    if len(uuid.encode()) > 128:
        raise NotFound("Dataset not found", "uuid")
    doc = cat.get_stream_any(uuid)
    if doc is not None and doc.get("org") == principal.org and principal.may_see_pool(doc["pool"]):
        if doc["type"] != StreamType.JSON.value:
            raise ValidationError("this stream is not a json stream, so it cannot hold documents", "uuid")
        return cat.stream_from_doc(doc)
    try:
        pool = natural.pool(principal, POOL_KEY, create, "Custom Stream datasets")
        station = natural.station(principal, pool, STATION_KEY, create)
        found = natural.stream(station, uuid, StreamType.JSON.value if create else None)
    except NotFound:
        raise NotFound("Dataset not found", "uuid") from None
    if found["type"] != StreamType.JSON.value:
        raise ValidationError("this stream is not a json stream, so it cannot hold documents", "uuid")
    return cat.stream_from_doc(found)


def _guard(stream: Stream, doc_id: str) -> str:
    return f"DOCID#{stream.id}#{doc_id}"


def new_id() -> str:
    """A 24-hex id like a MongoDB ObjectId: 4 bytes of seconds, 8 random bytes."""
    return f"{int(now_ms() // 1000):08x}{secrets.token_hex(8)}"


def annotate(stream_key: str, doc: dict[str, Any], ts: int) -> dict[str, Any]:
    """The document with the server's annotations (UTC, from its key), replacing client values."""
    at = datetime.fromtimestamp(ts / 1000, tz=UTC)
    return {**{k: v for k, v in doc.items() if k not in ANNOTATIONS}, "_datasetid": stream_key,
            "_timestamp": ts // 1000, "_timestamp_year": at.year, "_timestamp_month": at.month,
            "_timestamp_day": at.day, "_timestamp_hour": at.hour, "_timestamp_minute": at.minute,
            "_timestamp_second": at.second}


def _doc_id(doc: dict[str, Any], field: str) -> str:
    if "_id" not in doc or doc["_id"] is None:
        return new_id()
    value = doc["_id"]
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValidationError("_id must be a string or a number", f"{field}._id")
    text = value if isinstance(value, str) else str(value)
    if not text or len(text.encode()) > MAX_ID_BYTES:
        raise ValidationError(f"_id must be 1 to {MAX_ID_BYTES} bytes", f"{field}._id")
    return text


def insert(stream: Stream, uuid: str, docs: list[Any]) -> list[dict[str, Any]]:
    """Store documents as given (each a JSON object), all or none; a taken `_id` is a 409."""
    if len(docs) > MAX_DOCS:
        raise ValidationError(f"at most {MAX_DOCS} documents per request", None)
    prepared: list[tuple[str, dict[str, Any]]] = []
    given: list[str] = []
    for i, doc in enumerate(docs):
        field = f"[{i}]" if len(docs) > 1 else "body"
        if not isinstance(doc, dict):
            raise ValidationError("each document must be a JSON object", field)
        doc_id = _doc_id(doc, field)
        if doc.get("_id") is not None:
            if doc_id in given:
                raise Conflict(f"duplicate _id {doc_id}", f"{field}._id")
            given.append(doc_id)
        ingest.check_value(StreamType.JSON, doc, field)
        prepared.append((doc_id, doc))
    _claim(stream, given)
    base = intervals.reserve(stream.id, len(prepared), now_ms())
    stored = [annotate(uuid, {**doc, "_id": doc_id}, base + i) for i, (doc_id, doc) in enumerate(prepared)]
    locations = {_guard(stream, doc_id): (stream.org, {"ts": base + i, "field": "_id"})
                 for i, (doc_id, _) in enumerate(prepared)}
    try:
        ingest.write(stream, [Interval(base + i, doc) for i, doc in enumerate(stored)])
    except Unavailable:
        store.delete_items([(_guard(stream, doc_id), store.GUARD) for doc_id in given])
        raise
    store.put_guards(locations)
    return stored


def _claim(stream: Stream, doc_ids: list[str]) -> None:
    """Take the client-given `_id`s (one conditional put each), or none of them: a taken one is a 409.

    Generated ids need no claim: 64 random bits each, their guards are plain batched puts.
    """
    if not doc_ids:
        return
    names = [_guard(stream, doc_id) for doc_id in doc_ids]
    taken = store.guards_taken(names)
    if taken:
        raise Conflict(f"a document with _id {taken[0][len(_guard(stream, '')):]} exists", "_id")
    claimed: list[str] = []
    for name in names:
        if not store.create_guard(name, stream.org, {"ts": None, "field": "_id"}):
            store.delete_items([(n, store.GUARD) for n in claimed])
            raise Conflict(f"a document with _id {name[len(_guard(stream, '')):]} exists", "_id")
        claimed.append(name)


def _located(stream: Stream, doc_id: str) -> int | None:
    """The timestamp of the document with this `_id`: one GetItem on its guard."""
    guard = store.get_lookup(_guard(stream, doc_id))
    return None if guard is None or guard.get("ts") is None else int(guard["ts"])


def get(stream: Stream, doc_id: str) -> dict[str, Any] | None:
    ts = _located(stream, doc_id)
    found = None if ts is None else intervals.get_at(stream.id, ts)
    return None if found is None else dict(found.value)


def replace(stream: Stream, uuid: str, doc_id: str, doc: Any) -> bool:
    """Replace the document with this `_id` (annotated anew, `_updated: true`, so it moves to now);
    True if it existed, else it is inserted with this `_id`."""
    if not isinstance(doc, dict):
        raise ValidationError("the document must be a JSON object", "body")
    old = _located(stream, doc_id)
    if old is None:
        insert(stream, uuid, [{**doc, "_id": doc_id}])
        return False
    ingest.check_value(StreamType.JSON, doc, "body")
    ts = intervals.reserve(stream.id, 1, now_ms())
    ingest.write(stream, [Interval(ts, annotate(uuid, {**doc, "_id": doc_id, "_updated": True}, ts))])
    store.put_guards({_guard(stream, doc_id): (stream.org, {"ts": ts, "field": "_id"})})
    intervals.delete_at(stream.id, old)
    return True


def delete(stream: Stream, doc_id: str) -> bool:
    """Delete the document with this `_id`; False when there was none."""
    ts = _located(stream, doc_id)
    if ts is None:
        return False
    intervals.delete_at(stream.id, ts)
    store.delete_items([(_guard(stream, doc_id), store.GUARD)])
    return True


# queries: a MongoDB filter over documents

OPERATORS = ("$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$in", "$nin", "$exists", "$not")
LOGICAL = ("$and", "$or")
DEFAULT_LIMIT = 100


def check_filter(query: Any, field: str = "query") -> dict[str, Any]:
    """The filter, refused (400) where it uses an operator Watershed does not evaluate."""
    if not isinstance(query, dict):
        raise ValidationError("the query must be a JSON object", field)
    for name, value in query.items():
        if name in LOGICAL:
            if not isinstance(value, list) or not value:
                raise ValidationError(f"{name} takes a non-empty array of filters", f"{field}.{name}")
            for i, part in enumerate(value):
                check_filter(part, f"{field}.{name}[{i}]")
        elif name.startswith("$"):
            raise ValidationError(f"unsupported operator {name}", f"{field}.{name}")
        elif _is_operators(value):
            _check_operators(value, f"{field}.{name}")
    return query


def _is_operators(value: Any) -> bool:
    return isinstance(value, dict) and any(isinstance(k, str) and k.startswith("$") for k in value)


def _check_operators(ops: dict[str, Any], field: str) -> None:
    for op, arg in ops.items():
        if op not in OPERATORS:
            raise ValidationError(f"unsupported operator {op}", f"{field}.{op}")
        if op in ("$in", "$nin") and not isinstance(arg, list):
            raise ValidationError(f"{op} takes an array", f"{field}.{op}")
        if op == "$not":
            if not _is_operators(arg):
                raise ValidationError("$not takes an operator document", f"{field}.{op}")
            _check_operators(arg, f"{field}.{op}")


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _same_kind(a: Any, b: Any) -> bool:
    return (_is_number(a) and _is_number(b)) or (type(a) is type(b) and not _is_number(a))


def _equal(a: Any, b: Any) -> bool:
    return _same_kind(a, b) and a == b


def _values(doc: Any, parts: list[str]) -> list[Any]:
    """The values at a dotted path; through arrays of documents, each element's value."""
    if not parts:
        return [doc]
    head, rest = parts[0], parts[1:]
    if isinstance(doc, dict):
        return _values(doc[head], rest) if head in doc else []
    if isinstance(doc, list):
        if head.isdigit() and int(head) < len(doc):
            return _values(doc[int(head)], rest)
        return [v for element in doc if isinstance(element, dict) for v in _values(element, parts)]
    return []


def _candidates(values: list[Any]) -> list[Any]:
    """What a condition compares with: each value, and each element of an array value."""
    out: list[Any] = []
    for value in values:
        out.append(value)
        if isinstance(value, list):
            out.extend(value)
    return out


def _compare(op: str, a: Any, b: Any) -> bool:
    if not _same_kind(a, b) or isinstance(a, dict | list | type(None)):
        return False
    if op == "$gt":
        return bool(a > b)
    if op == "$gte":
        return bool(a >= b)
    if op == "$lt":
        return bool(a < b)
    return bool(a <= b)


def _eq(values: list[Any], target: Any) -> bool:
    if target is None:
        return not values or any(v is None for v in _candidates(values))
    return any(_equal(v, target) for v in _candidates(values))


def _holds(values: list[Any], op: str, arg: Any) -> bool:
    if op == "$eq":
        return _eq(values, arg)
    if op == "$ne":
        return not _eq(values, arg)
    if op == "$in":
        return any(_eq(values, item) for item in arg)
    if op == "$nin":
        return not any(_eq(values, item) for item in arg)
    if op == "$exists":
        return bool(values) == bool(arg)
    if op == "$not":
        return not all(_holds(values, o, a) for o, a in arg.items())
    return any(_compare(op, v, arg) for v in _candidates(values))


def matches(doc: dict[str, Any], query: dict[str, Any]) -> bool:
    for name, cond in query.items():
        if name == "$and":
            if not all(matches(doc, part) for part in cond):
                return False
        elif name == "$or":
            if not any(matches(doc, part) for part in cond):
                return False
        else:
            values = _values(doc, name.split("."))
            if _is_operators(cond):
                if not all(_holds(values, op, arg) for op, arg in cond.items()):
                    return False
            elif not _eq(values, cond):
                return False
    return True


def key_range(query: dict[str, Any]) -> tuple[int, int]:
    """The ms key range (inclusive) a filter's top-level `_timestamp` bounds allow."""
    low, high = 0, intervals_end()
    conditions = [query.get("_timestamp")] + [part.get("_timestamp") for part in query.get("$and", [])]
    for cond in conditions:
        if cond is None:
            continue
        ops = cond if _is_operators(cond) else {"$eq": cond}
        for op, arg in ops.items():
            if not _is_number(arg) or not math.isfinite(arg):
                continue
            if op in ("$eq", "$gte"):
                low = max(low, math.ceil(arg) * 1000)
            if op == "$gt":
                low = max(low, (math.floor(arg) + 1) * 1000)
            if op in ("$eq", "$lte"):
                high = min(high, math.floor(arg) * 1000 + 999)
            if op == "$lt":
                high = min(high, (math.ceil(arg) - 1) * 1000 + 999)
    return low, high


def intervals_end() -> int:
    return 2**53


@dataclass
class Found:
    documents: list[dict[str, Any]]
    items_read: int


def find(stream: Stream, query: dict[str, Any], limit: int | None) -> Found:
    """Matching documents, newest first, at most `limit` (None: all); reads only the key range the
    filter's `_timestamp` bounds allow."""
    low, high = key_range(query)
    out: list[dict[str, Any]] = []
    read = 0
    if low > high:
        return Found(out, 0)
    scanned: Iterator[Interval] = intervals.iter_range(stream.id, low, high, descending=True)
    for point in scanned:
        read += 1
        if isinstance(point.value, dict) and matches(point.value, query):
            out.append(point.value)
            if limit is not None and len(out) >= limit:
                break
    return Found(out, read)


def parse_limit(text: str | None) -> int | None:
    """`?limit` as the original casts it: default 100, 0 or not a number = no limit."""
    if text is None:
        return DEFAULT_LIMIT
    try:
        value = abs(int(text.strip()))
    except ValueError:
        return None
    return value or None
