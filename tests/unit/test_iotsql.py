"""The local IoT SQL evaluator against the AWS IoT SQL reference (version 2016-03-23).

Expected values come from the reference's own examples (SELECT clause, topic(Decimal),
operators, binary payloads) and from MQTT's topic-filter rules.
"""

from __future__ import annotations

import base64
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from local.iotsql import UNDEFINED, IotSqlError, IotSqlEvaluationError, Message, parse, topic_matches

COLOR = json.dumps({"color": "red", "temperature": 50}).encode()


def run(sql: str, payload: bytes | str = COLOR, topic: str = "topic/subtopic", **kw: object) -> object:
    data = payload.encode() if isinstance(payload, str) else payload
    return parse(sql).evaluate(Message(topic, data, **kw))  # type: ignore[arg-type]


# --- SELECT (reference examples) -------------------------------------------------------------


def test_select_star_returns_the_whole_payload() -> None:
    assert run("SELECT * FROM 'topic/subtopic'") == {"color": "red", "temperature": 50}


def test_select_field_and_alias() -> None:
    assert run("SELECT color FROM 'topic/subtopic'") == {"color": "red"}
    assert run("SELECT color AS my_color FROM 'topic/subtopic'") == {"my_color": "red"}
    assert run("SELECT color as my_color, temperature as fahrenheit FROM 'topic/subtopic'") == {
        "my_color": "red",
        "fahrenheit": 50,
    }


def test_star_with_extra_items_adds_keys() -> None:
    expected = {"color": "red", "temperature": 50, "speed": 15}
    assert run("SELECT *, 15 as speed FROM 'topic/subtopic'") == expected


def test_nested_paths_and_array_index() -> None:
    payload = json.dumps({"a": {"b": {"c": 3}}, "list": [10, 20]})
    assert run("SELECT a.b.c AS deep, list[1] AS second FROM '#'", payload) == {"deep": 3, "second": 20}
    assert run("SELECT a.b.c FROM '#'", payload) == {"c": 3}


def test_missing_fields_are_undefined_and_omitted() -> None:
    assert run("SELECT color, nothing, a.b.c AS deep FROM 'topic/subtopic'") == {"color": "red"}


def test_null_is_a_value_unlike_undefined() -> None:
    assert run("SELECT foo, bar FROM '#'", '{"foo": null}') == {"foo": None}


def test_select_value_returns_the_bare_value() -> None:
    assert run("SELECT VALUE temperature FROM 'topic/subtopic'") == 50
    assert run("SELECT value FROM '#'", '{"value": 7}') == {"value": 7}


def test_select_star_on_an_array_payload_passes_the_array_through() -> None:
    items = [{"id": "t", "value": 1}, {"id": "h", "value": 2}]
    assert run("SELECT * FROM 'things/+/data/+'", json.dumps(items), topic="things/s1/data/default") == items


def test_star_merged_with_items_needs_an_object() -> None:
    with pytest.raises(IotSqlEvaluationError):
        run("SELECT *, topic(2) AS station FROM '#'", "[1, 2]")


# --- functions ----------------------------------------------------------------------------------


def test_topic_numbering_is_one_based() -> None:
    sql = "SELECT topic() AS t, topic(1) AS first, topic(2) AS second, topic(3) AS third FROM '#'"
    assert run(sql, topic="things/myThings/thingOne") == {
        "t": "things/myThings/thingOne",
        "first": "things",
        "second": "myThings",
        "third": "thingOne",
    }


def test_topic_segment_out_of_range_is_undefined() -> None:
    assert run("SELECT topic(0) AS zero, topic(4) AS fourth FROM '#'", topic="foo/bar/baz") == {}


def test_clientid_principal_timestamp() -> None:
    result = run(
        "SELECT clientid() AS c, principal() AS p, timestamp() AS ts FROM '#'",
        client_id="thing:s1",
        principal="s1",
        timestamp_ms=1481825251155,
    )
    assert result == {"c": "thing:s1", "p": "s1", "ts": 1481825251155}


def test_clientid_is_na_outside_mqtt() -> None:
    assert run("SELECT clientid() AS c FROM '#'") == {"c": "n/a"}


def test_encode_star_base64_works_on_binary_payloads() -> None:
    raw = bytes(range(256))
    result = run("SELECT encode(*, 'base64') AS data, timestamp() AS ts FROM 'a/b'", raw, topic="a/b")
    assert isinstance(result, dict)
    assert base64.b64decode(result["data"]) == raw


def test_select_star_on_binary_returns_the_raw_bytes() -> None:
    assert run("SELECT * FROM 'a/b'", b"\x00\xff", topic="a/b") == b"\x00\xff"


def test_binary_payload_fields_are_undefined() -> None:
    assert run("SELECT * FROM 'a/b' WHERE device_type = 'thermostat'", b"\x00\xff", topic="a/b") is UNDEFINED


def test_decode_base64_json_is_addressable() -> None:
    payload = json.dumps({"encoded_temp": base64.b64encode(b'{ "temperature": 33 }').decode()})
    sql = "SELECT decode(encoded_temp, \"base64\").temperature AS temp FROM '#'"
    assert run(sql, payload) == {"temp": 33}


# --- WHERE and operators ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("where", "fires"),
    [
        ("temperature > 40", True),
        ("temperature >= 50", True),
        ("temperature < 50", False),
        ("temperature <= 50", True),
        ("temperature = 50", True),
        ("temperature = 50.0", True),
        ("temperature <> 50", False),
        ("color = 'red'", True),
        ('color = "red"', True),
        ("color <> 'blue'", True),
        ("temperature = '50'", False),  # mismatched types are not equal
        ("temperature > '40'", True),  # ordering converts numeric strings to Decimal
        ("color > 3", False),  # not convertible: Undefined, so the rule does not fire
        ("missing = 1", False),
        ("missing <> 1", False),  # Undefined, not true
        ("NOT missing = 1", False),
        ("temperature > 40 AND color = 'red'", True),
        ("temperature > 60 OR color = 'red'", True),
        ("NOT (temperature > 60)", True),
        ("temperature > 60 OR missing = 1", False),  # OR with Undefined is Undefined
        ("(temperature + 10) * 2 = 120", True),
        ("temperature % 7 = 1", True),
        ("temperature / 3 = 16", True),  # Int / Int is an Int
        ("TRUE", True),
        ("'true'", True),
        ("FALSE", False),
    ],
)
def test_where_clause(where: str, fires: bool) -> None:
    result = run(f"SELECT color FROM 'topic/subtopic' WHERE {where}")
    assert (result is not UNDEFINED) is fires


def test_string_concatenation_with_plus() -> None:
    assert run("SELECT color + '-' + temperature AS label FROM '#'") == {"label": "red-50"}


def test_keywords_are_case_insensitive() -> None:
    assert run("select color as c from 'topic/subtopic' where temperature > 1") == {"c": "red"}


# --- FROM filters ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("topic_filter", "topic", "matches"),
    [
        ("things/+/data/+", "things/s1/data/default", True),
        ("things/+/data/+", "things/s1/data", False),
        ("things/+/data/+", "things/s1/data/a/b", False),
        ("things/+/data/+", "things//data/x", True),  # an empty level is still a level
        ("things/#", "things", True),  # '#' includes the parent level
        ("things/#", "things/a/b/c", True),
        ("#", "any/topic", True),
        ("+", "a", True),
        ("+", "a/b", False),
        ("+/+", "/a", True),
        ("#", "$aws/events/presence/connected/x", False),  # wildcards never start-match '$' topics
        ("+/events/#", "$aws/events/x", False),
        ("$aws/events/presence/+/+", "$aws/events/presence/connected/thing:s1", True),
        ("$aws/events/presence/+/+", "$aws/events/presence/disconnected/thing:s1", True),
        ("$aws/events/presence/+/+", "$aws/events/subscriptions/subscribed/x", False),
        ("a/b", "a/B", False),  # topics are case sensitive
    ],
)
def test_topic_filter_matching(topic_filter: str, topic: str, matches: bool) -> None:
    assert topic_matches(topic_filter, topic) is matches
    assert (run(f"SELECT * FROM '{topic_filter}'", "{}", topic=topic) is not UNDEFINED) is matches


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM 'a/#/b'",
        "SELECT * FROM 'a/b#'",
        "SELECT * FROM 'a/b+/c'",
        "SELECT * FROM ''",
        "SELECT FROM 'a'",
        "SELECT * FROM a",
        "SELECT nosuch() FROM 'a'",
        "SELECT topic(1, 2) FROM 'a'",
        "SELECT * FROM 'a' WHERE",
        "SELECT * FROM 'a' trailing",
        "SELECT a AS FROM 'a'",
    ],
)
def test_invalid_statements_are_rejected_at_parse(sql: str) -> None:
    with pytest.raises(IotSqlError):
        parse(sql)


# --- properties ------------------------------------------------------------------------------

_quick = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
_level = st.text(alphabet="abcXYZ019-_:", min_size=0, max_size=4)
_topic = st.lists(_level, min_size=1, max_size=6).map("/".join)


@_quick
@given(_topic)
def test_every_topic_matches_itself_and_hash(topic: str) -> None:
    assert topic_matches(topic, topic)
    assert topic_matches("#", topic)


@_quick
@given(st.lists(_level, min_size=1, max_size=6))
def test_plus_per_level_matches_exactly_that_depth(levels: list[str]) -> None:
    topic = "/".join(levels)
    assert topic_matches("/".join("+" for _ in levels), topic)
    assert not topic_matches("/".join("+" for _ in [*levels, "x"]), topic)
    if len(levels) > 1:
        assert not topic_matches("/".join("+" for _ in levels[:-1]), topic)


@_quick
@given(st.lists(_level, min_size=1, max_size=6), st.integers(min_value=1, max_value=8))
def test_topic_n_is_the_nth_segment(levels: list[str], n: int) -> None:
    topic = "/".join(levels)
    result = run(f"SELECT topic({n}) AS segment FROM '#'", "{}", topic=topic)
    assert result == ({"segment": levels[n - 1]} if n <= len(levels) else {})


@_quick
@given(st.dictionaries(st.text(alphabet="abcdef", min_size=1), st.integers() | st.text(), max_size=5))
def test_select_star_round_trips_any_object(document: dict[str, object]) -> None:
    assert run("SELECT * FROM 'a/b'", json.dumps(document), topic="a/b") == document
