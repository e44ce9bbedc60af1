"""DynamoDB tables derived from the PynamoDB models, and the S3 buckets.

A table is declared once, on its model (docs/architecture.md, Layout): keys, key types, GSIs, TTL attribute and
stream view type are read from it here, so the cloud cannot drift from the code.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import CfnResource, CustomResource, Duration, Fn, RemovalPolicy, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from constructs import Construct
from pynamodb.attributes import Attribute, TTLAttribute
from pynamodb.indexes import LocalSecondaryIndex
from pynamodb.models import Model

from infra.settings import Settings
from watershed.config import BUCKETS, QUEUES
from watershed.services.exports import PREFIX as EXPORTS_PREFIX

# `mqtt_dlq` (watershed.config.QUEUES) receives what the MQTT path could not store: topic rule
# error actions, failed asynchronous invocations, items a handler refused with a reason.

AUTO_DELETE_PROVIDER = "Custom::S3AutoDeleteObjectsCustomResourceProvider"
"""CDK's stack-wide function behind `auto_delete_objects` (dev stages)."""

EXPORTS_EXPIRE_DAYS = 7
"""Export files and their status records are disposable: a client re-runs an export."""


_ATTRIBUTE_TYPES = {
    "S": dynamodb.AttributeType.STRING,
    "N": dynamodb.AttributeType.NUMBER,
    "B": dynamodb.AttributeType.BINARY,
}


@dataclass(frozen=True)
class KeySpec:
    """A key attribute: its name and DynamoDB type letter (S, N or B)."""

    name: str
    type: str

    def cdk(self) -> dynamodb.Attribute:
        return dynamodb.Attribute(name=self.name, type=_ATTRIBUTE_TYPES[self.type])


@dataclass(frozen=True)
class IndexSpec:
    """A secondary index as the model declares it (global unless `local`)."""

    name: str
    partition_key: KeySpec
    sort_key: KeySpec | None
    projection: str
    non_key_attributes: tuple[str, ...] = ()
    local: bool = False


@dataclass(frozen=True)
class TableSpec:
    """Everything infra/ needs to know about one model's table."""

    partition_key: KeySpec
    sort_key: KeySpec | None
    indexes: tuple[IndexSpec, ...]
    ttl_attribute: str | None
    stream_view_type: str | None


def _key(attribute: Attribute[object]) -> KeySpec:
    return KeySpec(attribute.attr_name, attribute.attr_type)


def _index_key(attributes: dict[str, Attribute[object]], role: str) -> KeySpec | None:
    for attribute in attributes.values():
        if getattr(attribute, role):
            return _key(attribute)
    return None


def table_spec(model: type[Model]) -> TableSpec:
    """Read a table's shape from its PynamoDB model."""
    attributes = model.get_attributes()
    partition_key = next(_key(a) for a in attributes.values() if a.is_hash_key)
    sort_key = next((_key(a) for a in attributes.values() if a.is_range_key), None)
    indexes = []
    for name, index in sorted(model._indexes.items()):
        index_attributes = index.Meta.attributes
        index_partition_key = _index_key(index_attributes, "is_hash_key")
        if index_partition_key is None:
            raise ValueError(f"{model.__name__}.{name} has no hash key")
        projection = index.Meta.projection
        indexes.append(
            IndexSpec(
                name=index.Meta.index_name,
                partition_key=index_partition_key,
                sort_key=_index_key(index_attributes, "is_range_key"),
                projection=projection.projection_type,
                non_key_attributes=tuple(projection.non_key_attributes or ()),
                local=isinstance(index, LocalSecondaryIndex),
            )
        )
    ttl = next((a.attr_name for a in attributes.values() if isinstance(a, TTLAttribute)), None)
    return TableSpec(
        partition_key=partition_key,
        sort_key=sort_key,
        indexes=tuple(indexes),
        ttl_attribute=ttl,
        stream_view_type=getattr(model.Meta, "stream_view_type", None),
    )


class Storage(Construct):
    """One table per model in TABLES, the lake/objects buckets (plus their access-log bucket), the queues."""

    def __init__(
        self, scope: Construct, construct_id: str, *, settings: Settings, models: dict[str, type[Model]]
    ) -> None:
        super().__init__(scope, construct_id)
        removal = RemovalPolicy.RETAIN if settings.is_prod else RemovalPolicy.DESTROY
        self.specs: dict[str, TableSpec] = {key: table_spec(model) for key, model in models.items()}
        self.tables: dict[str, dynamodb.Table] = {
            key: self._table(key, spec, settings, removal) for key, spec in self.specs.items()
        }
        self.access_logs = self._bucket("AccessLogs", settings, removal, ia_days=None, access_logs=None)
        self.buckets: dict[str, s3.Bucket] = {
            "lake": self._bucket(
                "Lake", settings, removal, ia_days=settings.lake_ia_days, access_logs=self.access_logs
            ),
            "objects": self._bucket(
                "Objects",
                settings,
                removal,
                ia_days=settings.objects_ia_days,
                access_logs=self.access_logs,
                cors=settings.cors_origins,
                expire_prefixes={EXPORTS_PREFIX: EXPORTS_EXPIRE_DAYS},
            ),
        }
        if set(self.buckets) != set(BUCKETS):
            raise ValueError(f"buckets {sorted(self.buckets)} differ from watershed.config.BUCKETS {BUCKETS}")
        self.stream_failures = self._bucket(
            "StreamFailures", settings, removal, ia_days=None, access_logs=self.access_logs
        )
        """What a table-stream consumer gave up on, each record with the whole batch (Lambda's S3
        on-failure destination): kept until re-driven (`python -m watershed.dlq redrive-streams`)."""
        self.queues: dict[str, sqs.Queue] = {
            key: sqs.Queue(
                self,
                "".join(part.title() for part in key.split("_")),
                encryption=sqs.QueueEncryption.SQS_MANAGED,
                enforce_ssl=True,
                retention_period=Duration.days(14),
            )
            for key in QUEUES
        }
        self._auto_delete_logs(settings, removal)

    def _auto_delete_logs(self, settings: Settings, removal: RemovalPolicy) -> None:
        """The auto-delete function's log group, with the stage's retention: Lambda would otherwise
        create `/aws/lambda/<name>` itself on first run, kept forever."""
        stack = Stack.of(self)
        provider = stack.node.try_find_child(AUTO_DELETE_PROVIDER)
        if provider is None:
            return
        handler = provider.node.find_child("Handler")
        assert isinstance(handler, CfnResource)
        group = logs.CfnLogGroup(
            self,
            "AutoDeleteObjectsLogs",
            log_group_name=Fn.join("", ["/aws/lambda/", handler.ref]),
            retention_in_days=settings.log_retention_days,
        )
        group.apply_removal_policy(removal)
        for bucket in self.node.children:
            custom = bucket.node.try_find_child("AutoDeleteObjectsCustomResource")
            if isinstance(custom, CustomResource):
                # The group exists before the function first runs (else Lambda makes its own).
                custom.node.add_dependency(group)

    def _table(self, key: str, spec: TableSpec, settings: Settings, removal: RemovalPolicy) -> dynamodb.Table:
        stream = dynamodb.StreamViewType[spec.stream_view_type] if spec.stream_view_type else None
        table = dynamodb.Table(
            self,
            key.title(),
            partition_key=spec.partition_key.cdk(),
            sort_key=spec.sort_key.cdk() if spec.sort_key else None,
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            deletion_protection=settings.is_prod,
            removal_policy=removal,
            time_to_live_attribute=spec.ttl_attribute,
            stream=stream,
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
        )
        for index in spec.indexes:
            if index.local:
                if index.sort_key is None:
                    raise ValueError(f"local index {index.name} of {key} needs a range key")
                table.add_local_secondary_index(
                    index_name=index.name,
                    sort_key=index.sort_key.cdk(),
                    projection_type=dynamodb.ProjectionType[index.projection],
                    non_key_attributes=list(index.non_key_attributes) or None,
                )
                continue
            table.add_global_secondary_index(
                index_name=index.name,
                partition_key=index.partition_key.cdk(),
                sort_key=index.sort_key.cdk() if index.sort_key else None,
                projection_type=dynamodb.ProjectionType[index.projection],
                non_key_attributes=list(index.non_key_attributes) or None,
            )
        return table

    def _bucket(
        self,
        construct_id: str,
        settings: Settings,
        removal: RemovalPolicy,
        *,
        ia_days: int | None,
        access_logs: s3.IBucket | None,
        cors: tuple[str, ...] = (),
        expire_prefixes: dict[str, int] | None = None,
    ) -> s3.Bucket:
        rules = [s3.LifecycleRule(abort_incomplete_multipart_upload_after=Duration.days(7))]
        for prefix, days in (expire_prefixes or {}).items():
            rules.append(
                s3.LifecycleRule(
                    prefix=prefix,
                    expiration=Duration.days(days),
                    noncurrent_version_expiration=Duration.days(1),
                )
            )
        if ia_days:
            rules.append(
                s3.LifecycleRule(
                    transitions=[
                        s3.Transition(
                            storage_class=s3.StorageClass.INFREQUENT_ACCESS,
                            transition_after=Duration.days(ia_days),
                        )
                    ]
                )
            )
        if access_logs is None:
            rules.append(s3.LifecycleRule(expiration=Duration.days(settings.log_retention_days)))
        return s3.Bucket(
            self,
            construct_id,
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            versioned=settings.bucket_versioning and access_logs is not None,
            lifecycle_rules=rules,
            server_access_logs_bucket=access_logs,
            server_access_logs_prefix=f"{construct_id.lower()}/" if access_logs else None,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            removal_policy=removal,
            auto_delete_objects=not settings.is_prod,
            cors=[
                s3.CorsRule(
                    allowed_methods=[s3.HttpMethods.GET, s3.HttpMethods.PUT],
                    allowed_origins=list(cors),
                    allowed_headers=["*"],
                    max_age=3000,
                )
            ]
            if cors
            else None,
        )
