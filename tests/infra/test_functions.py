"""Every function: layer, runtime, arm64, tracing, env, log retention, least-privilege grants."""

from __future__ import annotations

from typing import Any

from functions.manifest import Access
from infra.runtime import PYTHON_VERSION
from tests.infra.support import Synth, as_list, references

TABLE_WRITE_ACTIONS = {
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:BatchWriteItem",
    "dynamodb:*",
}


def _statements_of_role(synth: Synth, role_id: str) -> list[dict[str, Any]]:
    statements = []
    for policy in synth.of_type("AWS::IAM::Policy").values():
        props = policy["Properties"]
        if {"Ref": role_id} in props["Roles"]:
            statements += props["PolicyDocument"]["Statement"]
    return statements


def _role_id(synth: Synth, name: str) -> str:
    return synth.logical_id(synth.stack.functions.roles[name])


def test_each_function_has_layer_runtime_arm64_tracing_and_size(synth: Synth) -> None:
    (layer_id,) = synth.of_type("AWS::Lambda::LayerVersion")
    for function in synth.functions:
        props = synth.function(function.name)["Properties"]
        assert props["Layers"] == [{"Ref": layer_id}]
        assert props["Runtime"] == f"python{PYTHON_VERSION}"
        assert props["Architectures"] == ["arm64"]
        assert props["TracingConfig"] == {"Mode": "Active"}
        assert props["Handler"] == "handler.lambda_handler"
        assert props["MemorySize"] == function.memory_mb
        assert props["Timeout"] == function.timeout_s


def test_each_function_logs_to_a_group_with_the_context_retention(synth: Synth) -> None:
    groups = synth.of_type("AWS::Logs::LogGroup")
    for function in synth.functions:
        group = synth.function(function.name)["Properties"]["LoggingConfig"]["LogGroup"]
        (group_id,) = references(group)
        assert groups[group_id]["Properties"]["RetentionInDays"] == synth.stack.settings.log_retention_days


def test_each_function_has_powertools_and_table_env(synth: Synth) -> None:
    settings = synth.stack.settings
    for function in synth.functions:
        env = synth.function(function.name)["Properties"]["Environment"]["Variables"]
        assert env["POWERTOOLS_SERVICE_NAME"] == f"watershed-{function.name}"
        assert env["POWERTOOLS_LOG_LEVEL"] == env["LOG_LEVEL"] == settings.log_level
        assert env["POWERTOOLS_METRICS_NAMESPACE"] == settings.metrics_namespace
        assert references(env["SIGNING_SECRET_ARN"]) == {synth.logical_id(synth.stack.functions.signing_secret)}
        table_vars = {k for k in env if k.endswith("_TABLE")}
        assert table_vars == {f"{key.upper()}_TABLE" for key in function.tables}
        for key in function.tables:
            assert env[f"{key.upper()}_TABLE"] == {"Ref": synth.table_id(key)}
        bucket_vars = {k for k in env if k.endswith("_BUCKET")}
        assert bucket_vars == {f"{key.upper()}_BUCKET" for key in function.buckets}


def test_functions_touch_only_their_tables_and_read_only_ones_never_write(synth: Synth) -> None:
    table_ids = {synth.table_id(key): key for key in synth.stack.storage.tables}
    for function in synth.functions:
        for statement in _statements_of_role(synth, _role_id(synth, function.name)):
            tables = {table_ids[i] for i in references(statement["Resource"]) if i in table_ids}
            assert tables <= set(function.tables), (function.name, statement)
            actions = set(as_list(statement["Action"]))
            for key in tables:
                if function.tables[key] is Access.READ:
                    assert not actions & TABLE_WRITE_ACTIONS, (function.name, key, actions)


QUEUE_SEND = {"sqs:SendMessage"}
QUEUE_CONSUME = {"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility"}


def test_functions_use_only_their_queues_as_the_manifest_says(synth: Synth) -> None:
    queue_ids = {synth.logical_id(q): key for key, q in synth.stack.storage.queues.items()}
    assert any(f.queues for f in synth.functions)
    for function in synth.functions:
        env = synth.function(function.name)["Properties"]["Environment"]["Variables"]
        granted: dict[str, set[str]] = {}
        for statement in _statements_of_role(synth, _role_id(synth, function.name)):
            for queue_id in references(statement["Resource"]) & set(queue_ids):
                granted.setdefault(queue_ids[queue_id], set()).update(as_list(statement["Action"]))
        assert set(granted) == set(function.queues), function.name
        for key, access in function.queues.items():
            assert references(env[f"{key.upper()}_URL"]) == {synth.logical_id(synth.stack.storage.queues[key])}
            may_send = access in (Access.WRITE, Access.READ_WRITE)
            may_consume = access in (Access.READ, Access.READ_WRITE)
            assert bool(granted[key] & QUEUE_SEND) is may_send, (function.name, granted[key])
            assert bool(granted[key] & QUEUE_CONSUME) is may_consume, (function.name, granted[key])
            assert granted[key] >= (QUEUE_SEND if may_send else set()) | (QUEUE_CONSUME if may_consume else set())
        assert not {k for k in env if k.endswith("_URL")} - {f"{key.upper()}_URL" for key in function.queues}


def test_read_only_functions_have_no_write_action_on_any_table(synth: Synth) -> None:
    read_only = [f for f in synth.functions if f.tables and set(f.tables.values()) == {Access.READ}]
    assert read_only
    for function in read_only:
        for statement in _statements_of_role(synth, _role_id(synth, function.name)):
            if statement["Effect"] == "Allow":
                assert not set(as_list(statement["Action"])) & TABLE_WRITE_ACTIONS


STAR_RESOURCE_ACTIONS = {"xray:PutTraceSegments", "xray:PutTelemetryRecords", "dynamodb:ListStreams"}
"""Actions that support no resource-level permission, so they may (only they) name `*`."""


def test_no_wildcard_action_and_star_resources_only_where_aws_requires(synth: Synth) -> None:
    policies = [p["Properties"]["PolicyDocument"] for p in synth.of_type("AWS::IAM::Policy").values()]
    for document in policies:
        for statement in document["Statement"]:
            actions = as_list(statement["Action"])
            assert "*" not in actions
            if "*" in as_list(statement.get("Resource", [])):
                assert set(actions) <= STAR_RESOURCE_ACTIONS, statement


def test_every_function_may_read_the_signing_secret(synth: Synth) -> None:
    secret_id = synth.logical_id(synth.stack.functions.signing_secret)
    for function in synth.functions:
        statements = _statements_of_role(synth, _role_id(synth, function.name))
        assert any(
            "secretsmanager:GetSecretValue" in as_list(s["Action"]) and secret_id in references(s["Resource"])
            for s in statements
        ), function.name


def test_alarms_cover_api_functions_and_tables(synth: Synth) -> None:
    alarms = synth.stack.observability.alarms
    assert "api_5xx" in alarms
    for function in synth.functions:
        throttles = synth.resources[synth.logical_id(alarms[f"{function.name}_throttles"])]["Properties"]
        watched = {str(m.get("MetricStat", {}).get("Metric", {}).get("Dimensions")) for m in throttles["Metrics"]}
        assert any(synth.function_id(function.name) in w for w in watched), function.name
    for key in synth.stack.storage.tables:
        assert f"{key}_table_throttles" in alarms
    assert len(synth.of_type("AWS::CloudWatch::Alarm")) == len(set(alarms.values()))
    assert len(synth.of_type("AWS::CloudWatch::Dashboard")) == 1


def test_parked_rollup_buckets_raise_an_alarm(synth: Synth) -> None:
    alarms = synth.stack.observability.alarms
    if "rollup" not in {f.name for f in synth.functions}:
        assert "rollup_buckets_parked" not in alarms
        return
    alarm = synth.resources[synth.logical_id(synth.stack.observability.alarms["rollup_buckets_parked"])]
    props = alarm["Properties"]
    assert (props["Namespace"], props["MetricName"], props["Threshold"]) == ("Watershed", "RollupBucketsParked", 1)
    assert props["Dimensions"] == [{"Name": "service", "Value": "watershed-rollup"}]
