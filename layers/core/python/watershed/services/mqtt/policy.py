"""The IoT policies of MQTT clients, in one place: the cloud's custom authorizer returns them and
the local broker (local/mqtt.py) enforces the very documents the same authorizer code returned.

A thing (`thing:<id>`) publishes its data and reported configs, and subscribes to its expected
configs and to its own data. An application (`app:<identity>`) receives the data and configs of
its organisation's things and publishes their expected configs; it publishes no data.

Subscribing is not where organisations are kept apart: an app may subscribe to any filter under
`things/` (`things/+/data/#` is the usual one), and IoT Core then checks `iot:Receive` on every
message it would deliver, retained ones included. That Receive is granted thing by thing, so an
app of organisation A never receives a message of B's things, whatever wildcard it used. The cost:
each thing adds two resources to the app's policy, and IoT Core takes at most
MAX_POLICY_DOCUMENTS documents of MAX_POLICY_CHARS characters from an authorizer.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from watershed import topics

VERSION = "2012-10-17"
MAX_POLICY_DOCUMENTS = 10
"""IoT Core's limit on the policy documents one custom authorizer answer carries."""
MAX_POLICY_CHARS = 2048
"""IoT Core's limit on the length of each of those documents."""


class PolicyTooLarge(ValueError):
    """An app's organisation has more things than fit in the documents IoT Core accepts."""


def arn_prefix(function_arn: str | None) -> str:
    """`arn:<partition>:iot:<region>:<account>` from the authorizer's own function ARN, partition
    included (`aws-cn`, `aws-us-gov`: a literal `aws` would allow nothing there); `*` when unknown."""
    parts = (function_arn or "").split(":")
    if len(parts) >= 5 and parts[1] and parts[3] and parts[4]:
        return f"arn:{parts[1]}:iot:{parts[3]}:{parts[4]}"
    return "arn:aws:iot:*:*"


def _allow(action: str, resources: list[str]) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resources[0] if len(resources) == 1 else resources}


def thing_policy(station_id: str, prefix: str) -> dict[str, Any]:
    """Connect as itself; publish its data and reported configs; read its expected configs and its data."""
    scheme = topics.SCHEME
    data = scheme.data(station_id, "*")
    expected = scheme.expected_pattern(station_id)
    return {
        "Version": VERSION,
        "Statement": [
            _allow("iot:Connect", [f"{prefix}:client/{scheme.client_id(station_id)}"]),
            _allow("iot:Publish", [f"{prefix}:topic/{p}" for p in scheme.publish_patterns(station_id)]),
            _allow("iot:Subscribe", [f"{prefix}:topicfilter/{expected}", f"{prefix}:topicfilter/{data}"]),
            _allow("iot:Receive", [f"{prefix}:topic/{expected}", f"{prefix}:topic/{data}"]),
        ],
    }


def app_client_id(identity: str) -> str:
    """`app:<identity>`, after the stage's prefix as thing client ids are."""
    scheme = topics.SCHEME
    return f"{scheme.prefix}:app:{identity}" if scheme.prefix else f"app:{identity}"


def app_of_client(client: str | None) -> str | None:
    """The identity of an app client id of this stage; None for any other client."""
    head = app_client_id("")
    if not client or not client.startswith(head):
        return None
    return client.removeprefix(head) or None


def _thing_resources(station_id: str, prefix: str) -> tuple[str, str]:
    """What one thing adds to an app's policy: receive all its topics, publish its expected configs."""
    scheme = topics.SCHEME
    return (
        f"{prefix}:topic/{scheme.topic(f'things/{station_id}/*')}",
        f"{prefix}:topic/{scheme.expected_pattern(station_id)}",
    )


def _app_document(head: list[dict[str, Any]], receive: list[str], publish: list[str]) -> dict[str, Any]:
    statements = list(head)
    if receive:
        statements.append(_allow("iot:Receive", receive))
    if publish:
        statements.append(_allow("iot:Publish", publish))
    return {"Version": VERSION, "Statement": statements}


def _size(document: dict[str, Any]) -> int:
    return len(json.dumps(document))


def app_policy_documents(identity: str, station_ids: Iterable[str], prefix: str) -> list[str]:
    """The app's policy as JSON documents, things packed into as few as fit; PolicyTooLarge when
    even MAX_POLICY_DOCUMENTS are not enough."""
    scheme = topics.SCHEME
    head = [
        _allow("iot:Connect", [f"{prefix}:client/{app_client_id(identity)}"]),
        _allow("iot:Subscribe", [f"{prefix}:topicfilter/{scheme.topic('things/*')}"]),
    ]
    documents: list[dict[str, Any]] = []
    receive: list[str] = []
    publish: list[str] = []
    for station_id in station_ids:
        thing_receive, thing_publish = _thing_resources(station_id, prefix)
        candidate = _app_document(head if not documents else [], [*receive, thing_receive],
                                  [*publish, thing_publish])
        if _size(candidate) > MAX_POLICY_CHARS and (receive or publish):
            documents.append(_app_document(head if not documents else [], receive, publish))
            receive, publish = [], []
        receive.append(thing_receive)
        publish.append(thing_publish)
    documents.append(_app_document(head if not documents else [], receive, publish))
    if len(documents) > MAX_POLICY_DOCUMENTS or any(_size(d) > MAX_POLICY_CHARS for d in documents):
        raise PolicyTooLarge(
            f"app {identity}: its things need {len(documents)} policy documents, IoT Core takes {MAX_POLICY_DOCUMENTS}"
        )
    return [json.dumps(document) for document in documents]
