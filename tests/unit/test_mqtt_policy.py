"""The device policy the MQTT authorizer returns: its partition and its topics (watershed.topics)."""

from __future__ import annotations

from typing import Any

import pytest

from watershed import topics
from watershed.services.mqtt import authorizer


def _resources(policy: dict[str, Any]) -> list[str]:
    found: list[str] = []
    for statement in policy["Statement"]:
        resource = statement["Resource"]
        found.extend(resource if isinstance(resource, list) else [resource])
    return found


@pytest.mark.parametrize(
    ("function_arn", "prefix"),
    [
        ("arn:aws:lambda:eu-west-1:123456789012:function:auth", "arn:aws:iot:eu-west-1:123456789012"),
        ("arn:aws-cn:lambda:cn-north-1:123456789012:function:auth", "arn:aws-cn:iot:cn-north-1:123456789012"),
        ("arn:aws-us-gov:lambda:us-gov-west-1:1:function:auth", "arn:aws-us-gov:iot:us-gov-west-1:1"),
        (None, "arn:aws:iot:*:*"),
    ],
)
def test_the_policy_takes_partition_region_and_account_from_the_authorizer_arn(
    function_arn: str | None, prefix: str
) -> None:
    policy = authorizer.station_policy("s1", authorizer._iot_arn_prefix(function_arn))
    assert all(resource.startswith(prefix + ":") for resource in _resources(policy))


def test_a_stage_prefix_reaches_the_policy_and_the_credentials_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(topics, "SCHEME", topics.Scheme("dev"))
    arn = "arn:aws:iot:eu-west-1:1"
    assert _resources(authorizer.station_policy("s1", arn)) == [
        f"{arn}:client/dev:thing:s1",
        f"{arn}:topic/dev/things/s1/data/*",
        f"{arn}:topic/dev/things/s1/config/reported/*",
        f"{arn}:topicfilter/dev/things/s1/config/expected/*",
        f"{arn}:topic/dev/things/s1/config/expected/*",
    ]
    assert topics.SCHEME.station_of_client("dev:thing:s1") == "s1"
    assert topics.SCHEME.station_of_client("thing:s1") is None
    assert topics.SCHEME.expected("s1", "g") == "dev/things/s1/config/expected/g"
