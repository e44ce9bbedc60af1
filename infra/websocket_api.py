"""The WebSocket door: one API Gateway WebSocket API per manifest WebSocketApi (one protocol each).

Every API: its routes from the manifest (`$connect` behind the REQUEST authorizer made from the
WEBSOCKET_AUTHORIZER function, or open when the protocol authenticates in-band (`authorizer=False`);
frames answered through a `$default` route response, so a handler's reply body goes back to the
client; one invoke permission for all routes), a stage with access logs, throttling and detailed metrics,
and alarms on its execution and integration errors. Functions with `websocket_push` may post to
every API's connections (execute-api:ManageConnections) and get each management endpoint in
WEBSOCKET_ENDPOINT_<PROTOCOL>; each WebSocket function may post to its own API's connections.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_apigatewayv2_authorizers as authorizers
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from constructs import Construct

from functions.manifest import Function, Kind, WebSocketApi
from infra.functions import construct_id
from infra.settings import Settings
from watershed.api.websocket import endpoint_env

ERROR_THRESHOLD = 5
ALARM_PERIOD = Duration.minutes(5)
ACCESS_LOG_FORMAT = (
    '{"requestId":"$context.requestId","ip":"$context.identity.sourceIp","requestTime":"$context.requestTime",'
    '"routeKey":"$context.routeKey","eventType":"$context.eventType","status":"$context.status",'
    '"connectionId":"$context.connectionId","principal":"$context.authorizer.principalId",'
    '"error":"$context.error.message","integrationError":"$context.integrationErrorMessage"}'
)
"""One JSON line per connect, frame and disconnect; never the frame's body."""


class _LambdaProxy(apigwv2.WebSocketRouteIntegration):
    """A Lambda proxy integration that grants nothing per route: the API gets one invoke permission
    for all its routes (WebSocketLambdaIntegration adds one per route, ~1 resource each)."""

    def __init__(self, id_: str, handler: lambda_.IFunction) -> None:
        super().__init__(id_)
        self.handler = handler

    def bind(self, *, route: apigwv2.IWebSocketRoute, scope: Construct) -> apigwv2.WebSocketRouteIntegrationConfig:
        uri = Stack.of(scope).format_arn(
            service="apigateway", account="lambda", resource="path/2015-03-31/functions",
            resource_name=f"{self.handler.function_arn}/invocations",
        )
        return apigwv2.WebSocketRouteIntegrationConfig(
            type=apigwv2.WebSocketIntegrationType.AWS_PROXY, uri=uri
        )


@dataclass
class WebSocketDoor:
    """One deployed WebSocket API with its stage and routes."""

    protocol: str
    api: apigwv2.WebSocketApi
    stage: apigwv2.WebSocketStage
    routes: dict[str, apigwv2.WebSocketRoute]
    access_logs: logs.LogGroup


class WebSocketApis(Construct):
    """Every WebSocket API of the manifest; `doors` is keyed by protocol."""

    def __init__(
        self,
        scope: Construct,
        construct_id_: str,
        *,
        settings: Settings,
        functions: Sequence[Function],
        handlers: dict[str, lambda_.Function],
    ) -> None:
        super().__init__(scope, construct_id_)
        self.settings = settings
        served = [f for f in functions if f.websocket is not None]
        for function in served:
            if function.kind is not Kind.WEBSOCKET:
                raise ValueError(f"{function.name!r} serves a WebSocket API but is a {function.kind} function")
        self.doors: dict[str, WebSocketDoor] = {}
        if not served:
            return
        authorizer_functions = [f for f in functions if f.kind is Kind.WEBSOCKET_AUTHORIZER]
        if len(authorizer_functions) != 1:
            raise ValueError(
                f"WebSocket APIs need exactly one WEBSOCKET_AUTHORIZER function, the manifest has "
                f"{[f.name for f in authorizer_functions]}"
            )
        authorizer_handler = handlers[authorizer_functions[0].name]
        for function in served:
            assert function.websocket is not None
            if function.websocket.protocol in self.doors:
                raise ValueError(f"WebSocket protocol {function.websocket.protocol!r} is served twice")
            self.doors[function.websocket.protocol] = self._door(
                function.websocket, handlers[function.name], authorizer_handler
            )
        for function in functions:
            if function.websocket_push:
                self._grant_push(handlers[function.name], self.doors)
            if function.websocket is not None:
                # its own connections: an answer of several frames is posted, not returned
                protocol = function.websocket.protocol
                self._grant_push(handlers[function.name], {protocol: self.doors[protocol]})

    def _door(
        self, spec: WebSocketApi, handler: lambda_.Function, authorizer_handler: lambda_.IFunction
    ) -> WebSocketDoor:
        name = construct_id(spec.protocol)
        integration = _LambdaProxy(f"{name}Integration", handler)
        authorizer = None
        if spec.authorizer:
            authorizer = authorizers.WebSocketLambdaAuthorizer(
                f"{name}Authorizer",
                authorizer_handler,
                # No identity source: API Gateway would refuse a connect lacking any one of them before
                # the authorizer ran, and the credential is a header *or* a query parameter.
                identity_source=[],
            )
        api = apigwv2.WebSocketApi(
            self,
            f"{name}Api",
            api_name=f"{self.settings.prefix}-{spec.protocol.replace('_', '-')}",
            description=f"Watershed WebSocket door: {spec.label}",
            route_selection_expression=spec.route_selection,
        )
        routes: dict[str, apigwv2.WebSocketRoute] = {}
        for route_key in spec.routes:
            if route_key in routes:
                raise ValueError(f"WebSocket route {route_key!r} of {spec.protocol} is declared twice")
            routes[route_key] = api.add_route(
                route_key,
                integration=integration,
                authorizer=authorizer if route_key == "$connect" else None,
                return_response=route_key not in ("$connect", "$disconnect"),
            )
        if "$connect" not in routes:
            raise ValueError(f"WebSocket API {spec.protocol} has no $connect route")
        handler.add_permission(
            f"{name}Invoke",
            principal=iam.ServicePrincipal("apigateway.amazonaws.com"),
            source_arn=Stack.of(self).format_arn(service="execute-api", resource=api.api_id, resource_name="*"),
        )
        for child in api.node.find_all():
            if isinstance(child, apigwv2.CfnAuthorizer):
                child.add_property_deletion_override("IdentitySource")
        access_logs = logs.LogGroup(
            self,
            f"{name}AccessLogs",
            removal_policy=RemovalPolicy.RETAIN if self.settings.is_prod else RemovalPolicy.DESTROY,
        )
        log_resource = access_logs.node.default_child
        assert isinstance(log_resource, logs.CfnLogGroup)
        log_resource.retention_in_days = self.settings.log_retention_days
        stage = apigwv2.WebSocketStage(
            self,
            f"{name}Stage",
            web_socket_api=api,
            stage_name=self.settings.stage,
            auto_deploy=True,
            detailed_metrics_enabled=True,
            throttle=apigwv2.ThrottleSettings(
                rate_limit=self.settings.api_throttle_rate, burst_limit=self.settings.api_throttle_burst
            ),
        )
        stage_resource = stage.node.default_child
        assert isinstance(stage_resource, apigwv2.CfnStage)
        # API Gateway writes them with the account's CloudWatch role, which the REST API sets up.
        stage_resource.access_log_settings = apigwv2.CfnStage.AccessLogSettingsProperty(
            destination_arn=access_logs.log_group_arn, format=ACCESS_LOG_FORMAT
        )
        stage_resource.add_property_override("DefaultRouteSettings.LoggingLevel", "ERROR")
        stage_resource.add_property_override("DefaultRouteSettings.DataTraceEnabled", False)
        return WebSocketDoor(spec.protocol, api, stage, routes, access_logs)

    @staticmethod
    def _grant_push(handler: lambda_.Function, doors: dict[str, WebSocketDoor]) -> None:
        for protocol, door in doors.items():
            door.stage.grant_management_api_access(handler)
            handler.add_environment(endpoint_env(protocol), door.stage.callback_url)

    def alarm_to(self, topic: sns.ITopic) -> dict[str, cloudwatch.Alarm]:
        """Per API: execution errors (API Gateway's own) and integration errors (a handler failed)."""
        alarms: dict[str, cloudwatch.Alarm] = {}
        for protocol, door in self.doors.items():
            for metric_name, what in (("ExecutionError", "could not run a route"),
                                      ("IntegrationError", "got an error from a handler")):
                metric = door.api.metric(
                    metric_name, period=ALARM_PERIOD, statistic="Sum",
                    dimensions_map={"ApiId": door.api.api_id, "Stage": door.stage.stage_name},
                )
                key = f"websocket_{protocol}_{metric_name}"
                alarm = cloudwatch.Alarm(
                    self,
                    f"{construct_id(protocol)}{metric_name}Alarm",
                    metric=metric,
                    threshold=ERROR_THRESHOLD,
                    evaluation_periods=1,
                    comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                    treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
                    alarm_description=f"WebSocket API {protocol} {what}",
                )
                alarm.add_alarm_action(actions.SnsAction(topic))
                alarms[key] = alarm
        return alarms
