"""cdk-nag AwsSolutions acknowledgments: each names the finding it covers, on the narrowest
construct, and why it is acceptable (cdk-nag v3: CDK's native `Validations.acknowledge`).

Wildcard findings are acknowledged by exact finding id (`IAM5[Resource::<Table.Arn>/index/*]`),
so a new wildcard a later change introduces is still reported. tests/infra checks that no
policy has `*` actions, and that `*` resources carry only actions AWS allows no narrower
resource for (X-Ray, dynamodb:ListStreams).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aws_cdk import Acknowledgment, App, CfnResource, Stack, Validations
from cdk_nag import AwsSolutionsChecks
from constructs import IConstruct

from watershed.api.routes import AuthMode, gateway_resource

if TYPE_CHECKING:
    from infra.stack import WatershedStack

S3_GRANT_ACTIONS = ("s3:Abort*", "s3:DeleteObject*", "s3:GetBucket*", "s3:GetObject*", "s3:List*")


def apply_checks(app: App) -> None:
    """Run cdk-nag's AwsSolutions pack on every stack of the app; an unacknowledged error fails synth."""
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))


def acknowledge(construct: IConstruct, rule: str, reason: str) -> None:
    """Acknowledge one AwsSolutions finding on a construct and everything under it."""
    Validations.of(construct).acknowledge(Acknowledgment(id=f"AwsSolutions-{rule}", reason=reason))


def _logical_id(construct: IConstruct) -> str:
    resource = construct.node.default_child
    assert isinstance(resource, CfnResource)
    return Stack.of(construct).get_logical_id(resource)


def suppress(stack: WatershedStack) -> None:
    """Every acknowledgment the stack needs, with its reason."""
    Validations.of(stack).acknowledge(
        Acknowledgment(
            id="CloudFormation-Validate::W7001",
            reason="The unused Firehose CIDR mapping is emitted by the CDK Firehose construct itself.",
        )
    )
    for table in stack.storage.tables.values():
        acknowledge(
            stack,
            f"IAM5[Resource::<{_logical_id(table)}.Arn>/index/*]",
            "Grants on a table include its own indexes (GSI queries); the wildcard covers only "
            "that table's index names.",
        )
    acknowledge(
        stack,
        f"IAM5[Resource::<{_logical_id(stack.storage.stream_failures)}.Arn>/*]",
        "The stream consumer writes its on-failure records into one bucket (CDK's "
        "S3OnFailureDestination grant); Lambda names the keys (aws/lambda/<mapping>/<shard>/<date>/...).",
    )
    for bucket in stack.storage.buckets.values():
        acknowledge(
            stack,
            f"IAM5[Resource::<{_logical_id(bucket)}.Arn>/*]",
            "Object-level grants on one bucket: keys are data (org/date partitions, stream "
            "objects), so they cannot be listed in advance.",
        )
        for action in S3_GRANT_ACTIONS:
            acknowledge(
                stack,
                f"IAM5[Action::{action}]",
                "CDK's bucket grant methods (read/write per the manifest's Access, and the stream "
                "on-failure destination's), scoped to one bucket's ARN.",
            )
    for role in stack.functions.roles.values():
        acknowledge(
            role,
            "IAM5[Resource::*]",
            "X-Ray tracing (xray:PutTraceSegments, PutTelemetryRecords) and, for stream consumers, "
            "dynamodb:ListStreams support no resource-level permissions; tests/infra checks that "
            "`*` resources carry only these actions.",
        )
    for function in stack.manifest:
        for relative in function.iot_publish:
            pattern = stack.settings.topics.topic(relative)
            if "*" not in pattern:
                continue
            acknowledge(
                stack.functions.roles[function.name],
                f"IAM5[Resource::arn:<AWS::Partition>:iot:<AWS::Region>:<AWS::AccountId>:topic/{pattern}]",
                f"{function.name} publishes to MQTT topics {pattern} (manifest iot_publish): the `*` "
                "segments are station ids and config groups, which are data.",
            )
    acknowledge(
        stack.functions.signing_secret,
        "SMG4",
        "The cursor-signing key is rotated by hand (docs/deploy.md): rotating it invalidates "
        "every outstanding paging cursor, which a schedule must not do silently.",
    )
    for queue in stack.storage.queues.values():
        acknowledge(
            queue,
            "SQS3",
            "This queue is itself a dead-letter queue (IoT rule error actions, failed asynchronous "
            "invocations); messages are inspected and re-driven from it.",
        )
    if stack.rest_api is not None:
        _rest_api(stack)
    _websocket(stack)


def _websocket(stack: WatershedStack) -> None:
    """WebSocket APIs authorize once, on $connect; ManageConnections is per connection id."""
    for door in stack.websocket.doors.values():
        in_band = next((f.websocket.authorizer is False for f in stack.manifest
                        if f.websocket and f.websocket.protocol == door.protocol), False)
        for route_key, route in door.routes.items():
            if route_key == "$connect" and in_band:
                acknowledge(
                    route,
                    "APIG4",
                    "$connect of a protocol that authenticates in-band (JSON-RPC `authenticate` with an "
                    "API key or token): the connection is anonymous until then and every other method "
                    "is refused; the handler keeps the principal on the connection item.",
                )
                continue
            if route_key == "$connect":
                continue
            acknowledge(
                route,
                "APIG4",
                f"{route_key}: a WebSocket API authorizes only $connect; every later frame of the "
                "connection carries the authorizer's context, which the handler checks.",
            )
        for function in stack.manifest:
            if function.websocket_push or (function.websocket and function.websocket.protocol == door.protocol):
                acknowledge(
                    stack.functions.roles[function.name],
                    f"IAM5[Resource::arn:<AWS::Partition>:execute-api:<AWS::Region>:<AWS::AccountId>:"
                    f"<{_logical_id(door.api)}>/{door.stage.stage_name}/*/@connections/*]",
                    f"{function.name} posts to any connection of this API's stage (live updates, "
                    "answers of several frames): the "
                    "`*` segments are the HTTP verb of the management call and the connection id.",
                )


def _rest_api(stack: WatershedStack) -> None:
    assert stack.rest_api is not None
    api = stack.rest_api.api
    acknowledge(
        api,
        "APIG2",
        "Handlers validate every body and parameter with Powertools parser and answer "
        "{code,message,field} 400s; gateway validation would answer a different shape.",
    )
    acknowledge(
        api,
        "APIG3",
        "No WAF by default (cost per web ACL and rule); stage throttling limits abuse. Attach a "
        "web ACL per deployment if needed (docs/deploy.md).",
    )
    acknowledge(
        api,
        "COG4",
        "Credentials are Watershed API keys and its own OAuth2 JWTs (docs/architecture.md, Auth), checked by the "
        "REQUEST authorizer, not Cognito user pools.",
    )
    reasons = {
        AuthMode.NONE: "Public by nature (health check, OAuth2 token endpoint, the OpenAPI document).",
        AuthMode.HANDLER: "The handler authenticates (services.auth): the credential or the error "
        "shape cannot go through a gateway authorizer (docs/architecture.md, The doors).",
    }
    for function in stack.manifest:
        for route in function.routes:
            if route.auth is AuthMode.GATEWAY or gateway_resource(route) != route.path:
                continue
            method = stack.rest_api.methods[(route.method.upper(), route.path)]
            acknowledge(method, "APIG4", f"{route.method} {route.path}: {reasons[route.auth]}")
    for (verb, path), method in stack.rest_api.methods.items():
        if verb == "ANY":
            acknowledge(method, "APIG4", f"{path}: a facade's routes; {reasons[AuthMode.HANDLER]}")
