"""The MQTT policies (services.mqtt.policy): a thing's and an app's, their partition and topics (watershed.topics)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from local.mqtt import IotPolicy
from watershed import topics
from watershed.services.mqtt import policy


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
    document = policy.thing_policy("s1", policy.arn_prefix(function_arn))
    assert all(resource.startswith(prefix + ":") for resource in _resources(document))


def test_a_stage_prefix_reaches_the_policy_and_the_credentials_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(topics, "SCHEME", topics.Scheme("dev"))
    arn = "arn:aws:iot:eu-west-1:1"
    assert _resources(policy.thing_policy("s1", arn)) == [
        f"{arn}:client/dev:thing:s1",
        f"{arn}:topic/dev/things/s1/data/*",
        f"{arn}:topic/dev/things/s1/config/reported/*",
        f"{arn}:topicfilter/dev/things/s1/config/expected/*",
        f"{arn}:topicfilter/dev/things/s1/data/*",
        f"{arn}:topic/dev/things/s1/config/expected/*",
        f"{arn}:topic/dev/things/s1/data/*",
    ]
    assert policy.app_client_id("a1") == "dev:app:a1"
    assert policy.app_of_client("dev:app:a1") == "a1"
    assert policy.app_of_client("app:a1") is None
    assert topics.SCHEME.station_of_client("dev:thing:s1") == "s1"
    assert topics.SCHEME.station_of_client("thing:s1") is None
    assert topics.SCHEME.expected("s1", "g") == "dev/things/s1/config/expected/g"


# what the policies allow, as the local broker's evaluator (the same one IoT Core's rules follow) reads them

ARN = "arn:aws:iot:eu-west-1:123456789012"
MINE = [str(uuid.UUID(int=i)) for i in range(3)]
THEIRS = str(uuid.UUID(int=999))


def _app(things: list[str]) -> IotPolicy:
    return IotPolicy.from_documents(policy.app_policy_documents("a1", things, ARN))


def _topic(topic: str) -> str:
    return f"{ARN}:topic/{topic}"


def _filter(topic_filter: str) -> str:
    return f"{ARN}:topicfilter/{topic_filter}"


def test_an_app_receives_the_data_of_its_things_only_whatever_filter_it_subscribed() -> None:
    app = _app(MINE)
    assert app.allows("iot:Connect", f"{ARN}:client/app:a1")
    assert not app.allows("iot:Connect", f"{ARN}:client/thing:{MINE[0]}")
    assert app.allows("iot:Subscribe", _filter("things/+/data/#"))
    assert not app.allows("iot:Subscribe", _filter("#"))
    for thing in MINE:
        assert app.allows("iot:Receive", _topic(f"things/{thing}/data/main"))
        assert app.allows("iot:Receive", _topic(f"things/{thing}/config/reported/g"))
    assert not app.allows("iot:Receive", _topic(f"things/{THEIRS}/data/main"))
    assert not app.allows("iot:Receive", _topic(f"things/{THEIRS}/config/expected/g"))


def test_an_app_publishes_expected_configs_of_its_things_and_no_data() -> None:
    app = _app(MINE)
    assert app.allows("iot:Publish", _topic(f"things/{MINE[1]}/config/expected/g"))
    assert not app.allows("iot:Publish", _topic(f"things/{MINE[1]}/data/main"))
    assert not app.allows("iot:Publish", _topic(f"things/{MINE[1]}/config/reported/g"))
    assert not app.allows("iot:Publish", _topic(f"things/{THEIRS}/config/expected/g"))


def test_a_thing_id_that_prefixes_another_grants_nothing_on_the_other() -> None:
    app = _app(["ab"])
    assert app.allows("iot:Receive", _topic("things/ab/data/x"))
    assert not app.allows("iot:Receive", _topic("things/abc/data/x"))


def test_a_thing_subscribes_to_its_own_data_and_expected_configs_only() -> None:
    thing = IotPolicy.from_documents([policy.thing_policy(MINE[0], ARN)])
    assert thing.allows("iot:Subscribe", _filter(f"things/{MINE[0]}/data/#"))
    assert thing.allows("iot:Receive", _topic(f"things/{MINE[0]}/data/main"))
    assert not thing.allows("iot:Subscribe", _filter("things/+/data/#"))
    assert not thing.allows("iot:Receive", _topic(f"things/{MINE[1]}/data/main"))
    assert thing.allows("iot:Publish", _topic(f"things/{MINE[0]}/data/main"))
    assert not thing.allows("iot:Publish", _topic(f"things/{MINE[0]}/config/expected/g"))


def test_an_app_of_no_things_connects_and_receives_nothing() -> None:
    app = _app([])
    assert app.allows("iot:Connect", f"{ARN}:client/app:a1")
    assert not app.allows("iot:Receive", _topic(f"things/{MINE[0]}/data/main"))


def test_many_things_are_packed_into_documents_iot_core_accepts_every_thing_in_one() -> None:
    things = [str(uuid.UUID(int=i)) for i in range(60)]
    documents = policy.app_policy_documents("a1", things, ARN)
    assert 1 < len(documents) <= policy.MAX_POLICY_DOCUMENTS
    assert all(len(document) <= policy.MAX_POLICY_CHARS for document in documents)
    app = IotPolicy.from_documents(documents)
    assert all(app.allows("iot:Receive", _topic(f"things/{thing}/data/b")) for thing in things)
    assert all(app.allows("iot:Publish", _topic(f"things/{thing}/config/expected/g")) for thing in things)


def test_more_things_than_ten_documents_hold_is_refused_not_truncated() -> None:
    things = [str(uuid.UUID(int=i)) for i in range(500)]
    with pytest.raises(policy.PolicyTooLarge):
        policy.app_policy_documents("a1", things, ARN)
