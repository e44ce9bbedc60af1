"""iTwin IoT metrics, units and observations for the JSON-RPC face (issue 24), on services/itwin.py.

A metric is a stream in the sensor's bucket (alias = metric id); its stored unit is the stream's
`unit`, else the standard metric's default unit (itwin.METRIC_TYPES), else none. Values asked in
another unit of the same dimension are converted with pint (°C/K/°F, m/mm/ft, Pa/kPa/psi, ...):
pint's conversions are affine, so one value pair gives the factor and offset applied to a whole
series. The seed's unit ids (`C`, `F`, `deg`, ...) are not all pint names (pint's `C` is the
coulomb), so a few are spelled out in UNIT_NAMES. pint costs ~0.3 s (import + registry) the first
time a container converts, so it is imported only then.
Metric params and derivative metrics (ZERO_DATE, AZIMUTH_XY, dt) are proprietary calculations
the seed does not define: every metric is answered raw, and `params` are accepted and ignored.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from watershed.errors import NotFound, ValidationError
from watershed.model import NUMERIC_TYPES, Principal, Stream
from watershed.services import catalog as cat
from watershed.services import itwin
from watershed.store import intervals
from watershed.timefmt import format_time, parse_time

UNIT_NAMES = {"C": "degC", "F": "degF", "K": "kelvin", "deg": "degree", "%": "percent", "h": "hour",
              "in": "inch", "um": "micrometer", "mH2O": "meter_H2O", "ftH2O": "foot_H2O", "inH2O": "inch_H2O",
              "g": "gram", "gn": "standard_gravity"}
"""Seed unit ids that are not pint's own names for the same unit."""
UNIT_IDS = ("C", "F", "K", "Pa", "hPa", "kPa", "MPa", "bar", "mbar", "psi", "mH2O", "ftH2O", "inH2O",
            "m", "cm", "mm", "um", "km", "ft", "in", "mi", "Hz", "kHz", "s", "ms", "min", "h", "day",
            "deg", "rad", "V", "mV", "A", "mA", "ohm", "W", "kW", "%", "m/s", "mm/s", "km/h", "gn", "m/s^2",
            "kg", "g", "N", "kN", "L", "m^3", "m^3/s", "L/s")
"""The units getUnits offers: those of the metric's dimension."""
SIGNIFICANT_DIGITS = 12
"""A converted value is rounded to this many digits: the float arithmetic of a conversion leaves
noise in the last ones (0 °C → 31.999999999999936 °F)."""
MAX_OBSERVATIONS = 200_000
"""At most this many observations per getData (~55 frames), so one answer stays well inside the
function's 29 s; the answer says `truncated` beyond."""
LIMIT_FUNCTIONS = ("first", "last")
MAX_LIMIT_SIZE = 10_000


@functools.cache
def _registry() -> Any:
    import pint

    return pint.UnitRegistry()


def _unit(unit_id: str, field: str) -> Any:
    try:
        return _registry().Unit(UNIT_NAMES.get(unit_id, unit_id))
    except Exception:
        raise ValidationError(f"unknown unit {unit_id!r}", field) from None


def converter(stored: str | None, wanted: str | None, field: str = "unit") -> Callable[[Any], Any] | None:
    """A function turning values in `stored` into `wanted`; None when nothing is to convert (same
    unit, no unit asked, or a metric without a unit)."""
    if not wanted or not stored or wanted == stored:
        return None
    source, target = _unit(stored, field), _unit(wanted, field)
    if source.dimensionality != target.dimensionality:
        raise ValidationError(f"{wanted} is not a unit of this metric (its unit is {stored})", field)
    quantity = _registry().Quantity
    offset = float(quantity(0.0, source).to(target).magnitude)
    factor = float(quantity(1.0, source).to(target).magnitude) - offset

    def convert(value: Any) -> Any:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(f"{value * factor + offset:.{SIGNIFICANT_DIGITS}g}")
        return value

    return convert


def unit_doc(unit_id: str) -> dict[str, Any]:
    """`{id, name, notation}` of a unit from pint (`C` → degree Celsius, °C)."""
    unit = _unit(unit_id, "unit")
    return {"id": unit_id, "name": str(unit).replace("_", " "), "notation": f"{unit:~P}" or unit_id}


def units_like(unit_id: str | None) -> list[dict[str, Any]]:
    """Every offered unit of the dimension of `unit_id` (itself first); [] for a metric without a unit."""
    if not unit_id:
        return []
    dimension = _unit(unit_id, "unit").dimensionality
    out = [unit_doc(unit_id)]
    for other in UNIT_IDS:
        if other != unit_id and _unit(other, "unit").dimensionality == dimension:
            out.append(unit_doc(other))
    return out


def default_unit(metric_id: str, stored: str | None = None) -> str | None:
    known = itwin.known_metric(metric_id)
    return stored or (str(known["defaultUnit"]) if known else None)


def metric_doc(metric_id: str, stored_unit: str | None = None) -> dict[str, Any]:
    """The seed's metric object; every metric is raw here, so `params` is empty."""
    known = itwin.known_metric(metric_id)
    display = str(known["displayName"]) if known else metric_id
    return {"id": metric_id, "name": display.lower() if known else metric_id, "displayName": display,
            "defaultUnit": default_unit(metric_id, stored_unit), "notation": metric_id, "hidden": False,
            "params": []}


def _sensor_ids(value: Any, field: str) -> list[str]:
    if not isinstance(value, list) or not value or not all(isinstance(s, str) and s for s in value):
        raise ValidationError("must be a non-empty array of sensor ids", field)
    return list(value)


def sensor_metrics(principal: Principal, sensor_ids: Any, project_id: str | None,
                   field: str = "sensors") -> dict[str, list[dict[str, Any]]]:
    """`{sensorId: [metric]}` from each sensor's streams (getMetrics, getRawMetrics)."""
    ids = _sensor_ids(sensor_ids, field)
    found = itwin.metrics_by_sensor(principal, ids, project_id)
    return {sensor: [metric_doc(alias, unit) for alias, unit in sorted(metrics, key=lambda m: str(m[0]))]
            for sensor, metrics in found.items()}


def type_metrics(types: Any, field: str = "types") -> dict[str, list[dict[str, Any]]]:
    """`{type: [metric]}` of the sensor types this service knows (getRawMetrics by `types`)."""
    if not isinstance(types, list) or not types or not all(isinstance(t, str) for t in types):
        raise ValidationError("must be a non-empty array of sensor types", field)
    by_id = {t["id"]: t for t in itwin.SENSOR_TYPES}
    out: dict[str, list[dict[str, Any]]] = {}
    for name in types:
        template = by_id.get(name)
        metrics = template["metricsAndUnits"] if template else []
        out[name] = [metric_doc(str(m["id"]), str(m.get("defaultUnit") or "") or None) for m in metrics]
    return out


def metric_units(metric_ids: Any, field: str = "metrics") -> dict[str, list[dict[str, Any]]]:
    """`{metricId: [unit]}`: the units of the metric's dimension (getUnits)."""
    if not isinstance(metric_ids, list) or not metric_ids or not all(isinstance(m, str) and m for m in metric_ids):
        raise ValidationError("must be a non-empty array of metric ids", field)
    return {metric: units_like(default_unit(metric)) for metric in metric_ids}


# observations


@dataclass(frozen=True)
class Metric:
    """One metric of one sensor: its stream and stored unit."""

    sensor: str
    stream: Stream
    unit: str | None


def metric_stream(principal: Principal, sensor_id: str, metric_id: str, project_id: str | None,
                  field: str = "metric") -> Metric:
    """A sensor's metric as a stream (NotFound at `field` if the sensor has no such metric)."""
    sensor = itwin.get_sensor(principal, sensor_id, project_id)
    pool_doc = itwin.project(principal, project_id, create=False)
    device = cat.find_station_by_key(principal, pool_doc["id"], str(sensor["props"].get("DEVICE_ID") or ""))
    doc = None if device is None else cat.find_stream_by_alias(device["id"], itwin.bucket_name(sensor_id), metric_id)
    if doc is None:
        raise NotFound(f"sensor {sensor_id} has no metric {metric_id}", field)
    return Metric(sensor_id, cat.stream_from_doc(doc), default_unit(metric_id, doc.get("unit")))


@dataclass(frozen=True)
class Query:
    """The data query of getData / getObservations / subscribeData: what, in which unit, when."""

    start: int
    end: int
    limit: str | None = None
    size: int = 1


def parse_query(params: dict[str, Any]) -> Query:
    start = 0
    end = 2**53
    if params.get("startDate") is not None:
        start = parse_time(params["startDate"], "startDate", bounded=False)
    if params.get("endDate") is not None:
        end = parse_time(params["endDate"], "endDate", bounded=False)
    if end < start:
        raise ValidationError("endDate is before startDate", "endDate")
    limit = params.get("limit")
    if limit is None:
        return Query(start, end)
    if not isinstance(limit, dict) or limit.get("function") not in LIMIT_FUNCTIONS:
        raise ValidationError("limit is {function: first|last, params: {size}}", "limit.function")
    size = (limit.get("params") or {}).get("size", 1) if isinstance(limit.get("params") or {}, dict) else None
    if not isinstance(size, int) or isinstance(size, bool) or not 1 <= size <= MAX_LIMIT_SIZE:
        raise ValidationError(f"size must be an integer from 1 to {MAX_LIMIT_SIZE}", "limit.params.size")
    return Query(start, end, str(limit["function"]), size)


def _points(stream: Stream, query: Query) -> Iterator[tuple[int, Any]]:
    if query.limit == "first":
        found = intervals.query_range(stream.id, query.start, query.end, limit=query.size)
    elif query.limit == "last":
        found = intervals.query_range(stream.id, query.start, query.end, descending=True, limit=query.size)[::-1]
    else:
        yield from ((i.timestamp, i.value) for i in intervals.iter_range(stream.id, query.start, query.end))
        return
    yield from ((i.timestamp, i.value) for i in found)


@dataclass
class Series:
    """Observations as (ISO timestamp, value) in time order; `truncated` past MAX_OBSERVATIONS."""

    data: list[tuple[str, Any]]
    truncated: bool = False


def series(metric: Metric, unit: str | None, query: Query) -> Series:
    """A metric's observations in `unit` (getData)."""
    convert = converter(metric.unit, unit) if metric.stream.type in NUMERIC_TYPES else None
    out: list[tuple[str, Any]] = []
    for ts, value in _points(metric.stream, query):
        if len(out) >= MAX_OBSERVATIONS:
            return Series(out, truncated=True)
        out.append((format_time(ts), convert(value) if convert else value))
    return Series(out)


def observations(principal: Principal, sensor_id: str, project_id: str | None, query: Query) -> Series:
    """Every raw metric of a sensor, one `{metric: value}` per timestamp (getObservations)."""
    found = itwin.metrics_by_sensor(principal, [sensor_id], project_id)
    rows: dict[int, dict[str, Any]] = {}
    for alias, _unit_id in found.get(sensor_id, []):
        metric = metric_stream(principal, sensor_id, str(alias), project_id, "sensor")
        for ts, value in _points(metric.stream, query):
            rows.setdefault(ts, {})[str(alias)] = value
            if len(rows) > MAX_OBSERVATIONS:
                break
    ordered = sorted(rows)
    truncated = len(ordered) > MAX_OBSERVATIONS
    return Series([(format_time(ts), rows[ts]) for ts in ordered[:MAX_OBSERVATIONS]], truncated)


def summary(metric: Metric, unit: str | None, query: Query) -> dict[str, Any]:
    """The first and last observation in the range (getObservationsSummary): two one-item Queries."""
    convert = converter(metric.unit, unit) if metric.stream.type in NUMERIC_TYPES else None
    out: dict[str, Any] = {}
    for name, descending in (("first", False), ("last", True)):
        found = intervals.query_range(metric.stream.id, query.start, query.end, descending=descending, limit=1)
        out[name] = ({format_time(found[0].timestamp): convert(found[0].value) if convert else found[0].value}
                     if found else None)
    return out
