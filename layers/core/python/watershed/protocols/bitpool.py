"""Bitpool API v2 under `/bitpool` (../shared/wire/bitpool.md): translation only.

PoolKey is the pool id, StationID the station's key (a small integer within its pool), StreamKey
the stream id and LocalIndex its alias. Errors are ASP.NET's shape,
`{"Message": ..., "Errors": {"Field": ["reason"]}}`.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from watershed.api.request import Reply, Request
from watershed.errors import NotFound, ValidationError, WatershedError
from watershed.model import Interval, Principal, Stream, StreamType
from watershed.services import catalog as cat
from watershed.services import counts, ingest, natural, periodic
from watershed.services.rollup_time import parse_period, parse_zone
from watershed.store import intervals
from watershed.timefmt import DAY_MS, format_time, now_ms, parse_time

MAX_TAKE = 10_000
"""`take=0` (or none) is no limit in the original; Watershed answers at most this many per call."""
DATA_TYPES = {"double": "float", "float": "float", "number": "float", "numeric": "float", "decimal": "float",
              "integer": "integer", "int": "integer", "long": "integer", "boolean": "boolean", "bool": "boolean",
              "string": "string", "text": "string"}
TYPE_NAMES = {"float": "Double", "integer": "Integer", "boolean": "Boolean", "string": "String"}
PERIODS = {"hour": "1h", "day": "1d", "week": "1w", "month": "1mo", "15min": "15m", "quarterhour": "15m"}
TYPES = {"average": "avg", "mean": "avg", "minimum": "min", "maximum": "max", "difference": "delta"}
TIME_RANGES = {"lasthour": timedelta(hours=1), "last24hours": timedelta(days=1), "lastday": timedelta(days=1),
               "last7days": timedelta(days=7), "lastweek": timedelta(days=7), "last30days": timedelta(days=30),
               "lastmonth": timedelta(days=30), "last365days": timedelta(days=365), "lastyear": timedelta(days=365)}
DURATION = re.compile(r"^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?)?$", re.IGNORECASE)


def error_reply(error: WatershedError) -> Reply:
    errors = {error.field: [error.message]} if error.field else {}
    return Reply(error.status, {"Message": error.message, "Errors": errors})


# entities


def _pool_out(doc: dict[str, Any]) -> dict[str, Any]:
    props = doc.get("props") or {}
    return {"PoolKey": doc["id"], "Id": doc["id"], "Name": doc["name"], "Public": bool(props.get("Public", False)),
            "Virtual": bool(props.get("Virtual", False)), "RegistrationDate": format_time(doc["created"])}


def _pool(principal: Principal, key: str) -> dict[str, Any]:
    try:
        return cat.get_pool(principal, key)
    except NotFound:
        raise NotFound("Pool not found", "poolKey") from None


def _station(principal: Principal, pool: dict[str, Any], station_id: str) -> dict[str, Any]:
    found = cat.find_station_by_key(principal, pool["id"], station_id) if station_id.isdigit() else None
    if found is None:
        raise NotFound("Station not found", "stationId")
    return found


def _stream_doc(principal: Principal, key: str, field: str = "streamKey") -> dict[str, Any]:
    try:
        return cat.get_stream(principal, key, field)
    except NotFound:
        raise NotFound("Stream not found", field) from None


def _stream_out(doc: dict[str, Any]) -> dict[str, Any]:
    stream = cat.stream_from_doc(doc)
    found = counts.summary(stream, 0, now_ms() + 2 * DAY_MS)
    props = doc.get("props") or {}
    return {
        "StreamKey": doc["id"], "Id": doc["id"], "LocalIndex": doc.get("alias"), "Name": doc["name"],
        "Description": props.get("Description", ""), "RegistrationDate": format_time(doc["created"]),
        "FirstTimestamp": format_time(found.first.timestamp) if found.first else None,
        "LastTimestamp": format_time(found.last.timestamp) if found.last else None,
        "FirstValue": found.first.value if found.first else None,
        "LastValue": found.last.value if found.last else None,
        "PoolKey": doc["pool"], "Public": bool(props.get("Public", False)), "Virtual": False, "VirtualType": 0,
        "Recalculate": False, "Weather": False, "Owner": None, "StreamLogsCount": found.count,
        "PostProcessingType": 0, "DataType": TYPE_NAMES.get(doc["type"], doc["type"].title()),
    }


def create_pool(request: Request) -> Reply:
    body = request.json()
    if not isinstance(body, dict):
        raise ValidationError("The request body must be a pool object", "Poolname")
    name = body.get("Poolname", body.get("Name"))
    if not isinstance(name, str) or not name.strip():
        raise ValidationError("The Poolname field is required.", "Poolname")
    props = {flag: bool(body[flag]) for flag in ("Public", "Virtual") if flag in body}
    doc = cat.create_pool(request.principal, {"name": name.strip(), "props": props})
    return Reply(200, _pool_out(doc))


def list_pools(request: Request) -> Reply:
    return Reply(200, [_pool_out(doc) for _, doc in cat.list_pools(request.principal, None)])


def get_pool(request: Request) -> Reply:
    return Reply(200, _pool_out(_pool(request.principal, request.path_params["poolKey"])))


def create_station(request: Request) -> Reply:
    """The body is a bare JSON string, the station's name; the answer its number in the pool."""
    pool = _pool(request.principal, request.path_params["poolKey"])
    body = request.json()
    if isinstance(body, dict):
        body = body.get("StationName", body.get("Name"))
    if not isinstance(body, str) or not body.strip():
        raise ValidationError("The station name must be a JSON string.", "StationName")
    doc = natural.numbered_station(request.principal, pool, body.strip())
    return Reply(200, {"StationID": int(doc["key"])})


def list_stations(request: Request) -> Reply:
    pool = _pool(request.principal, request.path_params["poolKey"])
    return Reply(200, [{"StationName": doc["name"], "StationID": int(doc["key"])}
                       for _, doc in cat.list_stations(request.principal, pool["id"], None)
                       if str(doc.get("key", "")).isdigit()])


def create_stream(request: Request) -> Reply:
    principal = request.principal
    pool = _pool(principal, request.path_params["poolKey"])
    station = _station(principal, pool, request.path_params["stationId"])
    body = request.json()
    if not isinstance(body, dict):
        raise ValidationError("The request body must be a stream object", "LocalIndex")
    local_index = body.get("LocalIndex")
    if not isinstance(local_index, str) or not local_index:
        raise ValidationError("The LocalIndex field is required.", "LocalIndex")
    name = body.get("StreamName") or body.get("Name") or local_index
    data_type = str(body.get("DataType") or "Double").lower()
    if data_type not in DATA_TYPES:
        raise ValidationError(f"DataType must be one of {', '.join(sorted(set(TYPE_NAMES.values())))}", "DataType")
    props: dict[str, Any] = {"Description": str(body.get("Description") or "")}
    if "Public" in body:
        props["Public"] = bool(body["Public"])
    try:
        doc = cat.create_stream_in(station, {"name": name, "alias": local_index, "type": DATA_TYPES[data_type],
                                             "props": props})
    except ValidationError as error:
        raise ValidationError(error.message, {"alias": "LocalIndex", "name": "StreamName"}.get(error.field or "",
                                                                                              error.field)) from None
    return Reply(200, _stream_out(doc))


def list_streams(request: Request) -> Reply:
    principal = request.principal
    station = _station(principal, _pool(principal, request.path_params["poolKey"]), request.path_params["stationId"])
    return Reply(200, [_stream_out(doc) for _, doc in cat.list_streams(principal, station["id"], None)])


def get_stream(request: Request) -> Reply:
    return Reply(200, _stream_out(_stream_doc(request.principal, request.path_params["streamKey"])))


# logs: push


def _value(stream: Stream, item: dict[str, Any], field: str) -> Any:
    value = item.get("Val", item.get("Value"))
    text = item.get("ValStr", item.get("ValueString"))
    if stream.type is StreamType.STRING:
        value = text if text is not None else value
        if isinstance(value, int | float) and not isinstance(value, bool):
            value = str(value)
    elif stream.type is StreamType.BOOLEAN and isinstance(value, int | float) and value in (0, 1):
        value = bool(value)
    elif value is None and text is not None:
        try:
            value = float(text)
        except ValueError:
            raise ValidationError("ValStr is not a number for this stream", f"{field}.ValStr") from None
    name = "Val" if "Val" in item or "ValStr" in item else "Value"
    return ingest.check_value(stream.type, value, f"{field}.{name}")


def _logs(stream: Stream, items: Any, field: str) -> list[Interval]:
    if not isinstance(items, list):
        raise ValidationError("must be a JSON array of logs", field or "logs")
    ingest.check_items(items, field)
    points = []
    for i, item in enumerate(items):
        at = f"{field}[{i}]"
        if not isinstance(item, dict):
            raise ValidationError("each log must be an object", at)
        ts_name = "Timestamp" if "Timestamp" in item and "Ts" not in item else "Ts"
        if item.get(ts_name) is None:
            raise ValidationError("The Ts field is required.", f"{at}.{ts_name}")
        points.append(Interval(parse_time(item[ts_name], f"{at}.{ts_name}"), _value(stream, item, at)))
    return points


def push_logs(request: Request) -> Reply:
    stream = cat.stream_from_doc(_stream_doc(request.principal, request.path_params["streamKey"]))
    ingest.write(stream, _logs(stream, request.json(), ""))
    return Reply(200)


def push_bulk(request: Request) -> Reply:
    """`[{"StreamKey", "Values": [...]}]`: every stream checked and every log validated, then written."""
    body = request.json()
    if not isinstance(body, list):
        raise ValidationError("must be a JSON array of {StreamKey, Values}", "body")
    batches: list[tuple[Stream, list[Interval]]] = []
    total = 0
    for i, entry in enumerate(body):
        if not isinstance(entry, dict) or not isinstance(entry.get("StreamKey"), str):
            raise ValidationError("The StreamKey field is required.", f"[{i}].StreamKey")
        stream = cat.stream_from_doc(_stream_doc(request.principal, entry["StreamKey"], f"[{i}].StreamKey"))
        points = _logs(stream, entry.get("Values"), f"[{i}].Values")
        total += len(points)
        if total > ingest.MAX_ITEMS:
            raise ValidationError(f"at most {ingest.MAX_ITEMS} logs per request", f"[{i}].Values")
        batches.append((stream, points))
    for stream, points in batches:
        ingest.write(stream, points)
    return Reply(200)


# logs: pull


def _number(query: dict[str, str], name: str) -> float | None:
    text = query.get(name)
    if text in (None, ""):
        return None
    try:
        return float(text)
    except ValueError:
        raise ValidationError(f"The value '{text}' is not valid for {name}.", name) from None


def _count_param(query: dict[str, str], name: str) -> int:
    text = query.get(name) or "0"
    if not text.isdigit():
        raise ValidationError(f"The value '{text}' is not valid for {name}.", name)
    return int(text)


def _range(query: dict[str, str], stream: Stream | None = None) -> tuple[int, int]:
    """[from, to): `to` defaults to now (a day ahead for raw pulls), `from` to `to - timeRange`, else
    to the first log (aggregates, `stream` given) or the epoch."""
    end_text, start_text, span = query.get("to"), query.get("from"), query.get("timeRange")
    if end_text:
        end = parse_time(end_text, "to", bounded=False)
    else:
        end = now_ms() + (1 if span or stream is not None else 2 * DAY_MS)
    if start_text:
        start = parse_time(start_text, "from", bounded=False)
    elif span:
        start = end - _time_range(span, "timeRange")
    elif stream is not None:
        first = intervals.query_range(stream.id, 0, end - 1, limit=1)
        start = first[0].timestamp if first else end - 1
    else:
        start = 0
    if end <= start:
        raise ValidationError("to must be after from", "to")
    return max(start, 0), end


def _time_range(text: str, field: str) -> int:
    named = TIME_RANGES.get(text.replace(" ", "").lower())
    if named is not None:
        return int(named.total_seconds() * 1000)
    match = DURATION.match(text)
    if match and any(match.groups()):
        days, hours, minutes = (int(g or 0) for g in match.groups())
        return ((days * 24 + hours) * 60 + minutes) * 60_000
    raise ValidationError(f"unknown timeRange '{text}'; use Last24Hours, Last7Days, Last30Days or an ISO-8601 "
                          "duration such as P7D", field)


def _log_out(stream: Stream, point: Interval) -> dict[str, Any]:
    text = point.value if isinstance(point.value, str) else None
    return {"StreamKey": stream.id, "Timestamp": format_time(point.timestamp),
            "Value": None if text is not None else point.value, "ValueString": text, "Calculated": False,
            "FirstValue": None, "LastValue": None}


def pull_logs(request: Request) -> Reply:
    """`{"Data": [...], "Total": N}`: `Total` counts every match, not just this page."""
    stream = cat.stream_from_doc(_stream_doc(request.principal, request.path_params["streamKey"]))
    query = request.query
    start, end = _range(query)
    take = _count_param(query, "take") or MAX_TAKE
    skip = _count_param(query, "skip")
    low, high = _number(query, "minValue"), _number(query, "maxValue")
    take = min(take, MAX_TAKE)
    if low is None and high is None:
        total = counts.count(stream, start, end)
        page = intervals.query_range(stream.id, start, end - 1, limit=skip + take)[skip:] if skip < total else []
        return Reply(200, {"Data": [_log_out(stream, p) for p in page], "Total": total})
    matching: list[Interval] = []
    total = 0
    for point in intervals.iter_range(stream.id, start, end - 1):
        value = point.value
        if not isinstance(value, int | float) or isinstance(value, bool):
            continue
        if (low is not None and value < low) or (high is not None and value > high):
            continue
        if skip <= total < skip + take:
            matching.append(point)
        total += 1
    return Reply(200, {"Data": [_log_out(stream, p) for p in matching], "Total": total})


def pull_aggregated(request: Request) -> Reply:
    """`[{"StreamKey", "Timestamp", "Value"}]`, one per period, exact from the rollups."""
    stream = cat.stream_from_doc(_stream_doc(request.principal, request.path_params["streamKey"]))
    query = {k.removeprefix("data."): v for k, v in request.query.items()}
    try:
        start, end = _range(query, stream)
        fn_text = (query.get("aggregationType") or "avg").lower()
        fn = TYPES.get(fn_text, fn_text)
        period_text = query.get("aggregationPeriod") or "1h"
        period = parse_period(PERIODS.get(period_text.lower(), period_text))
        tz = parse_zone(query.get("timeZone") or stream.time_zone, "timeZone")
    except ValidationError as error:
        renamed = {"period": "aggregationPeriod", "from": "data.from", "to": "data.to", "timeRange": "data.timeRange"}
        field = f"data.{renamed.get(error.field or '', error.field)}".replace("data.data.", "data.")
        raise ValidationError(error.message, field) from None
    fill = (query.get("nullWhenNoData") or "false").lower() == "true"
    multiplier = _number(query, "multiplier")
    if fn in ("avg", "sum", "min", "max", "delta") and stream.type not in (StreamType.FLOAT, StreamType.INTEGER):
        raise ValidationError(f"{fn} needs a numeric stream", "data.aggregationType")
    try:
        rows = periodic.values(stream, fn, period, tz, start, end, fill_null=fill)
    except ValidationError as error:
        raise ValidationError(error.message, f"data.{error.field}" if error.field else None) from None

    def scaled(value: Any) -> Any:
        if multiplier is None or fn == "count" or not isinstance(value, int | float) or isinstance(value, bool):
            return value
        return value * multiplier

    return Reply(200, [{"StreamKey": stream.id, "Timestamp": format_time(ts), "Value": scaled(value)}
                       for ts, value in rows])


# V1 searches the edge uploader calls


def search_pools(request: Request) -> Reply:
    term = (request.query.get("search") or "").lower()
    pools = [_pool_out(doc) for _, doc in cat.list_pools(request.principal, None) if term in doc["name"].lower()]
    return Reply(200, {"Pools": pools})


def search_streams(request: Request) -> Reply:
    principal = request.principal
    pool = _pool(principal, request.path_params["poolKey"])
    term = (request.query.get("search") or "").lower()
    found = []
    for _, station in cat.list_stations(principal, pool["id"], None):
        for _, doc in cat.list_streams(principal, station["id"], None):
            if term in doc["name"].lower() or term in str(doc.get("alias") or "").lower():
                found.append({**_stream_out(doc), "StationID": int(station["key"]) if str(station["key"]).isdigit()
                              else None})
    return Reply(200, {"Streams": found})
