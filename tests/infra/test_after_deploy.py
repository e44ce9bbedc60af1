"""What a real account would trip over after `cdk deploy` (issue 25), asserted on the template.

Each test names the point it covers; each failed on the template before its fix.
"""

from __future__ import annotations

from typing import Any

import pytest

from functions.manifest import FUNCTIONS, Kind
from tests.infra.conftest import PROD_ALARM_EMAIL
from tests.infra.support import Synth, as_list, references, synthesize


def _alarm_topic_statements(synth: Synth) -> list[dict[str, Any]]:
    topic_id = synth.logical_id(synth.stack.observability.topic)
    return [
        statement
        for policy in synth.of_type("AWS::SNS::TopicPolicy").values()
        if {"Ref": topic_id} in policy["Properties"]["Topics"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


def test_1_cloudwatch_may_publish_to_the_alarm_topic_for_this_account_only(synth: Synth) -> None:
    statements = _alarm_topic_statements(synth)
    (allow,) = [s for s in statements if s["Effect"] == "Allow"]
    assert allow["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert as_list(allow["Action"]) == ["sns:Publish"]
    assert references(allow["Resource"]) == {synth.logical_id(synth.stack.observability.topic)}
    assert allow["Condition"]["StringEquals"]["aws:SourceAccount"] == {"Ref": "AWS::AccountId"}
    source_arn = allow["Condition"]["ArnLike"]["aws:SourceArn"]
    assert ":cloudwatch:" in str(source_arn) and ":alarm:*" in str(source_arn)
    # TLS stays required: the Deny of enforce_ssl is still there beside the Allow.
    assert any(s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} for s in statements)


def test_1_every_alarm_notifies_the_topic(synth: Synth) -> None:
    topic_id = synth.logical_id(synth.stack.observability.topic)
    for alarm in synth.of_type("AWS::CloudWatch::Alarm").values():
        assert [references(a) for a in alarm["Properties"]["AlarmActions"]] == [{topic_id}]


def test_1_a_prod_stage_needs_a_subscriber(prod: Synth) -> None:
    (subscription,) = prod.of_type("AWS::SNS::Subscription").values()
    assert subscription["Properties"]["Protocol"] == "email"
    assert subscription["Properties"]["Endpoint"] == PROD_ALARM_EMAIL
    with pytest.raises(ValueError, match="alarmEmail"):
        synthesize(FUNCTIONS, stage="prod", context={"alarmEmail": ""})


def test_6_rest_authorizer_alarms_on_throttles_and_duration_not_on_refusals(real: Synth) -> None:
    (authorizer,) = [f.name for f in FUNCTIONS if f.kind is Kind.REST_AUTHORIZER]
    alarms = real.stack.observability.alarms
    assert f"{authorizer}_errors" not in alarms
    assert {f"{authorizer}_throttles", f"{authorizer}_duration", "api_5xx"} <= set(alarms)
    duration = real.resources[real.logical_id(alarms[f"{authorizer}_duration"])]["Properties"]
    assert duration["MetricName"] == "Duration" and duration["ExtendedStatistic"] == "p99"
    others = [f.name for f in FUNCTIONS if f.kind is not Kind.REST_AUTHORIZER]
    assert all(f"{name}_errors" in alarms for name in others)


def test_8_dashboard_name_carries_the_region(synth: Synth) -> None:
    (dashboard,) = synth.of_type("AWS::CloudWatch::Dashboard").values()
    name = dashboard["Properties"]["DashboardName"]
    assert {"Ref": "AWS::Region"} in name["Fn::Join"][1]
