"""The MQTT topic scheme (watershed.topics), with and without a stage prefix, through the local
IoT SQL engine: the rules pick each stage's own messages and read the right topic levels."""

from __future__ import annotations

import json

import pytest

from local.iotsql import UNDEFINED, Message, parse
from watershed.topics import Scheme

PLAIN, DEV = Scheme(), Scheme("dev")


def test_the_unprefixed_scheme_is_the_documented_one() -> None:
    assert PLAIN.data("s1", "b") == "things/s1/data/b"
    assert PLAIN.expected("s1", "g") == "things/s1/config/expected/g"
    assert PLAIN.reported("s1", "g") == "things/s1/config/reported/g"
    assert PLAIN.client_id("s1") == "thing:s1"
    assert PLAIN.expected_for_every_station() == "things/*/config/expected/*"


def test_a_prefix_puts_every_topic_and_client_id_of_the_stage_under_it() -> None:
    assert DEV.data("s1", "b") == "dev/things/s1/data/b"
    assert DEV.publish_patterns("s1") == ("dev/things/s1/data/*", "dev/things/s1/config/reported/*")
    assert DEV.expected_pattern("s1") == "dev/things/s1/config/expected/*"
    assert DEV.client_id("s1") == "dev:thing:s1"
    assert DEV.station_of_client("dev:thing:s1") == "s1"
    assert DEV.station_of_client("thing:s1") is None
    assert PLAIN.station_of_client("dev:thing:s1") is None
    with pytest.raises(ValueError):
        Scheme("a/b")


@pytest.mark.parametrize("scheme", [PLAIN, DEV], ids=["plain", "prefixed"])
def test_each_rule_reads_station_bucket_and_group_from_its_own_topics(scheme: Scheme) -> None:
    data = parse(scheme.data_rule()).evaluate(Message(scheme.data("s1", "b7"), b"[]", client_id="c"))
    assert (data["station"], data["bucket"]) == ("s1", "b7")
    reported = parse(scheme.reported_rule()).evaluate(Message(scheme.reported("s1", "g2"), b"[]"))
    assert (reported["station"], reported["configGroup"]) == ("s1", "g2")
    other = Scheme("prod" if scheme.prefix else "dev")
    assert parse(scheme.data_rule()).evaluate(Message(other.data("s1", "b7"), b"[]")) is UNDEFINED


def test_the_presence_rule_takes_connects_and_disconnects_of_its_stage_only() -> None:
    def event(client: str, kind: str) -> Message:
        body = {"clientId": client, "eventType": kind, "timestamp": 1}
        return Message(f"$aws/events/presence/{kind}/{client}", json.dumps(body).encode())

    dev, plain = parse(DEV.presence_rule()), parse(PLAIN.presence_rule())
    assert dev.evaluate(event("dev:thing:s1", "connected"))["clientId"] == "dev:thing:s1"
    assert dev.evaluate(event("dev:thing:s1", "disconnected")) is not UNDEFINED
    assert dev.evaluate(event("prod:thing:s1", "connected")) is UNDEFINED
    assert plain.evaluate(event("thing:s1", "connected")) is not UNDEFINED
    assert plain.evaluate(event("thing:s1", "subscribed")) is UNDEFINED
