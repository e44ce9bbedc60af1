"""iTwin units: conversions between units of one dimension with pint, the seed's unit ids."""

from __future__ import annotations

import pytest

from watershed.errors import ValidationError
from watershed.model import Scheme
from watershed.services import itwin_data
from watershed.services.itwin_live import scheme_of


@pytest.mark.parametrize(("stored", "wanted", "value", "expected"), [
    ("C", "F", 100.0, 212.0), ("C", "K", 0.0, 273.15), ("F", "C", 32.0, 0.0), ("m", "mm", 1.5, 1500.0),
    ("ft", "m", 1.0, 0.3048), ("Pa", "kPa", 101325.0, 101.325), ("psi", "Pa", 1.0, 6894.75729317),
    ("deg", "rad", 180.0, 3.14159265359), ("%", "%", 5.0, 5.0),
])
def test_converts_between_units_of_one_dimension(stored: str, wanted: str, value: float, expected: float) -> None:
    convert = itwin_data.converter(stored, wanted)
    assert (convert(value) if convert else value) == pytest.approx(expected, rel=1e-9)


def test_no_conversion_without_units_and_a_wrong_dimension_is_refused() -> None:
    assert itwin_data.converter(None, "F") is None and itwin_data.converter("C", None) is None
    with pytest.raises(ValidationError) as refused:
        itwin_data.converter("C", "m")
    assert refused.value.field == "unit"
    with pytest.raises(ValidationError):
        itwin_data.converter("C", "no-such-unit")
    convert = itwin_data.converter("C", "F")
    assert convert is not None and convert("text") == "text" and convert(0.0) == 32.0


def test_units_of_a_metric_are_those_of_its_dimension() -> None:
    units = itwin_data.units_like("C")
    assert units[0] == {"id": "C", "name": "degree Celsius", "notation": "°C"}
    assert {u["id"] for u in units} == {"C", "F", "K"}
    assert itwin_data.metric_units(["P_raw", "unknown"])["unknown"] == []


def test_the_code_of_authenticate_is_a_key_or_a_jwt() -> None:
    assert scheme_of("wsk_abc") == (Scheme.API_KEY, "wsk_abc")
    assert scheme_of("eyJh.eyJ.sig") == (Scheme.BEARER, "eyJh.eyJ.sig")
    assert scheme_of("Bearer t.o.k") == (Scheme.BEARER, "t.o.k")
    assert scheme_of("ApiKey wsk_x") == (Scheme.API_KEY, "wsk_x")


def test_a_sensor_id_names_its_device_and_node() -> None:
    from watershed.services.itwin_entities import parent_of

    sensor = "/instantel/3E216E/node/demo_sensor/UM9169/device/demo-1/sensor"
    assert parent_of(sensor, "device") == "/instantel/3E216E/node/demo_sensor/UM9169/device"
    assert parent_of("/instantel/3E216E/node/demo_sensor/UM9169/device/", "node") == "/instantel/3E216E/node"
    assert parent_of("/just/a/sensor", "device") is None
