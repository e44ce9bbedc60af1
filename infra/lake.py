"""The lake: a Firehose delivery stream into the lake bucket, and the Glue/Athena side to query it.

Record contract (what the `changes` function sends with PutRecordBatch): one change per record,
a JSON object `{"org","pool","station","stream","ts","value","op","at"}` with no trailing
newline (the stream appends it). `ts` (the interval's time) and `at` (when the table accepted
the change) are integer epoch milliseconds UTC (docs/lake.md, watershed.services.lake); the
partition date is the UTC date of `ts`, so a query for a day reads that day's partition whenever
the data arrived. Objects land gzip'd under `org=<org>/date=YYYY-MM-DD/`; Athena finds
partitions by projection, no crawler.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from aws_cdk import Duration, RemovalPolicy, Size, Stack
from aws_cdk import aws_athena as athena
from aws_cdk import aws_glue as glue
from aws_cdk import aws_kinesisfirehose as firehose
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from constructs import Construct

from functions.manifest import Access, Function
from infra.settings import Settings
from watershed.config import LAKE_STREAM_ENV

DATA_PREFIX = "org=!{partitionKeyFromQuery:org}/date=!{partitionKeyFromQuery:date}/"
ERROR_ROOT = "errors/"
ERROR_PREFIX = ERROR_ROOT + "!{firehose:error-output-type}/!{timestamp:yyyy-MM-dd}/"
"""Rows Firehose could not partition, Athena never reads: a `ts` that is not a number, and every
row beyond the active-partition quota (`errors/activePartitionExceeded/...`, 500 partitions per
stream unless raised, docs/deploy.md); observability alarms on any object here."""
ATHENA_RESULTS_PREFIX = "athena-results/"

PARTITION_QUERIES = {
    "org": ".org",
    "date": '.ts / 1000 | floor | strftime("%Y-%m-%d")',
}
"""jq 1.6 (Firehose inline parsing). A row whose `ts` is not a number fails the query, so Firehose
puts it under ERROR_PREFIX rather than in a partition the bigint column could not read."""

COLUMNS = (
    ("pool", "string"),
    ("station", "string"),
    ("stream", "string"),
    ("ts", "bigint"),
    ("value", "string"),
    ("op", "string"),
    ("at", "bigint"),
)
"""Row columns; `org` is a partition column, so it is not repeated here. `value` stays a string
(the OpenX SerDe keeps a number, boolean or JSON value as its text) because a stream's type
decides how to read it."""

PARTITION_COLUMNS = (("org", "string"), ("date", "string"))


def glue_name(settings: Settings) -> str:
    """Glue database names are lower case with underscores."""
    return re.sub(r"[^a-z0-9_]", "_", f"watershed_{settings.stage}".lower())


class Lake(Construct):
    """Delivery stream, Glue database/table with partition projection, Athena workgroup."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: Settings,
        bucket: s3.Bucket,
        functions: Sequence[Function],
        handlers: dict[str, lambda_.Function],
    ) -> None:
        super().__init__(scope, construct_id)
        # Firehose's delivery errors: without one of ours, CDK makes a log group kept forever.
        self.error_logs = logs.LogGroup(
            self,
            "DeliveryErrors",
            removal_policy=RemovalPolicy.RETAIN if settings.is_prod else RemovalPolicy.DESTROY,
        )
        error_log_resource = self.error_logs.node.default_child
        assert isinstance(error_log_resource, logs.CfnLogGroup)
        error_log_resource.retention_in_days = settings.log_retention_days
        self.stream = firehose.DeliveryStream(
            self,
            "Stream",
            encryption=firehose.StreamEncryption.aws_owned_key(),
            destination=firehose.S3Bucket(
                bucket,
                dynamic_partitioning=firehose.DynamicPartitioningProps(
                    enabled=True, retry_duration=Duration.minutes(5)
                ),
                processors=[
                    firehose.MetadataExtractionProcessor.jq16(PARTITION_QUERIES),
                    firehose.AppendDelimiterToRecordProcessor(),
                ],
                data_output_prefix=DATA_PREFIX,
                error_output_prefix=ERROR_PREFIX,
                compression=firehose.Compression.GZIP,
                logging_config=firehose.EnableLogging(self.error_logs),
                buffering_interval=Duration.seconds(settings.lake_buffer_seconds),
                # Dynamic partitioning requires a buffer of at least 64 MiB.
                buffering_size=Size.mebibytes(64),
            ),
        )
        for function in functions:
            access = function.buckets.get("lake")
            if access is None:
                continue
            handlers[function.name].add_environment(LAKE_STREAM_ENV, self.stream.delivery_stream_name)
            if access in (Access.WRITE, Access.READ_WRITE):
                self.stream.grant_put_records(handlers[function.name])
        self._catalog(settings, bucket)

    def _catalog(self, settings: Settings, bucket: s3.Bucket) -> None:
        account = Stack.of(self).account
        self.database_name = glue_name(settings)
        self.database = glue.CfnDatabase(
            self,
            "Database",
            catalog_id=account,
            database_input=glue.CfnDatabase.DatabaseInputProperty(
                name=self.database_name, description="Watershed lake: every accepted change"
            ),
        )
        location = f"s3://{bucket.bucket_name}/"
        self.table = glue.CfnTable(
            self,
            "Table",
            catalog_id=account,
            database_name=self.database_name,
            table_input=glue.CfnTable.TableInputProperty(
                name="intervals",
                description="Interval changes as gzip NDJSON; the last row per (stream, ts) is the value",
                table_type="EXTERNAL_TABLE",
                partition_keys=[
                    glue.CfnTable.ColumnProperty(name=name, type=type_) for name, type_ in PARTITION_COLUMNS
                ],
                parameters={
                    "classification": "json",
                    "compressionType": "gzip",
                    "projection.enabled": "true",
                    "projection.org.type": "injected",
                    "projection.date.type": "date",
                    "projection.date.format": "yyyy-MM-dd",
                    "projection.date.range": "2020-01-01,NOW",
                    "projection.date.interval": "1",
                    "projection.date.interval.unit": "DAYS",
                    "storage.location.template": location + "org=${org}/date=${date}/",
                },
                storage_descriptor=glue.CfnTable.StorageDescriptorProperty(
                    location=location,
                    input_format="org.apache.hadoop.mapred.TextInputFormat",
                    output_format="org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat",
                    serde_info=glue.CfnTable.SerdeInfoProperty(
                        serialization_library="org.openx.data.jsonserde.JsonSerDe",
                        parameters={"ignore.malformed.json": "FALSE"},
                    ),
                    columns=[glue.CfnTable.ColumnProperty(name=name, type=type_) for name, type_ in COLUMNS],
                ),
            ),
        )
        self.table.node.add_dependency(self.database)
        self.workgroup = athena.CfnWorkGroup(
            self,
            "WorkGroup",
            name=settings.prefix,
            description="Queries over the Watershed lake",
            state="ENABLED",
            recursive_delete_option=not settings.is_prod,
            work_group_configuration=athena.CfnWorkGroup.WorkGroupConfigurationProperty(
                enforce_work_group_configuration=True,
                publish_cloud_watch_metrics_enabled=True,
                bytes_scanned_cutoff_per_query=settings.athena_scan_limit_gb * 1024**3,
                result_configuration=athena.CfnWorkGroup.ResultConfigurationProperty(
                    output_location=f"s3://{bucket.bucket_name}/{ATHENA_RESULTS_PREFIX}",
                    encryption_configuration=athena.CfnWorkGroup.EncryptionConfigurationProperty(
                        encryption_option="SSE_S3"
                    ),
                ),
            ),
        )
