"""What a real account would trip over after `cdk deploy` (issue 25), asserted on the template.

Each test names the point it covers; each failed on the template before its fix.
"""

from __future__ import annotations

import json
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template

from app import build
from functions.manifest import FUNCTIONS, Function, Kind
from infra.account import ACCOUNT_STACK, AccountStack
from infra.functions import API_INTEGRATION_TIMEOUT_S, IOT_AUTHORIZER_TIMEOUT_LIMIT_S
from tests.infra.conftest import PROD_ALARM_EMAIL
from tests.infra.support import CONTEXT, SYNTHETIC_FUNCTIONS, Synth, as_list, references, synthesize
from watershed.topics import PREFIX_ENV


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
    insecure = {"Bool": {"aws:SecureTransport": "false"}}
    assert any(s["Effect"] == "Deny" and s["Condition"] == insecure for s in statements)


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


def test_2_no_stage_owns_the_api_gateway_account_setting(synth: Synth) -> None:
    assert not synth.of_type("AWS::ApiGateway::Account")
    for role in synth.of_type("AWS::IAM::Role").values():
        assert "AmazonAPIGatewayPushToCloudWatchLogs" not in json.dumps(role["Properties"].get("ManagedPolicyArns"))


def test_2_the_bootstrap_stack_holds_it_retained_and_every_stage_depends_on_it() -> None:
    app = cdk.App(context={**CONTEXT, "aws:cdk:disable-asset-staging": True}, builtin_cloud_formation_validation=False)
    stage = build(app)
    (account,) = [s for s in app.node.children if isinstance(s, AccountStack)]
    assert account in stage.dependencies
    assert account.stack_name == ACCOUNT_STACK and not ACCOUNT_STACK.startswith("Watershed-")
    template = Template.from_stack(account).to_json()["Resources"]
    (setting_id,) = [k for k, v in template.items() if v["Type"] == "AWS::ApiGateway::Account"]
    setting = template[setting_id]
    (role_id,) = references(setting["Properties"]["CloudWatchRoleArn"])
    for resource in (setting, template[role_id]):
        assert resource["DeletionPolicy"] == "Retain" and resource["UpdateReplacePolicy"] == "Retain"
    role = template[role_id]["Properties"]
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {"Service": "apigateway.amazonaws.com"}
    assert "AmazonAPIGatewayPushToCloudWatchLogs" in json.dumps(role["ManagedPolicyArns"])


def test_7_mqtt_authorizer_has_reserved_concurrency_and_answers_within_iot_limit(synth: Synth) -> None:
    (authorizer,) = [f for f in synth.functions if f.kind is Kind.IOT_AUTHORIZER]
    props = synth.function(authorizer.name)["Properties"]
    assert props["ReservedConcurrentExecutions"] == synth.stack.settings.mqtt_authorizer_concurrency > 0
    assert props["Timeout"] < IOT_AUTHORIZER_TIMEOUT_LIMIT_S
    others = [f for f in synth.functions if f.kind is not Kind.IOT_AUTHORIZER]
    assert all("ReservedConcurrentExecutions" not in synth.function(f.name)["Properties"] for f in others)


def test_7_an_iot_authorizer_at_iot_limit_is_refused(synthetic_code: Any) -> None:
    slow = (Function("device_auth", kind=Kind.IOT_AUTHORIZER, timeout_s=IOT_AUTHORIZER_TIMEOUT_LIMIT_S),)
    with pytest.raises(ValueError, match="under 5"):
        synthesize(slow, code_root=synthetic_code)


def test_7_presence_rule_selects_only_connected_and_disconnected(real: Synth) -> None:
    (sql,) = [
        r["Properties"]["TopicRulePayload"]["Sql"]
        for r in real.of_type("AWS::IoT::TopicRule").values()
        if "$aws/events/presence/" in r["Properties"]["TopicRulePayload"]["Sql"]
    ]
    where = sql.split(" WHERE ", 1)[1]
    assert where == "(eventType = 'connected' OR eventType = 'disconnected')"


def test_8_stream_mappings_start_at_trim_horizon(synth: Synth) -> None:
    mappings = synth.of_type("AWS::Lambda::EventSourceMapping").values()
    assert mappings
    assert {m["Properties"]["StartingPosition"] for m in mappings} == {"TRIM_HORIZON"}


def test_8_api_functions_end_before_api_gateway_gives_up(synth: Synth) -> None:
    routed = [f for f in synth.functions if f.routes]
    for function in routed:
        assert synth.function(function.name)["Properties"]["Timeout"] <= API_INTEGRATION_TIMEOUT_S - 3


def test_8_an_http_function_at_the_integration_limit_is_refused(synthetic_code: Any) -> None:
    slow = (Function("ingest", timeout_s=API_INTEGRATION_TIMEOUT_S),)
    with pytest.raises(ValueError, match="at most 26"):
        synthesize(slow, code_root=synthetic_code)


@pytest.mark.parametrize("which", ["real", "synthetic", "prod"])
def test_8_every_log_group_has_the_stage_retention_and_removal(which: str, request: pytest.FixtureRequest) -> None:
    synth: Synth = request.getfixturevalue(which)
    settings = synth.stack.settings
    groups = synth.of_type("AWS::Logs::LogGroup")
    for group in groups.values():
        assert group["Properties"]["RetentionInDays"] == settings.log_retention_days
        assert group["DeletionPolicy"] == ("Retain" if settings.is_prod else "Delete")
    # Nothing logs to a group Lambda or Firehose would create (and keep forever) on their own.
    (delivery,) = synth.of_type("AWS::KinesisFirehose::DeliveryStream").values()
    logging = delivery["Properties"]["ExtendedS3DestinationConfiguration"]["CloudWatchLoggingOptions"]
    assert logging["Enabled"] is True and references(logging["LogGroupName"]) <= set(groups)
    named_after = {ref for g in groups.values() for ref in references(g["Properties"].get("LogGroupName"))}
    for function_id, function in synth.of_type("AWS::Lambda::Function").items():
        own = references(function["Properties"].get("LoggingConfig", {}).get("LogGroup"))
        assert (own and own <= set(groups)) or function_id in named_after, function_id


def test_4_stream_failures_go_to_s3_with_the_whole_batch_and_raise_an_alarm(synth: Synth) -> None:
    failures = synth.stack.storage.stream_failures
    bucket_id = synth.logical_id(failures)
    mappings = synth.of_type("AWS::Lambda::EventSourceMapping").values()
    assert mappings
    for mapping in mappings:
        destination = mapping["Properties"]["DestinationConfig"]["OnFailure"]["Destination"]
        assert destination == {"Fn::GetAtt": [bucket_id, "Arn"]}
    assert not [q for q in synth.of_type("AWS::SQS::Queue") if "Streams" in q]
    bucket = synth.resources[bucket_id]["Properties"]
    assert {"Id": "StreamFailures", "Prefix": "aws/lambda/"} in bucket["MetricsConfigurations"]
    assert not any("ExpirationInDays" in rule for rule in bucket["LifecycleConfiguration"]["Rules"])
    alarm = synth.resources[synth.logical_id(synth.stack.observability.alarms["stream_failures"])]["Properties"]
    assert (alarm["Namespace"], alarm["MetricName"], alarm["Threshold"]) == ("AWS/S3", "PutRequests", 1)
    assert {"Name": "FilterId", "Value": "StreamFailures"} in alarm["Dimensions"]
    assert {"Name": "BucketName", "Value": {"Ref": bucket_id}} in alarm["Dimensions"]


def _alarm_props(synth: Synth, name: str) -> dict[str, Any]:
    return synth.resources[synth.logical_id(synth.stack.observability.alarms[name])]["Properties"]  # type: ignore[no-any-return]


def test_5_lake_alarms_before_and_when_partitions_overflow_into_errors(synth: Synth) -> None:
    stream_id = synth.logical_id(synth.stack.lake.stream)
    quota = synth.stack.settings.lake_active_partitions
    near, exceeded = _alarm_props(synth, "lake_partitions"), _alarm_props(synth, "lake_partitions_exceeded")
    for alarm, metric in ((near, "PartitionCount"), (exceeded, "PartitionCountExceeded")):
        assert (alarm["Namespace"], alarm["MetricName"], alarm["Statistic"]) == ("AWS/Firehose", metric, "Maximum")
        (dimension,) = alarm["Dimensions"]
        assert dimension["Name"] == "DeliveryStreamName" and references(dimension["Value"]) == {stream_id}
    assert 0 < near["Threshold"] < quota and exceeded["Threshold"] == 1
    lake_id = synth.bucket_id("lake")
    assert {"Id": "LakeErrors", "Prefix": "errors/"} in synth.resources[lake_id]["Properties"]["MetricsConfigurations"]
    errors = _alarm_props(synth, "lake_errors")
    assert (errors["Namespace"], errors["MetricName"], errors["Threshold"]) == ("AWS/S3", "PutRequests", 1)
    assert {"Name": "FilterId", "Value": "LakeErrors"} in errors["Dimensions"]
    assert {"Name": "BucketName", "Value": {"Ref": lake_id}} in errors["Dimensions"]


def test_5_a_raised_partition_quota_moves_the_alarm(synthetic_code: Any) -> None:
    raised = synthesize(SYNTHETIC_FUNCTIONS, code_root=synthetic_code, context={"lakeActivePartitions": 5000})
    assert _alarm_props(raised, "lake_partitions")["Threshold"] == 4000


@pytest.fixture(scope="module")
def prefixed() -> Synth:
    """The real manifest for a stage that shares its account: every topic under `dev2/`."""
    return synthesize(FUNCTIONS, stage="dev2", context={"mqttTopicPrefix": "dev2"})


def test_3_a_stage_prefix_moves_every_rule_grant_and_function_onto_its_own_topics(prefixed: Synth) -> None:
    sql = sorted(r["Properties"]["TopicRulePayload"]["Sql"] for r in prefixed.of_type("AWS::IoT::TopicRule").values())
    sources = {s.split(" FROM ", 1)[1].split(" WHERE ", 1)[0] for s in sql}
    assert sources == {"'dev2/things/+/data/+'", "'dev2/things/+/config/reported/+'", "'$aws/events/presence/+/+'"}
    (data,) = [s for s in sql if "/data/" in s]
    assert "topic(3) AS station" in data and "topic(5) AS bucket" in data
    (presence,) = [s for s in sql if "presence" in s]
    assert presence.endswith(" AND startswith(clientId, 'dev2:')")
    publish = [
        statement
        for policy in prefixed.of_type("AWS::IAM::Policy").values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if "iot:Publish" in as_list(statement["Action"])
    ]
    assert publish
    for statement in publish:
        (arn,) = as_list(statement["Resource"])
        assert arn["Fn::Join"][1][-1] == ":topic/dev2/things/*/config/expected/*"
    for function in FUNCTIONS:
        assert prefixed.function(function.name)["Properties"]["Environment"]["Variables"][PREFIX_ENV] == "dev2"


def test_3_without_a_prefix_the_topics_are_the_account_wide_scheme(real: Synth) -> None:
    sources = {
        r["Properties"]["TopicRulePayload"]["Sql"].split(" FROM ", 1)[1].split(" WHERE ", 1)[0]
        for r in real.of_type("AWS::IoT::TopicRule").values()
    }
    assert sources == {"'things/+/data/+'", "'things/+/config/reported/+'", "'$aws/events/presence/+/+'"}
    for function in FUNCTIONS:
        assert PREFIX_ENV not in real.function(function.name)["Properties"]["Environment"]["Variables"]
