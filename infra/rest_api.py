"""The REST API: one method per native and OAuth route, one greedy `ANY /<prefix>/{proxy+}` method
per facade prefix (watershed.api.routes.GATEWAY_ROUTED_DIALECTS says why), from the manifest.

`gateway` routes run the REQUEST authorizer built from the manifest's REST_AUTHORIZER function;
`handler` and `none` routes have no gateway authorizer (docs/architecture.md, The doors). Errors API Gateway produces
itself keep the API's `{"code", "message"}` shape.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from functions.manifest import Function, Kind
from infra.settings import Settings
from watershed.api.routes import PROXY, AuthMode, Route, gateway_resource, proxied_prefixes

BINARY_MEDIA_TYPES = ("*/*",)
"""Every body is binary to API Gateway, so object uploads and downloads of any content type pass
through byte for byte. With Lambda proxy integrations this is safe for JSON too: each request
body reaches the handler base64-encoded with `isBase64Encoded: true` (watershed.api.http decodes
it), and a response is decoded only when the handler sets `isBase64Encoded` (Powertools does for
bytes bodies only), so JSON answers go out as text. A narrower list would not do: API Gateway
decides on a response by the request's first `Accept` value, so a browser's
`Accept: text/html,...` would get an object's base64 instead of its bytes. The cost: JSON request
bodies grow by a third inside the Lambda event (6 MB limit), and the CORS preflight mocks need
PREFLIGHT_CONTENT_HANDLING."""

PREFLIGHT_CONTENT_HANDLING = "CONVERT_TO_TEXT"
"""With `*/*` a preflight's (empty) body counts as binary, and the OPTIONS mock integration's JSON
request template cannot apply to it (500, "Unable to transform request"); converting to text
fixes the request and its integration response."""

GATEWAY_ERRORS: tuple[tuple[apigw.ResponseType, str], ...] = (
    (apigw.ResponseType.DEFAULT_4_XX, "bad_request"),
    (apigw.ResponseType.DEFAULT_5_XX, "internal_error"),
    (apigw.ResponseType.UNAUTHORIZED, "unauthorized"),
    (apigw.ResponseType.ACCESS_DENIED, "forbidden"),
    (apigw.ResponseType.AUTHORIZER_FAILURE, "internal_error"),
    (apigw.ResponseType.AUTHORIZER_CONFIGURATION_ERROR, "internal_error"),
    (apigw.ResponseType.MISSING_AUTHENTICATION_TOKEN, "not_found"),
    (apigw.ResponseType.RESOURCE_NOT_FOUND, "not_found"),
    (apigw.ResponseType.THROTTLED, "throttled"),
    (apigw.ResponseType.QUOTA_EXCEEDED, "throttled"),
    (apigw.ResponseType.REQUEST_TOO_LARGE, "payload_too_large"),
    (apigw.ResponseType.BAD_REQUEST_BODY, "bad_request"),
    (apigw.ResponseType.BAD_REQUEST_PARAMETERS, "bad_request"),
    (apigw.ResponseType.UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type"),
    (apigw.ResponseType.INTEGRATION_FAILURE, "internal_error"),
    (apigw.ResponseType.INTEGRATION_TIMEOUT, "timeout"),
    (apigw.ResponseType.EXPIRED_TOKEN, "unauthorized"),
    (apigw.ResponseType.API_CONFIGURATION_ERROR, "internal_error"),
)
"""Gateway-made errors, each with the `code` its JSON body carries.

MISSING_AUTHENTICATION_TOKEN is what API Gateway answers for a path no method matches, so it
becomes a 404 `not_found`, as the handlers answer for an unknown id.
"""

STATUS_OVERRIDES = {"MISSING_AUTHENTICATION_TOKEN": "404"}

BROWSER_DIALECTS = frozenset({"native", "oauth"})
"""Routes whose callers may be browsers, so they answer CORS preflights."""
CORS_HEADERS = ["Content-Type", "Authorization", "X-Amz-Date", "X-Api-Key", "X-Amz-Security-Token"]


def error_template(code: str) -> str:
    """The body of a gateway error: `messageString` is already a quoted JSON string."""
    return '{"code":"' + code + '","message":$context.error.messageString}'


class RestApi(Construct):
    """The API, its stage (access logs, throttling, tracing) and one method per manifest route."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: Settings,
        functions: Sequence[Function],
        handlers: dict[str, lambda_.Function],
    ) -> None:
        super().__init__(scope, construct_id)
        self.access_logs = logs.LogGroup(
            self,
            "AccessLogs",
            removal_policy=RemovalPolicy.RETAIN if settings.is_prod else RemovalPolicy.DESTROY,
        )
        access_log_resource = self.access_logs.node.default_child
        assert isinstance(access_log_resource, logs.CfnLogGroup)
        access_log_resource.retention_in_days = settings.log_retention_days
        self.api = apigw.RestApi(
            self,
            "Api",
            rest_api_name=f"{settings.prefix}-api",
            description="Watershed native API and seed facades",
            endpoint_types=[apigw.EndpointType.REGIONAL],
            binary_media_types=list(BINARY_MEDIA_TYPES),
            # The account-wide logging role lives in the bootstrap stack (infra/account.py).
            cloud_watch_role=False,
            deploy_options=apigw.StageOptions(
                stage_name=settings.stage,
                access_log_destination=apigw.LogGroupLogDestination(self.access_logs),
                access_log_format=apigw.AccessLogFormat.json_with_standard_fields(
                    caller=True,
                    http_method=True,
                    ip=True,
                    protocol=True,
                    request_time=True,
                    resource_path=True,
                    response_length=True,
                    status=True,
                    user=True,
                ),
                throttling_rate_limit=settings.api_throttle_rate,
                throttling_burst_limit=settings.api_throttle_burst,
                tracing_enabled=True,
                metrics_enabled=True,
                logging_level=apigw.MethodLoggingLevel.ERROR,
                data_trace_enabled=False,
            ),
        )
        # CORS preflights only on the paths browsers call (native and OAuth routes, not the facades'
        # device and script clients), and only on route paths: a stack holds at most 500 resources.
        self._cors = apigw.CorsOptions(
            allow_origins=list(settings.cors_origins),
            allow_methods=apigw.Cors.ALL_METHODS,
            allow_headers=CORS_HEADERS,
            max_age=Duration.hours(1),
        )
        self._preflighted: set[str] = set()
        self._gateway_responses(settings)
        self.authorizer = self._authorizer(functions, handlers)
        self.methods: dict[tuple[str, str], apigw.Method] = {}
        proxies = proxied_prefixes(r for f in functions for r in f.routes)
        for function in functions:
            if function.routes and function.kind is not Kind.HTTP:
                raise ValueError(f"{function.name!r} has routes but is a {function.kind} function")
            if not function.routes:
                continue
            integration = apigw.LambdaIntegration(
                handlers[function.name],
                proxy=True,
                allow_test_invoke=False,
                scope_permission_to_method=False,
            )
            for route in function.routes:
                if gateway_resource(route) == route.path:
                    self._method(route, integration)
            for resource, served_by in proxies.items():
                if served_by == function.name:
                    self._proxy(resource, integration)
        self._preflights_as_text()

    def _preflights_as_text(self) -> None:
        for method in self.api.methods:
            if method.http_method != "OPTIONS":
                continue
            resource = method.node.default_child
            assert isinstance(resource, apigw.CfnMethod)
            resource.add_property_override("Integration.ContentHandling", PREFLIGHT_CONTENT_HANDLING)
            resource.add_property_override(
                "Integration.IntegrationResponses.0.ContentHandling", PREFLIGHT_CONTENT_HANDLING
            )

    def _authorizer(
        self, functions: Sequence[Function], handlers: dict[str, lambda_.Function]
    ) -> apigw.RequestAuthorizer | None:
        authorizers = [f for f in functions if f.kind is Kind.REST_AUTHORIZER]
        gateway_routes = [r for f in functions for r in f.routes if r.auth is AuthMode.GATEWAY]
        if len(authorizers) > 1:
            raise ValueError(f"one REST authorizer expected, manifest has {[f.name for f in authorizers]}")
        if not gateway_routes:
            return None
        if not authorizers:
            raise ValueError(
                f"routes with auth 'gateway' ({gateway_routes[0].path}...) need a REST_AUTHORIZER function"
            )
        return apigw.RequestAuthorizer(
            self,
            "Authorizer",
            handler=handlers[authorizers[0].name],
            identity_sources=[apigw.IdentitySource.header("Authorization")],
            results_cache_ttl=Duration.seconds(60),
        )

    def _method(self, route: Route, integration: apigw.LambdaIntegration) -> None:
        key = (route.method.upper(), route.path)
        if key in self.methods:
            raise ValueError(f"route {key} is declared twice")
        resource = self.api.root.resource_for_path(route.path.strip("/"))
        if route.dialect in BROWSER_DIALECTS and route.path not in self._preflighted:
            resource.add_cors_preflight(
                allow_origins=self._cors.allow_origins, allow_methods=self._cors.allow_methods,
                allow_headers=self._cors.allow_headers, max_age=self._cors.max_age,
            )
            self._preflighted.add(route.path)
        if route.auth is AuthMode.GATEWAY:
            assert self.authorizer is not None
            method = resource.add_method(
                route.method.upper(),
                integration,
                authorizer=self.authorizer,
                authorization_type=apigw.AuthorizationType.CUSTOM,
                operation_name=route.operation,
            )
        else:
            method = resource.add_method(
                route.method.upper(),
                integration,
                authorization_type=apigw.AuthorizationType.NONE,
                operation_name=route.operation,
            )
        self.methods[key] = method

    def _proxy(self, path: str, integration: apigw.LambdaIntegration) -> None:
        """A facade prefix's one method: any verb, any path below; the handler matches the route."""
        assert path.endswith("/" + PROXY)
        resource = self.api.root.resource_for_path(path.strip("/"))
        self.methods[("ANY", path)] = resource.add_method(
            "ANY", integration, authorization_type=apigw.AuthorizationType.NONE, operation_name=path
        )

    def _gateway_responses(self, settings: Settings) -> None:
        origin = settings.cors_origins[0] if settings.cors_origins else "*"
        for response_type, code in GATEWAY_ERRORS:
            self.api.add_gateway_response(
                f"Gateway{response_type.response_type}",
                type=response_type,
                status_code=STATUS_OVERRIDES.get(response_type.response_type),
                response_headers={"Access-Control-Allow-Origin": f"'{origin}'"},
                templates={"application/json": error_template(code)},
            )
