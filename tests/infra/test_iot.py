"""IoT Core from the manifest: custom authorizer + domain configuration, topic rules, their DLQ."""

from __future__ import annotations

from functions.manifest import Kind
from infra.iot import IOT_SQL_VERSION
from tests.infra.support import Synth, references


def test_each_topic_rule_has_its_sql_lambda_action_and_dlq_error_action(synth: Synth) -> None:
    topic_rules = synth.of_type("AWS::IoT::TopicRule").values()
    rules = {r["Properties"]["TopicRulePayload"]["Sql"]: r["Properties"] for r in topic_rules}
    manifest_rules = [(f, rule) for f in synth.functions for rule in f.topic_rules]
    assert len(rules) == len(manifest_rules)
    permissions = synth.of_type("AWS::Lambda::Permission").values()
    if manifest_rules:
        queue_id = synth.logical_id(synth.stack.iot.dead_letters)
    for function, rule in manifest_rules:
        payload = rules[rule.sql]["TopicRulePayload"]
        assert payload["AwsIotSqlVersion"] == IOT_SQL_VERSION
        (action,) = payload["Actions"]
        assert references(action["Lambda"]["FunctionArn"]) == {synth.function_id(function.name)}
        assert references(payload["ErrorAction"]["Sqs"]["QueueUrl"]) == {queue_id}
        assert any(
            p["Properties"]["Principal"] == "iot.amazonaws.com"
            and references(p["Properties"]["FunctionName"]) == {synth.function_id(function.name)}
            for p in permissions
        )
        env = synth.function(function.name)["Properties"]["Environment"]["Variables"]
        assert references(env["MQTT_DLQ_URL"]) == {queue_id}


def test_synthetic_manifest_exercises_topic_rules(synthetic: Synth) -> None:
    assert len(synthetic.of_type("AWS::IoT::TopicRule")) == 2
    (queue,) = [
        q
        for q_id, q in synthetic.of_type("AWS::SQS::Queue").items()
        if q_id == synthetic.logical_id(synthetic.stack.iot.dead_letters)
    ]
    assert queue["Properties"]["SqsManagedSseEnabled"] is True


def test_iot_authorizer_exists_and_is_the_domain_default(synth: Synth) -> None:
    iot_authorizers = [f for f in synth.functions if f.kind is Kind.IOT_AUTHORIZER]
    authorizers = synth.of_type("AWS::IoT::Authorizer")
    domains = synth.of_type("AWS::IoT::DomainConfiguration")
    assert len(authorizers) == len(domains) == len(iot_authorizers)
    if not iot_authorizers:
        return
    ((authorizer_id, authorizer),) = authorizers.items()
    props = authorizer["Properties"]
    assert props["SigningDisabled"] is True
    assert props["Status"] == "ACTIVE"
    assert references(props["AuthorizerFunctionArn"]) == {synth.function_id(iot_authorizers[0].name)}
    (domain,) = domains.values()
    assert domain["Properties"]["AuthorizerConfig"]["DefaultAuthorizerName"] == props["AuthorizerName"]
    assert domain["Properties"]["AuthenticationType"] == "CUSTOM_AUTH"
    assert any(
        p["Properties"]["Principal"] == "iot.amazonaws.com"
        and references(p["Properties"]["SourceArn"]) == {authorizer_id}
        for p in synth.of_type("AWS::Lambda::Permission").values()
    )
