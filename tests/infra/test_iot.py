"""IoT Core from the manifest: custom authorizer + domain configuration, topic rules, their DLQ."""

from __future__ import annotations

from typing import Any

import pytest

from functions.manifest import Access, Function, Kind, TopicRule
from infra.iot import ASYNC_RETRIES, IOT_SQL_VERSION
from tests.infra.support import Synth, as_list, references, synthesize


def _queue_id(synth: Synth) -> str:
    return synth.logical_id(synth.stack.storage.queues["mqtt_dlq"])


def test_each_topic_rule_has_its_sql_lambda_action_and_dlq_error_action(synth: Synth) -> None:
    topic_rules = synth.of_type("AWS::IoT::TopicRule").items()
    rules = {r["Properties"]["TopicRulePayload"]["Sql"]: (rule_id, r["Properties"]) for rule_id, r in topic_rules}
    manifest_rules = [(f, rule) for f in synth.functions for rule in f.topic_rules]
    assert manifest_rules
    assert len(rules) == len(manifest_rules)
    permissions = synth.of_type("AWS::Lambda::Permission")
    queue_id = _queue_id(synth)
    for function, rule in manifest_rules:
        rule_id, props = rules[rule.sql_for(synth.stack.settings.topics)]
        payload = props["TopicRulePayload"]
        assert payload["AwsIotSqlVersion"] == IOT_SQL_VERSION
        assert payload["RuleDisabled"] is False
        (action,) = payload["Actions"]
        assert references(action["Lambda"]["FunctionArn"]) == {synth.function_id(function.name)}
        assert references(payload["ErrorAction"]["Sqs"]["QueueUrl"]) == {queue_id}
        assert any(
            p["Properties"]["Principal"] == "iot.amazonaws.com"
            and references(p["Properties"]["FunctionName"]) == {synth.function_id(function.name)}
            and references(p["Properties"]["SourceArn"]) == {rule_id}
            for p in permissions.values()
        )


def test_real_manifest_rules_cover_data_reported_configs_and_presence(real: Synth) -> None:
    sql = {r["Properties"]["TopicRulePayload"]["Sql"] for r in real.of_type("AWS::IoT::TopicRule").values()}
    sources = {s.split(" FROM ", 1)[1].split(" WHERE ", 1)[0] for s in sql}
    assert sources == {"'things/+/data/+'", "'things/+/config/reported/+'", "'$aws/events/presence/+/+'"}


def test_error_action_role_may_only_send_to_the_dlq(synth: Synth) -> None:
    (rule,) = list(synth.of_type("AWS::IoT::TopicRule").values())[:1]
    (role_id,) = references(rule["Properties"]["TopicRulePayload"]["ErrorAction"]["Sqs"]["RoleArn"])
    statements = [
        s
        for p in synth.of_type("AWS::IAM::Policy").values()
        if {"Ref": role_id} in p["Properties"]["Roles"]
        for s in p["Properties"]["PolicyDocument"]["Statement"]
    ]
    assert statements
    for statement in statements:
        assert set(as_list(statement["Action"])) <= {"sqs:SendMessage", "sqs:GetQueueAttributes", "sqs:GetQueueUrl"}
        assert references(statement["Resource"]) == {_queue_id(synth)}


def test_rule_targets_retry_then_fail_over_to_the_dlq(synth: Synth) -> None:
    """IoT invokes a rule's function asynchronously: Lambda retries, then parks the event in the DLQ."""
    configs = {
        next(iter(references(c["Properties"]["FunctionName"]))): c["Properties"]
        for c in synth.of_type("AWS::Lambda::EventInvokeConfig").values()
    }
    with_rules = {synth.function_id(f.name) for f in synth.functions if f.topic_rules}
    assert set(configs) == with_rules
    for props in configs.values():
        assert props["MaximumRetryAttempts"] == ASYNC_RETRIES
        assert 60 <= props["MaximumEventAgeInSeconds"] <= 21600
        assert references(props["DestinationConfig"]["OnFailure"]["Destination"]) == {_queue_id(synth)}


def test_a_rule_function_without_dlq_write_access_is_refused(synthetic_code: Any) -> None:
    broken = (Function("device_data", kind=Kind.WORKER, topic_rules=(TopicRule("r", "SELECT * FROM 'a/b'"),)),)
    with pytest.raises(Exception, match="mqtt_dlq"):
        synthesize(broken, code_root=synthetic_code)
    reader = (
        Function(
            "device_data",
            kind=Kind.WORKER,
            queues={"mqtt_dlq": Access.READ},
            topic_rules=(TopicRule("r", "SELECT * FROM 'a/b'"),),
        ),
    )
    with pytest.raises(Exception, match="mqtt_dlq"):
        synthesize(reader, code_root=synthetic_code)


def test_dlq_is_encrypted_tls_only_and_keeps_messages_two_weeks(synth: Synth) -> None:
    queue = synth.resources[_queue_id(synth)]["Properties"]
    assert queue["SqsManagedSseEnabled"] is True
    assert queue["MessageRetentionPeriod"] == 14 * 24 * 3600


def test_iot_authorizer_exists_and_is_the_domain_default(synth: Synth) -> None:
    iot_authorizers = [f for f in synth.functions if f.kind is Kind.IOT_AUTHORIZER]
    authorizers = synth.of_type("AWS::IoT::Authorizer")
    domains = synth.of_type("AWS::IoT::DomainConfiguration")
    assert len(authorizers) == len(domains) == len(iot_authorizers) == 1
    ((authorizer_id, authorizer),) = authorizers.items()
    props = authorizer["Properties"]
    assert props["SigningDisabled"] is True
    assert props["Status"] == "ACTIVE"
    assert references(props["AuthorizerFunctionArn"]) == {synth.function_id(iot_authorizers[0].name)}
    (domain,) = domains.values()
    assert domain["Properties"]["AuthorizerConfig"]["DefaultAuthorizerName"] == props["AuthorizerName"]
    assert domain["Properties"]["AuthenticationType"] == "CUSTOM_AUTH"
    assert domain["Properties"]["DomainConfigurationStatus"] == "ENABLED"
    assert authorizer_id in as_list(domain.get("DependsOn", []))
    assert any(
        p["Properties"]["Principal"] == "iot.amazonaws.com"
        and p["Properties"]["Action"] == "lambda:InvokeFunction"
        and references(p["Properties"]["FunctionName"]) == {synth.function_id(iot_authorizers[0].name)}
        and references(p["Properties"]["SourceArn"]) == {authorizer_id}
        for p in synth.of_type("AWS::Lambda::Permission").values()
    )


def _iot_statements(synth: Synth, function: str) -> list[dict[str, Any]]:
    role = {"Ref": synth.logical_id(synth.stack.functions.roles[function])}
    return [
        s
        for p in synth.of_type("AWS::IAM::Policy").values()
        if role in p["Properties"]["Roles"]
        for s in p["Properties"]["PolicyDocument"]["Statement"]
        if any(a.startswith("iot") for a in as_list(s["Action"]))
    ]


def _topic_arn(pattern: str) -> dict[str, Any]:
    return {
        "Fn::Join": [
            "",
            [
                "arn:",
                {"Ref": "AWS::Partition"},
                ":iot:",
                {"Ref": "AWS::Region"},
                ":",
                {"Ref": "AWS::AccountId"},
                f":topic/{pattern}",
            ],
        ]
    }


def test_functions_publish_retained_only_to_their_manifest_topics(synth: Synth) -> None:
    publishers = [f for f in synth.functions if f.iot_publish]
    assert publishers
    for function in synth.functions:
        statements = _iot_statements(synth, function.name)
        if not function.iot_publish:
            assert not statements, function.name
            continue
        (statement,) = statements
        assert statement["Effect"] == "Allow"
        assert sorted(as_list(statement["Action"])) == ["iot:Publish", "iot:RetainPublish"]
        assert as_list(statement["Resource"]) == [_topic_arn(p) for p in function.iot_publish]


def test_configs_may_publish_only_expected_config_topics(real: Synth) -> None:
    """The native configs and the ORing facade's configs (issue 23) set expected configs; nothing else publishes."""
    for name in ("configs", "oring"):
        (statement,) = _iot_statements(real, name)
        assert statement["Resource"] == _topic_arn("things/*/config/expected/*")
    assert [f.name for f in real.functions if f.iot_publish] == ["configs", "oring"]


def test_publishers_get_the_iot_data_endpoint_when_the_context_names_one(synthetic_code: Any) -> None:
    endpoint = "https://abc123-ats.iot.eu-west-1.amazonaws.com"
    manifest = (
        Function("redrive", kind=Kind.WORKER, iot_publish=("things/*/config/expected/*",)),
        Function("dlq_reader", kind=Kind.WORKER),
    )
    synth = synthesize(manifest, code_root=synthetic_code, context={"iotDataEndpoint": endpoint})
    assert synth.function("redrive")["Properties"]["Environment"]["Variables"]["IOT_DATA_ENDPOINT"] == endpoint
    assert "IOT_DATA_ENDPOINT" not in synth.function("dlq_reader")["Properties"]["Environment"]["Variables"]
