"""The MQTT topic scheme, in one place: the manifest's topic rules, the device policy the
authorizer returns, the configs' retained publishes and the local broker all read it here.

A station publishes telemetry on `things/<station>/data/<bucket>`, reports a config on
`things/<station>/config/reported/<group>`, and receives its expected config (retained) on
`things/<station>/config/expected/<group>`; it connects as client `thing:<station>`.

IoT Core has one topic space per account and region, so two stages in one account would see each
other's devices (every stage's rules select `things/+/data/+`). One account per stage is the
default (docs/deploy.md); an account that hosts several stages gives each a prefix
(`-c mqttTopicPrefix=dev`, MQTT_TOPIC_PREFIX in the functions): every topic then lives under
`<prefix>/`, every client id starts with `<prefix>:`, and each stage's rules select only its own.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from typing import Any

from watershed.config import MQTT_TOPIC_PREFIX_ENV as PREFIX_ENV

PRESENCE_FILTER = "$aws/events/presence/+/+"
"""AWS IoT's lifecycle events, `$aws/events/presence/connected|disconnected/<client id>`."""
_PREFIX = re.compile(r"[A-Za-z0-9_-]{1,32}")
_CLIENT = "thing:"


@dataclass(frozen=True)
class Scheme:
    """The topics and client ids of one stage; `prefix` empty: the account holds this stage only."""

    prefix: str = ""

    def __post_init__(self) -> None:
        if self.prefix and not _PREFIX.fullmatch(self.prefix):
            raise ValueError(f"MQTT topic prefix {self.prefix!r}: 1-32 letters, digits, '_' or '-'")

    def topic(self, relative: str) -> str:
        """A topic, filter or IAM pattern of the unprefixed scheme (`things/...`), in this stage."""
        return f"{self.prefix}/{relative}" if self.prefix else relative

    @property
    def _depth(self) -> int:
        """How many topic levels the prefix adds before `things` (IoT SQL's topic(n) counts from 1)."""
        return 1 if self.prefix else 0

    # one station's topics

    def data(self, station: str, bucket: str) -> str:
        return self.topic(f"things/{station}/data/{bucket}")

    def expected(self, station: str, group: str) -> str:
        return self.topic(f"things/{station}/config/expected/{group}")

    def reported(self, station: str, group: str) -> str:
        return self.topic(f"things/{station}/config/reported/{group}")

    def client_id(self, station: str) -> str:
        return f"{self.prefix}:{_CLIENT}{station}" if self.prefix else f"{_CLIENT}{station}"

    def station_of_client(self, client: str | None) -> str | None:
        """The station of a client id of this stage (`[<prefix>:]thing:<id>`); None for any other."""
        head = f"{self.prefix}:{_CLIENT}" if self.prefix else _CLIENT
        if not client or not client.startswith(head):
            return None
        return client.removeprefix(head) or None

    # what a station's policy allows (IAM resource patterns after `topic/` or `topicfilter/`)

    def publish_patterns(self, station: str) -> tuple[str, ...]:
        return (self.data(station, "*"), self.reported(station, "*"))

    def expected_pattern(self, station: str) -> str:
        return self.expected(station, "*")

    def expected_for_every_station(self) -> str:
        """What the `configs` function may publish to (manifest `iot_publish`, made relative)."""
        return self.expected("*", "*")

    # topic rules (IoT SQL 2016-03-23)

    def data_rule(self) -> str:
        station, bucket = 2 + self._depth, 4 + self._depth
        return (
            f"SELECT encode(*, 'base64') AS payload, topic() AS topic, topic({station}) AS station, "
            f"topic({bucket}) AS bucket, clientid() AS clientId, timestamp() AS receivedAt "
            f"FROM '{self.topic('things/+/data/+')}'"
        )

    def reported_rule(self) -> str:
        station, group = 2 + self._depth, 5 + self._depth
        return (
            f"SELECT encode(*, 'base64') AS payload, topic() AS topic, topic({station}) AS station, "
            f"topic({group}) AS configGroup, clientid() AS clientId, timestamp() AS receivedAt "
            f"FROM '{self.topic('things/+/config/reported/+')}'"
        )

    def presence_rule(self) -> str:
        """Connects and disconnects only (no other event type), of this stage's clients only."""
        where = "(eventType = 'connected' OR eventType = 'disconnected')"
        if self.prefix:
            where += f" AND startswith(clientId, '{self.prefix}:')"
        return f"SELECT * FROM '{PRESENCE_FILTER}' WHERE {where}"


def config_message(values: dict[str, Any]) -> bytes:
    """The retained expected config as a device reads it: an array of `{"id", "value"}` (the
    ORing payload shape Watershed's device contract adopted)."""
    return json.dumps([{"id": key, "value": value} for key, value in values.items()]).encode()


def from_environment() -> Scheme:
    return Scheme(os.environ.get(PREFIX_ENV, ""))


SCHEME = from_environment()
"""This process's scheme: a function's stage prefix comes from MQTT_TOPIC_PREFIX (set by infra/)."""
