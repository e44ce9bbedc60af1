"""The WebSocket door in the template: API, routes, authorizer, stage, table, grants, event source (issue 20)."""

from __future__ import annotations

from typing import Any

from functions.manifest import FUNCTIONS, websocket_apis
from infra.websocket_api import ACCESS_LOG_FORMAT
from tests.infra.support import Synth, as_list, references
from watershed.store.tables import ConnectionItem


def _one(synth: Synth, type_: str) -> tuple[str, dict[str, Any]]:
    (found,) = synth.of_type(type_).items()
    return found[0], found[1]["Properties"]


def test_one_websocket_api_per_manifest_protocol(real: Synth) -> None:
    apis = real.of_type("AWS::ApiGatewayV2::Api")
    assert len(apis) == len(websocket_apis()) == 1
    (_function, spec), = websocket_apis()
    (api,) = apis.values()
    assert api["Properties"]["ProtocolType"] == "WEBSOCKET"
    assert api["Properties"]["RouteSelectionExpression"] == spec.route_selection == "$request.body.action"


def test_routes_are_the_manifest_routes_and_reach_the_function(real: Synth) -> None:
    (function, spec), = websocket_apis()
    routes = {r["Properties"]["RouteKey"]: r["Properties"] for r in real.of_type("AWS::ApiGatewayV2::Route").values()}
    assert set(routes) == set(spec.routes) == {"$connect", "$disconnect", "$default", "subscribe", "unsubscribe",
                                               "ping", "push"}
    integrations = real.of_type("AWS::ApiGatewayV2::Integration")
    for route in routes.values():
        (integration_id,) = references(route["Target"])
        integration = integrations[integration_id]["Properties"]
        assert integration["IntegrationType"] == "AWS_PROXY"
        assert references(integration["IntegrationUri"]) == {real.function_id(function.name)}


def test_only_connect_runs_the_request_authorizer_on_header_or_query(real: Synth) -> None:
    authorizer_id, authorizer = _one(real, "AWS::ApiGatewayV2::Authorizer")
    assert authorizer["AuthorizerType"] == "REQUEST"
    assert references(authorizer["AuthorizerUri"]) == {real.function_id("ws_authorizer")}
    assert "IdentitySource" not in authorizer  # any required source would refuse a connect lacking it
    for route in real.of_type("AWS::ApiGatewayV2::Route").values():
        props = route["Properties"]
        if props["RouteKey"] == "$connect":
            assert props["AuthorizationType"] == "CUSTOM"
            assert props["AuthorizerId"] == {"Ref": authorizer_id}
        else:
            assert props["AuthorizationType"] == "NONE"
            assert "AuthorizerId" not in props


def test_frame_routes_send_the_handlers_reply_back(real: Synth) -> None:
    routes = {k: r["Properties"]["RouteKey"] for k, r in real.of_type("AWS::ApiGatewayV2::Route").items()}
    answered = {routes[r["Properties"]["RouteId"]["Ref"]]
                for r in real.of_type("AWS::ApiGatewayV2::RouteResponse").values()}
    assert answered == {"$default", "subscribe", "unsubscribe", "ping", "push"}
    for route in real.of_type("AWS::ApiGatewayV2::Route").values():
        props = route["Properties"]
        two_way = props["RouteKey"] in answered
        assert (props.get("RouteResponseSelectionExpression") == "$default") is two_way


def test_api_gateway_may_invoke_the_handler_and_the_authorizer(real: Synth) -> None:
    (api_id,) = real.of_type("AWS::ApiGatewayV2::Api")
    invokable = {
        next(iter(references(p["Properties"]["FunctionName"])))
        for p in real.of_type("AWS::Lambda::Permission").values()
        if p["Properties"]["Principal"] == "apigateway.amazonaws.com" and api_id in references(p["Properties"])
    }
    assert {real.function_id("ws_native"), real.function_id("ws_authorizer")} <= invokable


def test_stage_has_access_logs_throttling_and_metrics(real: Synth) -> None:
    _, stage = _one(real, "AWS::ApiGatewayV2::Stage")
    assert stage["AutoDeploy"] is True
    assert stage["StageName"] == "dev"
    assert stage["AccessLogSettings"]["Format"] == ACCESS_LOG_FORMAT
    (log_group,) = references(stage["AccessLogSettings"]["DestinationArn"])
    assert real.resources[log_group]["Type"] == "AWS::Logs::LogGroup"
    assert real.resources[log_group]["Properties"]["RetentionInDays"] == 30
    settings = stage["DefaultRouteSettings"]
    assert settings["ThrottlingRateLimit"] > 0 and settings["ThrottlingBurstLimit"] > 0
    assert settings["DetailedMetricsEnabled"] is True
    assert settings["LoggingLevel"] == "ERROR" and settings["DataTraceEnabled"] is False


def test_connections_table_has_ttl_and_an_index_by_stream(real: Synth) -> None:
    props = real.resources[real.table_id("connections")]["Properties"]
    assert props["TimeToLiveSpecification"] == {"AttributeName": "expires", "Enabled": True}
    (index,) = props["GlobalSecondaryIndexes"]
    assert index["IndexName"] == ConnectionItem.by_stream.Meta.index_name
    assert index["KeySchema"][0] == {"AttributeName": "stream", "KeyType": "HASH"}


def _statements(real: Synth, function: str) -> list[dict[str, Any]]:
    role = real.logical_id(real.stack.functions.roles[function])
    found = []
    for policy in real.of_type("AWS::IAM::Policy").values():
        if {"Ref": role} in policy["Properties"]["Roles"]:
            found.extend(policy["Properties"]["PolicyDocument"]["Statement"])
    return found


def test_only_the_changes_and_websocket_functions_may_manage_connections(real: Synth) -> None:
    (api_id,) = real.of_type("AWS::ApiGatewayV2::Api")
    for function in FUNCTIONS:
        statements = _statements(real, function.name)
        manage = [s for s in statements if "execute-api:ManageConnections" in as_list(s["Action"])]
        if function.name in ("changes", "ws_native"):
            (statement,) = manage
            assert references(statement["Resource"]) == {api_id}
            assert statement["Resource"]["Fn::Join"][1][-1] == "/dev/*/@connections/*"
        else:
            assert manage == [], function.name
    variables = real.function("changes")["Properties"]["Environment"]["Variables"]
    assert references(variables["WEBSOCKET_ENDPOINT_NATIVE_WS"]) == {api_id}
    assert "CONNECTIONS_TABLE" in variables
    native = real.function("ws_native")["Properties"]["Environment"]["Variables"]
    assert references(native["WEBSOCKET_ENDPOINT_NATIVE_WS"]) == {api_id}


def test_the_changes_function_reads_the_intervals_stream_with_partial_batch_responses(real: Synth) -> None:
    mappings = [m["Properties"] for m in real.of_type("AWS::Lambda::EventSourceMapping").values()
                if references(m["Properties"]["FunctionName"]) == {real.function_id("changes")}]
    (mapping,) = mappings
    assert references(mapping["EventSourceArn"]) == {real.table_id("intervals")}
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]


def test_websocket_errors_raise_alarms(real: Synth) -> None:
    (api_id,) = real.of_type("AWS::ApiGatewayV2::Api")
    alarms = [a["Properties"] for a in real.of_type("AWS::CloudWatch::Alarm").values()
              if a["Properties"].get("Namespace") == "AWS/ApiGateway"
              and any(d["Name"] == "ApiId" and references(d["Value"]) == {api_id}
                      for d in a["Properties"]["Dimensions"])]
    assert sorted(a["MetricName"] for a in alarms) == ["ExecutionError", "IntegrationError"]
    topic = real.logical_id(real.stack.observability.topic)
    assert all(a["AlarmActions"] == [{"Ref": topic}] for a in alarms)


def test_the_stack_outputs_the_websocket_url(real: Synth) -> None:
    outputs = real.template.to_json()["Outputs"]
    assert any(key.endswith("WebSocketUrl") for key in outputs)


def test_a_second_protocol_is_one_more_api(tmp_path: Any) -> None:
    """What the iTwin JSON-RPC issue will add: a WebSocketApi entry; infra gives it its own API and grants."""
    from functions.manifest import Access, Function, Kind, WebSocketApi
    from tests.infra.support import synthesize

    functions = (
        Function("ws_authorizer", kind=Kind.WEBSOCKET_AUTHORIZER, tables={"catalog": Access.READ}),
        Function("ws_native", kind=Kind.WEBSOCKET, tables={"connections": Access.READ_WRITE},
                 websocket=WebSocketApi("native_ws", "/ws", "WebSocket")),
        Function("ws_rpc", kind=Kind.WEBSOCKET, tables={"connections": Access.READ_WRITE},
                 websocket=WebSocketApi("itwin_rpc", "/itwin/rpc", "iTwin JSON-RPC",
                                        route_selection="$request.body.method")),
        Function("changes", kind=Kind.WORKER, tables={"connections": Access.READ_WRITE}, websocket_push=True),
    )
    for function in functions:
        (tmp_path / function.name).mkdir()
        (tmp_path / function.name / "handler.py").write_text("def lambda_handler(event, context):\n    return {}\n")
    synth = synthesize(functions, code_root=tmp_path)
    apis = synth.of_type("AWS::ApiGatewayV2::Api")
    assert sorted(a["Properties"]["RouteSelectionExpression"] for a in apis.values()) == [
        "$request.body.action", "$request.body.method"]
    assert len(synth.of_type("AWS::ApiGatewayV2::Authorizer")) == 2
    assert len(synth.of_type("AWS::ApiGatewayV2::Stage")) == 2
    def managed(function: str) -> set[str]:
        statements = _statements(synth, function)
        return {api for s in statements if "execute-api:ManageConnections" in as_list(s["Action"])
                for api in references(s["Resource"])}

    assert managed("changes") == set(apis)
    (rpc_api,) = [k for k, a in apis.items() if a["Properties"]["RouteSelectionExpression"].endswith("method")]
    assert managed("ws_rpc") == {rpc_api}
    variables = synth.function("changes")["Properties"]["Environment"]["Variables"]
    assert {"WEBSOCKET_ENDPOINT_NATIVE_WS", "WEBSOCKET_ENDPOINT_ITWIN_RPC"} <= set(variables)
    assert "WEBSOCKET_ENDPOINT_NATIVE_WS" not in synth.function("ws_rpc")["Properties"]["Environment"]["Variables"]
