"""REST API methods equal the manifest's routes, with the right function and authorizer."""

from __future__ import annotations

from typing import Any

from infra.rest_api import BINARY_MEDIA_TYPES, GATEWAY_ERRORS
from tests.infra.support import Synth, references
from watershed.api.routes import AuthMode, Route, gateway_resource, proxied_prefixes


def _paths(synth: Synth) -> dict[str, str]:
    """Resource logical id → full path, rebuilt from ParentId/PathPart."""
    resources = synth.of_type("AWS::ApiGateway::Resource")
    paths: dict[str, str] = {}

    def path_of(logical_id: str) -> str:
        if logical_id not in paths:
            resource = resources[logical_id]["Properties"]
            parent = resource["ParentId"]
            parent_path = path_of(parent["Ref"]) if "Ref" in parent else ""
            paths[logical_id] = f"{parent_path}/{resource['PathPart']}"
        return paths[logical_id]

    for logical_id in resources:
        path_of(logical_id)
    return paths


def _methods(synth: Synth) -> dict[tuple[str, str], dict[str, Any]]:
    paths = _paths(synth)
    methods = {}
    for method in synth.of_type("AWS::ApiGateway::Method").values():
        props = method["Properties"]
        resource = props["ResourceId"]
        path = paths[resource["Ref"]] if "Ref" in resource else "/"
        methods[(props["HttpMethod"], path)] = props
    return methods


def _method_of(route: Route) -> tuple[str, str]:
    """The method that serves a route: its own, or its facade prefix's greedy `ANY` proxy."""
    resource = gateway_resource(route)
    return (route.method, route.path) if resource == route.path else ("ANY", resource)


def test_methods_are_exactly_the_manifest_routes(synth: Synth) -> None:
    routes = {_method_of(r) for f in synth.functions for r in f.routes}
    methods = {key for key in _methods(synth) if key[0] != "OPTIONS"}
    assert routes
    assert methods == routes


def test_facades_are_one_greedy_proxy_per_prefix_and_native_routes_a_method_each(real: Synth) -> None:
    routes = [r for f in real.functions for r in f.routes]
    methods = _methods(real)
    proxies = proxied_prefixes(routes)
    assert {"/bitpool/{proxy+}", "/byteport/{proxy+}", "/customstream/{proxy+}"} <= set(proxies)
    assert {key for key in methods if key[0] == "ANY"} == {("ANY", p) for p in proxies}
    for resource, function in proxies.items():
        assert references(methods[("ANY", resource)]["Integration"]["Uri"]) == {real.function_id(function)}
    native = [r for r in routes if r.dialect == "native"]
    assert native and all((r.method, r.path) in methods for r in native)
    assert not any(path.startswith(("/bitpool/", "/byteport/")) and "{proxy+}" not in path for _, path in methods)


def test_the_stack_stays_under_cloudformations_resource_limit(real: Synth) -> None:
    count = len(real.resources)
    assert count < 450, f"{count} resources: CloudFormation refuses a stack of more than 500"


def test_each_method_calls_its_function_through_a_proxy_integration(synth: Synth) -> None:
    methods = _methods(synth)
    for function in synth.functions:
        for route in function.routes:
            integration = methods[_method_of(route)]["Integration"]
            assert integration["Type"] == "AWS_PROXY"
            assert references(integration["Uri"]) == {synth.function_id(function.name)}


def test_gateway_routes_use_the_authorizer_and_others_none(synth: Synth) -> None:
    authorizers = synth.of_type("AWS::ApiGateway::Authorizer")
    assert len(authorizers) == 1
    ((authorizer_id, authorizer),) = authorizers.items()
    props = authorizer["Properties"]
    assert props["Type"] == "REQUEST"
    assert props["IdentitySource"] == "method.request.header.Authorization"
    assert props["AuthorizerResultTtlInSeconds"] == 60
    assert references(props["AuthorizerUri"]) == {synth.function_id("authorizer")}
    methods = _methods(synth)
    for function in synth.functions:
        for route in function.routes:
            method = methods[_method_of(route)]
            if route.auth is AuthMode.GATEWAY:
                assert method["AuthorizationType"] == "CUSTOM"
                assert method["AuthorizerId"] == {"Ref": authorizer_id}
            else:
                assert method["AuthorizationType"] == "NONE"
                assert "AuthorizerId" not in method


def test_preflight_methods_are_cors_mocks_without_auth(synth: Synth) -> None:
    options = [props for (verb, _), props in _methods(synth).items() if verb == "OPTIONS"]
    assert options
    for props in options:
        assert props["AuthorizationType"] == "NONE"
        assert props["Integration"]["Type"] == "MOCK"


def test_stage_has_access_logs_throttling_tracing(real: Synth) -> None:
    (stage,) = real.of_type("AWS::ApiGateway::Stage").values()
    props = stage["Properties"]
    assert props["StageName"] == "dev"
    assert "DestinationArn" in props["AccessLogSetting"]
    assert props["TracingEnabled"] is True
    (settings,) = props["MethodSettings"]
    assert settings["ThrottlingRateLimit"] == real.stack.settings.api_throttle_rate
    assert settings["ThrottlingBurstLimit"] == real.stack.settings.api_throttle_burst


def test_every_media_type_passes_as_binary(real: Synth) -> None:
    (api,) = real.of_type("AWS::ApiGateway::RestApi").values()
    assert api["Properties"]["BinaryMediaTypes"] == ["*/*"] == list(BINARY_MEDIA_TYPES)


def test_preflight_mocks_convert_to_text_so_binary_media_types_do_not_break_them(synth: Synth) -> None:
    options = [props for (verb, _), props in _methods(synth).items() if verb == "OPTIONS"]
    assert options
    for props in options:
        integration = props["Integration"]
        assert integration["ContentHandling"] == "CONVERT_TO_TEXT"
        assert [r["ContentHandling"] for r in integration["IntegrationResponses"]] == ["CONVERT_TO_TEXT"]


def test_proxy_methods_leave_bodies_to_the_handler(synth: Synth) -> None:
    """No content conversion on Lambda methods: the handler sees isBase64Encoded and decodes."""
    for (verb, _), props in _methods(synth).items():
        if verb != "OPTIONS":
            assert "ContentHandling" not in props["Integration"]


def test_gateway_errors_keep_the_code_message_shape(real: Synth) -> None:
    gateway_responses = real.of_type("AWS::ApiGateway::GatewayResponse").values()
    responses = {r["Properties"]["ResponseType"]: r["Properties"] for r in gateway_responses}
    assert set(responses) == {t.response_type for t, _ in GATEWAY_ERRORS}
    for response_type, code in GATEWAY_ERRORS:
        body = responses[response_type.response_type]["ResponseTemplates"]["application/json"]
        assert body == '{"code":"' + code + '","message":$context.error.messageString}'
    assert responses["MISSING_AUTHENTICATION_TOKEN"]["StatusCode"] == "404"
