"""Plane geometry for list filters: is a point inside a polygon (ORing's `polygon` thing search).

Coordinates are treated as a flat plane (no great circles): the polygons a dashboard draws round a
site are small, and the answer then matches what the user sees on a map. A point on an edge or
a vertex counts as inside, so a thing placed on a drawn boundary is not lost.
"""

from __future__ import annotations

import json
import math
from typing import Any

from watershed.errors import ValidationError

Point = tuple[float, float]
MAX_VERTICES = 1000


def parse_polygon(text: str, field: str = "polygon") -> list[Point]:
    """`[[a, b], [c, d], ...]` as JSON: at least three finite number pairs (a closing repeat of the
    first point is allowed and dropped)."""
    try:
        document = json.loads(text)
    except ValueError:
        raise ValidationError("must be a JSON array of [x, y] points, e.g. [[0,0],[0,1],[1,1]]", field) from None
    if not isinstance(document, list) or len(document) > MAX_VERTICES:
        raise ValidationError(f"must be a JSON array of at most {MAX_VERTICES} [x, y] points", field)
    points = [_point(item, f"{field}[{i}]") for i, item in enumerate(document)]
    if len(points) > 1 and points[0] == points[-1]:
        points.pop()
    if len(points) < 3:
        raise ValidationError("a polygon needs at least three points", field)
    return points


def _point(item: Any, field: str) -> Point:
    if (not isinstance(item, list) or len(item) != 2
            or not all(isinstance(n, int | float) and not isinstance(n, bool) and math.isfinite(n) for n in item)):
        raise ValidationError("each point must be a pair of finite numbers", field)
    return float(item[0]), float(item[1])


def _on_segment(p: Point, a: Point, b: Point) -> bool:
    cross = (b[0] - a[0]) * (p[1] - a[1]) - (b[1] - a[1]) * (p[0] - a[0])
    if abs(cross) > 1e-12 * max(1.0, abs(b[0] - a[0]) + abs(b[1] - a[1])):
        return False
    return min(a[0], b[0]) <= p[0] <= max(a[0], b[0]) and min(a[1], b[1]) <= p[1] <= max(a[1], b[1])


def contains(polygon: list[Point], point: Point) -> bool:
    """Whether `point` is inside `polygon` or on its boundary (even-odd rule, so a self-crossing
    polygon's overlaps count as outside, as a map's fill shows them)."""
    x, y = point
    inside = False
    count = len(polygon)
    for i in range(count):
        a, b = polygon[i], polygon[(i + 1) % count]
        if _on_segment(point, a, b):
            return True
        if (a[1] > y) != (b[1] > y):
            crossing = a[0] + (y - a[1]) * (b[0] - a[0]) / (b[1] - a[1])
            if x < crossing:
                inside = not inside
    return inside
