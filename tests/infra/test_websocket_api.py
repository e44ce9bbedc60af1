"""The WebSocket door in the template: API, routes, authorizer, stage, table, grants, event source (issue 20)."""

from __future__ import annotations

from typing import Any

from functions.manifest import FUNCTIONS, websocket_apis
from infra.websocket_api import ACCESS_LOG_FORMAT
from tests.infra.support import Synth, as_list, references
from watershed.store.tables import ConnectionItem


def _api_id(synth: Synth, protocol: str) -> str:
    return synth.logical_id(synth.stack.websocket.doors[protocol].api)


def _routes_of(synth: Synth, api_id: str) -> dict[str, dict[str, Any]]:
    return {k: r for k, r in synth.of_type("AWS::ApiGatewayV2::Route").items()
            if r["Properties"]["ApiId"] == {"Ref": api_id}}


def test_one_websocket_api_per_manifest_protocol(real: Synth) -> None:
    apis = real.of_type("AWS::ApiGatewayV2::Api")
    assert len(apis) == len(websocket_apis()) == 2
    for _function, spec in websocket_apis():
        api = apis[_api_id(real, spec.protocol)]
        assert api["Properties"]["ProtocolType"] == "WEBSOCKET"
        assert api["Properties"]["RouteSelectionExpression"] == spec.route_selection
    selections = {spec.protocol: spec.route_selection for _f, spec in websocket_apis()}
    assert selections == {"native_ws": "$request.body.action", "itwin_rpc": "$request.body.method"}


def test_routes_are_the_manifest_routes_and_reach_the_function(real: Synth) -> None:
    integrations = real.of_type("AWS::ApiGatewayV2::Integration")
    for function, spec in websocket_apis():
        routes = {r["Properties"]["RouteKey"]: r["Properties"] for r in _routes_of(real, _api_id(real, spec.protocol))
                  .values()}
        assert set(routes) == set(spec.routes)
        for route in routes.values():
            (integration_id,) = references(route["Target"])
            integration = integrations[integration_id]["Properties"]
            assert integration["IntegrationType"] == "AWS_PROXY"
            assert references(integration["IntegrationUri"]) == {real.function_id(function.name)}
    native = {r["Properties"]["RouteKey"] for r in _routes_of(real, _api_id(real, "native_ws")).values()}
    assert native == {"$connect", "$disconnect", "$default", "subscribe", "unsubscribe", "ping", "push"}


def test_only_connect_runs_the_request_authorizer_on_header_or_query(real: Synth) -> None:
    """The native API's $connect runs the authorizer; the iTwin one authenticates in-band (no authorizer)."""
    ((authorizer_id, authorizer),) = real.of_type("AWS::ApiGatewayV2::Authorizer").items()
    authorizer = authorizer["Properties"]
    assert authorizer["AuthorizerType"] == "REQUEST"
    assert authorizer["ApiId"] == {"Ref": _api_id(real, "native_ws")}
    assert references(authorizer["AuthorizerUri"]) == {real.function_id("ws_authorizer")}
    assert "IdentitySource" not in authorizer  # any required source would refuse a connect lacking it
    for protocol in ("native_ws", "itwin_rpc"):
        for route in _routes_of(real, _api_id(real, protocol)).values():
            props = route["Properties"]
            if props["RouteKey"] == "$connect" and protocol == "native_ws":
                assert props["AuthorizationType"] == "CUSTOM"
                assert props["AuthorizerId"] == {"Ref": authorizer_id}
            else:
                assert props["AuthorizationType"] == "NONE"
                assert "AuthorizerId" not in props


def test_frame_routes_send_the_handlers_reply_back(real: Synth) -> None:
    routes = {k: r["Properties"]["RouteKey"] for k, r in real.of_type("AWS::ApiGatewayV2::Route").items()}
    answered = {r["Properties"]["RouteId"]["Ref"] for r in real.of_type("AWS::ApiGatewayV2::RouteResponse").values()}
    assert sorted(routes[k] for k in answered) == sorted(
        ["$default", "subscribe", "unsubscribe", "ping", "push", "$default"])
    for key, route in real.of_type("AWS::ApiGatewayV2::Route").items():
        props = route["Properties"]
        assert (props.get("RouteResponseSelectionExpression") == "$default") is (key in answered)


def test_api_gateway_may_invoke_the_handler_and_the_authorizer(real: Synth) -> None:
    expected = {"native_ws": {"ws_native", "ws_authorizer"}, "itwin_rpc": {"ws_itwin"}}
    for protocol, functions in expected.items():
        api_id = _api_id(real, protocol)
        invokable = {
            next(iter(references(p["Properties"]["FunctionName"])))
            for p in real.of_type("AWS::Lambda::Permission").values()
            if p["Properties"]["Principal"] == "apigateway.amazonaws.com" and api_id in references(p["Properties"])
        }
        assert {real.function_id(name) for name in functions} <= invokable
    itwin_invokable = {
        next(iter(references(p["Properties"]["FunctionName"])))
        for p in real.of_type("AWS::Lambda::Permission").values()
        if _api_id(real, "itwin_rpc") in references(p["Properties"])
    }
    assert real.function_id("ws_authorizer") not in itwin_invokable


def test_stage_has_access_logs_throttling_and_metrics(real: Synth) -> None:
    stages = real.of_type("AWS::ApiGatewayV2::Stage")
    assert len(stages) == 2
    for found in stages.values():
        stage = found["Properties"]
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
    native, itwin = _api_id(real, "native_ws"), _api_id(real, "itwin_rpc")
    expected = {"changes": {native, itwin}, "catalog_changes": {native, itwin}, "ws_native": {native},
                "ws_itwin": {itwin}}
    for function in FUNCTIONS:
        statements = _statements(real, function.name)
        manage = [s for s in statements if "execute-api:ManageConnections" in as_list(s["Action"])]
        if function.name in expected:
            assert {api for s in manage for api in references(s["Resource"])} == expected[function.name]
            assert all(r["Fn::Join"][1][-1] == "/dev/*/@connections/*" for s in manage for r in as_list(s["Resource"]))
        else:
            assert manage == [], function.name
    variables = real.function("changes")["Properties"]["Environment"]["Variables"]
    assert references(variables["WEBSOCKET_ENDPOINT_NATIVE_WS"]) == {native}
    assert references(variables["WEBSOCKET_ENDPOINT_ITWIN_RPC"]) == {itwin}
    assert "CONNECTIONS_TABLE" in variables
    own = real.function("ws_native")["Properties"]["Environment"]["Variables"]
    assert references(own["WEBSOCKET_ENDPOINT_NATIVE_WS"]) == {native}
    assert "WEBSOCKET_ENDPOINT_NATIVE_WS" not in real.function("ws_itwin")["Properties"]["Environment"]["Variables"]


def test_the_changes_function_reads_the_intervals_stream_with_partial_batch_responses(real: Synth) -> None:
    mappings = [m["Properties"] for m in real.of_type("AWS::Lambda::EventSourceMapping").values()
                if references(m["Properties"]["FunctionName"]) == {real.function_id("changes")}]
    (mapping,) = mappings
    assert references(mapping["EventSourceArn"]) == {real.table_id("intervals")}
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]


def test_websocket_errors_raise_alarms(real: Synth) -> None:
    topic = real.logical_id(real.stack.observability.topic)
    for protocol in ("native_ws", "itwin_rpc"):
        api_id = _api_id(real, protocol)
        alarms = [a["Properties"] for a in real.of_type("AWS::CloudWatch::Alarm").values()
                  if a["Properties"].get("Namespace") == "AWS/ApiGateway"
                  and any(d["Name"] == "ApiId" and references(d["Value"]) == {api_id}
                          for d in a["Properties"]["Dimensions"])]
        assert sorted(a["MetricName"] for a in alarms) == ["ExecutionError", "IntegrationError"]
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
