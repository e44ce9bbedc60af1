"""One Lambda function per manifest entry, with exactly the grants its `tables`, `buckets`,
`queues` and `iot_publish` name.

Triggers are wired by the constructs of their concern (rest_api, iot, schedules, streams, lake);
this file only knows what every function has in common.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from aws_cdk import ArnFormat, Duration, RemovalPolicy, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from functions.manifest import Access, Function, Kind
from infra.layer import ARCHITECTURE, RUNTIME
from infra.settings import Settings
from infra.storage import Storage
from watershed.config import (
    IOT_DATA_ENDPOINT_ENV,
    MQTT_TOPIC_PREFIX_ENV,
    SIGNING_SECRET_ENV,
    STAGE_ENV,
    bucket_env,
    queue_env,
    table_env,
)

ASSET_EXCLUDES = ["__pycache__", "*.pyc", ".pytest_cache", ".mypy_cache"]
IOT_PUBLISH_ACTIONS = ["iot:Publish", "iot:RetainPublish"]
"""A retained publish needs both: RetainPublish alone does not allow the publish."""
API_INTEGRATION_TIMEOUT_S = 29
API_TIMEOUT_MARGIN_S = 3
"""An HTTP function must end this much before API Gateway's integration timeout gives up on it."""
IOT_AUTHORIZER_TIMEOUT_LIMIT_S = 5
"""AWS IoT waits at most 5 seconds for a custom authorizer's Lambda function."""


def construct_id(name: str) -> str:
    """`mqtt_ingest` → `MqttIngest`: stable logical ids from manifest names."""
    return "".join(part.title() for part in name.replace("-", "_").split("_"))


def is_read_only(function: Function) -> bool:
    """A function whose every table, bucket and queue access is READ, and that publishes nothing."""
    accesses = (*function.tables.values(), *function.buckets.values(), *function.queues.values())
    return not function.iot_publish and all(access is Access.READ for access in accesses)


def iot_topic_arn(scope: Construct, pattern: str) -> str:
    """`things/*/config/expected/*` → `arn:<partition>:iot:<region>:<account>:topic/things/*/config/expected/*`."""
    return Stack.of(scope).format_arn(
        service="iot", resource="topic", resource_name=pattern, arn_format=ArnFormat.SLASH_RESOURCE_NAME
    )


class Functions(Construct):
    """The manifest's functions; `by_name` maps manifest names to the Lambda functions."""

    def __init__(
        self,
        scope: Construct,
        construct_id_: str,
        *,
        settings: Settings,
        functions: Sequence[Function],
        storage: Storage,
        layer: lambda_.ILayerVersion,
        code_root: Path | None = None,
    ) -> None:
        super().__init__(scope, construct_id_)
        self.settings = settings
        self.signing_secret = secretsmanager.Secret(
            self,
            "SigningSecret",
            description="HMAC key that signs paging cursors",
            generate_secret_string=secretsmanager.SecretStringGenerator(password_length=64, exclude_punctuation=True),
            removal_policy=RemovalPolicy.RETAIN if settings.is_prod else RemovalPolicy.DESTROY,
        )
        self.by_name: dict[str, lambda_.Function] = {}
        self.roles: dict[str, iam.Role] = {}
        for function in functions:
            folder = code_root / function.name if code_root else function.folder
            self.by_name[function.name] = self._function(function, folder, storage, layer)

    def _function(
        self, function: Function, folder: Path, storage: Storage, layer: lambda_.ILayerVersion
    ) -> lambda_.Function:
        if not (folder / "handler.py").is_file():
            raise FileNotFoundError(f"manifest function {function.name!r} has no {folder}/handler.py")
        unknown = (
            (set(function.tables) - set(storage.tables))
            | (set(function.buckets) - set(storage.buckets))
            | (set(function.queues) - set(storage.queues))
        )
        if unknown:
            raise ValueError(f"function {function.name!r} names unknown tables/buckets/queues {sorted(unknown)}")
        _check_timeout(function)
        name = construct_id(function.name)
        settings = self.settings
        log_group = logs.LogGroup(
            self,
            f"{name}Logs",
            removal_policy=RemovalPolicy.RETAIN if settings.is_prod else RemovalPolicy.DESTROY,
        )
        # The L2 takes an enum of named periods; the context gives a number of days.
        log_group_resource = log_group.node.default_child
        assert isinstance(log_group_resource, logs.CfnLogGroup)
        log_group_resource.retention_in_days = settings.log_retention_days
        role = iam.Role(
            self,
            f"{name}Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"watershed {function.name} function",
        )
        log_group.grant_write(role)
        self.roles[function.name] = role
        environment = {
            "POWERTOOLS_SERVICE_NAME": f"watershed-{function.name}",
            "POWERTOOLS_LOG_LEVEL": settings.log_level,
            "LOG_LEVEL": settings.log_level,
            "POWERTOOLS_METRICS_NAMESPACE": settings.metrics_namespace,
            STAGE_ENV: settings.stage,
            SIGNING_SECRET_ENV: self.signing_secret.secret_arn,
        }
        environment.update({table_env(key): storage.tables[key].table_name for key in function.tables})
        environment.update({bucket_env(key): storage.buckets[key].bucket_name for key in function.buckets})
        environment.update({queue_env(key): storage.queues[key].queue_url for key in function.queues})
        if settings.mqtt_topic_prefix:
            environment[MQTT_TOPIC_PREFIX_ENV] = settings.mqtt_topic_prefix
        if function.iot_publish and settings.iot_data_endpoint:
            environment[IOT_DATA_ENDPOINT_ENV] = settings.iot_data_endpoint
        handler = lambda_.Function(
            self,
            name,
            code=lambda_.Code.from_asset(str(folder), exclude=ASSET_EXCLUDES),
            handler=function.handler,
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            memory_size=function.memory_mb,
            timeout=Duration.seconds(function.timeout_s),
            tracing=lambda_.Tracing.ACTIVE,
            layers=[layer],
            log_group=log_group,
            role=role,
            environment=environment,
            description=f"watershed {function.name} ({function.kind})",
            reserved_concurrent_executions=_reserved_concurrency(function, settings),
        )
        self.signing_secret.grant_read(role)
        for key, access in function.tables.items():
            _grant_table(storage.tables[key], access, role)
        for key, access in function.buckets.items():
            _grant_bucket(storage.buckets[key], access, role)
        for key, access in function.queues.items():
            _grant_queue(storage.queues[key], access, role)
        if function.iot_publish:
            role.add_to_policy(
                iam.PolicyStatement(
                    actions=IOT_PUBLISH_ACTIONS,
                    resources=[iot_topic_arn(self, settings.topics.topic(p)) for p in function.iot_publish],
                )
            )
        return handler


def _reserved_concurrency(function: Function, settings: Settings) -> int | None:
    """The IoT authorizer's cap: signing is disabled, so any client's CONNECT invokes it."""
    if function.kind is Kind.IOT_AUTHORIZER and settings.mqtt_authorizer_concurrency > 0:
        return settings.mqtt_authorizer_concurrency
    return None


def _check_timeout(function: Function) -> None:
    """HTTP functions end before API Gateway answers 504; an IoT authorizer before IoT stops waiting."""
    longest = API_INTEGRATION_TIMEOUT_S - API_TIMEOUT_MARGIN_S
    if function.kind is Kind.HTTP and function.timeout_s > longest:
        raise ValueError(
            f"HTTP function {function.name!r} has timeout_s={function.timeout_s}: at most {longest} "
            f"(API Gateway gives up at {API_INTEGRATION_TIMEOUT_S} s)"
        )
    if function.kind is Kind.IOT_AUTHORIZER and function.timeout_s >= IOT_AUTHORIZER_TIMEOUT_LIMIT_S:
        raise ValueError(
            f"IoT authorizer {function.name!r} has timeout_s={function.timeout_s}: it must be under "
            f"{IOT_AUTHORIZER_TIMEOUT_LIMIT_S} (IoT's limit for custom authorizers)"
        )


def _grant_queue(queue: sqs.IQueue, access: Access, role: iam.IRole) -> None:
    """WRITE sends; READ receives, deletes and changes visibility (a re-drive reads and sends)."""
    if access in (Access.READ, Access.READ_WRITE):
        queue.grant_consume_messages(role)
    if access in (Access.WRITE, Access.READ_WRITE):
        queue.grant_send_messages(role)


def _grant_bucket(bucket: s3.IBucket, access: Access, role: iam.IRole) -> None:
    if access is Access.READ:
        bucket.grant_read(role)
    elif access is Access.WRITE:
        bucket.grant_write(role)
    else:
        bucket.grant_read_write(role)


def _grant_table(table: dynamodb.Table, access: Access, role: iam.IRole) -> None:
    if access is Access.READ:
        table.grant_read_data(role)
    elif access is Access.WRITE:
        table.grant_write_data(role)
    else:
        table.grant_read_write_data(role)
