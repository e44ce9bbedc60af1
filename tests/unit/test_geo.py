"""Point in polygon for ORing's `polygon` thing search (services.geo)."""

from __future__ import annotations

import pytest

from watershed.errors import ValidationError
from watershed.services import geo

SQUARE = [(0.0, 0.0), (0.0, 10.0), (10.0, 10.0), (10.0, 0.0)]
U_SHAPE = [(0.0, 0.0), (0.0, 10.0), (3.0, 10.0), (3.0, 3.0), (7.0, 3.0), (7.0, 10.0), (10.0, 10.0), (10.0, 0.0)]


@pytest.mark.parametrize(("point", "inside"), [
    ((5.0, 5.0), True), ((0.0, 5.0), True), ((10.0, 10.0), True), ((5.0, 0.0), True),
    ((-0.1, 5.0), False), ((5.0, 10.1), False), ((11.0, 11.0), False),
])
def test_square(point: geo.Point, inside: bool) -> None:
    assert geo.contains(SQUARE, point) is inside


def test_concave_polygon_excludes_its_notch() -> None:
    assert geo.contains(U_SHAPE, (1.5, 8.0)) and geo.contains(U_SHAPE, (8.5, 8.0))
    assert not geo.contains(U_SHAPE, (5.0, 8.0))
    assert geo.contains(U_SHAPE, (5.0, 2.0)) and geo.contains(U_SHAPE, (5.0, 3.0))


def test_a_ray_through_a_vertex_counts_once() -> None:
    diamond = [(0.0, 5.0), (5.0, 10.0), (10.0, 5.0), (5.0, 0.0)]
    assert geo.contains(diamond, (2.0, 5.0)) and not geo.contains(diamond, (-1.0, 5.0))
    assert not geo.contains(diamond, (1.0, 9.0))


def test_the_seed_polygon_parses_and_a_closing_point_is_dropped() -> None:
    seed = geo.parse_polygon("[[102.0, 0.0], [103.0, 1.0], [104.0, 0.0], [105.0, 1.0]]")
    assert seed == [(102.0, 0.0), (103.0, 1.0), (104.0, 0.0), (105.0, 1.0)]
    assert geo.parse_polygon("[[0,0],[0,1],[1,1],[0,0]]") == [(0.0, 0.0), (0.0, 1.0), (1.0, 1.0)]


@pytest.mark.parametrize(("text", "field"), [
    ("not json", "polygon"), ("{}", "polygon"), ("[[0,0],[1,1]]", "polygon"), ("[[0,0],[1,1],[0,0]]", "polygon"),
    ("[[0,0],[1,1],[2]]", "polygon[2]"), ("[[0,0],[1,true],[2,2]]", "polygon[1]"),
    ("[[0,0],[1,1],[2,\"x\"]]", "polygon[2]"), ("[[0,0],[1,1],[2,1e999]]", "polygon[2]"),
])
def test_bad_polygons_name_the_field(text: str, field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        geo.parse_polygon(text)
    assert caught.value.field == field
