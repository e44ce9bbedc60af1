"""A CloudWatch dashboard and the alarms that say something is wrong, all to one SNS topic.

Alarms: API 5xx, each function's errors, throttles of up to ten functions per alarm, DynamoDB
throttles per table, messages waiting in any dead-letter queue, lake delivery falling behind, and
rollup buckets parked.

CloudWatch publishes to the topic only because its policy says so: `enforce_ssl` replaces SNS's
default policy, so the topic policy must allow `cloudwatch.amazonaws.com` itself (scoped to this
account's alarms). A prod stage must name a subscriber (`alarmEmail`), or its alarms reach nobody.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import ArnFormat, Duration, Stack
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kinesisfirehose as firehose
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from functions.manifest import Function, Kind
from infra.functions import construct_id
from infra.lake import ERROR_ROOT
from infra.settings import Settings

PERIOD = Duration.minutes(5)
API_5XX_THRESHOLD = 5
LAKE_FRESHNESS_LIMIT_S = 900
PARTITIONS_WARNING_RATIO = 0.8
"""Alarm when the lake's active partitions reach this share of the quota, before rows overflow."""
STREAM_FAILURES_PREFIX = "aws/lambda/"
"""Where Lambda writes an S3 on-failure record: `aws/lambda/<mapping id>/<shard>/YYYY/MM/DD/...`."""
THROTTLED_PER_ALARM = 10
"""Functions whose throttles one alarm sums: CloudWatch's limit of metrics in an alarm's math. A
throttle alarm each would cost a CloudFormation resource per function (the stack's limit is 500);
the dashboard's graph per function says which one was throttled."""
AUTHORIZER_P99_LIMIT_MS = 1000
"""An uncached API request waits for the REST authorizer; a p99 above a second is felt by clients."""


class Observability(Construct):
    """Dashboard + alarms; `alarms` is keyed by a readable name (tests and docs use it)."""

    def __init__(
        self,
        scope: Construct,
        construct_id_: str,
        *,
        settings: Settings,
        api: apigw.RestApi | None,
        handlers: dict[str, lambda_.Function],
        tables: dict[str, dynamodb.Table],
        queues: dict[str, sqs.IQueue],
        lake_stream: firehose.DeliveryStream | None,
        functions: Sequence[Function] = (),
        stream_failures: s3.Bucket | None = None,
        lake_bucket: s3.Bucket | None = None,
    ) -> None:
        super().__init__(scope, construct_id_)
        self.topic = sns.Topic(self, "Alarms", display_name="Watershed alarms", enforce_ssl=True)
        self._allow_cloudwatch()
        if settings.alarm_email:
            self.topic.add_subscription(subscriptions.EmailSubscription(settings.alarm_email))
        elif settings.is_prod:
            raise ValueError(
                f"stage {settings.stage!r} is a prod stage: set -c alarmEmail=... so its alarms reach someone"
            )
        self.alarms: dict[str, cloudwatch.Alarm] = {}
        # Dashboards are global (one namespace for every region): the region keeps stacks apart.
        self.dashboard = cloudwatch.Dashboard(
            self,
            "Dashboard",
            dashboard_name=f"{settings.prefix}-{Stack.of(self).region}",
            default_interval=Duration.hours(3),
        )
        if api is not None:
            self._api(api)
        kinds = {f.name: f.kind for f in functions}
        throttled: list[tuple[str, cloudwatch.IMetric]] = []
        for name, handler in handlers.items():
            throttled.append((name, self._function(name, handler, kinds.get(name, Kind.WORKER))))
        self._throttles(throttled)
        if "rollup" in handlers:
            self._rollup_parked(settings)
        for key, table in tables.items():
            self._table(key, table)
        for name, queue in queues.items():
            self._queue(name, queue)
        if lake_stream is not None:
            self._lake(lake_stream)
            self._lake_partitions(lake_stream, settings.lake_active_partitions)
        if lake_bucket is not None:
            self._new_objects(
                "lake_errors",
                lake_bucket,
                ERROR_ROOT,
                "lake rows went to errors/, where Athena does not look (over the partition quota, or a bad ts)",
            )
        if stream_failures is not None:
            self._new_objects(
                "stream_failures",
                stream_failures,
                STREAM_FAILURES_PREFIX,
                "a table-stream consumer gave up on records (re-drive: python -m watershed.dlq redrive-streams)",
            )

    def _allow_cloudwatch(self) -> None:
        """CloudWatch alarms of this account (and no one else's) may publish to the topic."""
        stack = Stack.of(self)
        alarms = stack.format_arn(
            service="cloudwatch", resource="alarm", resource_name="*", arn_format=ArnFormat.COLON_RESOURCE_NAME
        )
        self.topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchAlarmsPublish",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["sns:Publish"],
                resources=[self.topic.topic_arn],
                conditions={
                    "StringEquals": {"aws:SourceAccount": stack.account},
                    "ArnLike": {"aws:SourceArn": alarms},
                },
            )
        )

    def _alarm(self, name: str, metric: cloudwatch.IMetric, threshold: float, description: str) -> None:
        alarm = cloudwatch.Alarm(
            self,
            f"{construct_id(name)}Alarm",
            metric=metric,
            threshold=threshold,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            alarm_description=description,
        )
        alarm.add_alarm_action(actions.SnsAction(self.topic))
        self.alarms[name] = alarm

    def _api(self, api: apigw.RestApi) -> None:
        server_errors = api.metric_server_error(period=PERIOD, statistic="Sum")
        self._alarm("api_5xx", server_errors, API_5XX_THRESHOLD, "REST API answered 5xx")
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="API requests and errors",
                left=[
                    api.metric_count(period=PERIOD, statistic="Sum"),
                    api.metric_client_error(period=PERIOD, statistic="Sum"),
                    server_errors,
                ],
                width=12,
            ),
            cloudwatch.GraphWidget(
                title="API latency",
                left=[
                    api.metric_latency(period=PERIOD, statistic="p50"),
                    api.metric_latency(period=PERIOD, statistic="p99"),
                ],
                width=12,
            ),
        )

    def _function(self, name: str, handler: lambda_.Function, kind: Kind) -> cloudwatch.IMetric:
        """A function's errors alarm and dashboard graphs; answers its throttles metric."""
        errors = handler.metric_errors(period=PERIOD, statistic="Sum")
        throttles = handler.metric_throttles(period=PERIOD, statistic="Sum")
        if kind is Kind.REST_AUTHORIZER:
            # Refusing a wrong key raises `Unauthorized`, which Lambda counts as an error: an errors
            # alarm would fire on every bad client. Its real failures show as the API's 5xx.
            duration = handler.metric_duration(period=PERIOD, statistic="p99")
            self._alarm(
                f"{name}_duration", duration, AUTHORIZER_P99_LIMIT_MS, f"authorizer {name} p99 is over a second"
            )
        else:
            self._alarm(f"{name}_errors", errors, 1, f"function {name} failed")
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title=f"{name}: invocations, errors, throttles",
                left=[handler.metric_invocations(period=PERIOD, statistic="Sum"), errors, throttles],
                width=12,
            ),
            cloudwatch.GraphWidget(
                title=f"{name}: duration",
                left=[
                    handler.metric_duration(period=PERIOD, statistic="p50"),
                    handler.metric_duration(period=PERIOD, statistic="p99"),
                ],
                width=12,
            ),
        )
        return throttles

    def _throttles(self, throttled: Sequence[tuple[str, cloudwatch.IMetric]]) -> None:
        """One alarm per ten functions on the sum of their throttles; `alarms[<name>_throttles]` is
        the alarm covering that function."""
        for start in range(0, len(throttled), THROTTLED_PER_ALARM):
            group = throttled[start:start + THROTTLED_PER_ALARM]
            names = [name for name, _ in group]
            total = cloudwatch.MathExpression(
                expression="+".join(f"t{i}" for i in range(len(group))),
                using_metrics={f"t{i}": metric for i, (_, metric) in enumerate(group)},
                period=PERIOD,
                label=f"throttles of {', '.join(names)}",
            )
            key = f"function_throttles_{start // THROTTLED_PER_ALARM + 1}"
            self._alarm(key, total, 1, f"one of these functions was throttled: {', '.join(names)}")
            for name in names:
                self.alarms[f"{name}_throttles"] = self.alarms[key]

    def _table(self, key: str, table: dynamodb.Table) -> None:
        throttles = cloudwatch.MathExpression(
            expression="FILL(r, 0) + FILL(w, 0)",
            using_metrics={
                "r": table.metric("ReadThrottleEvents", period=PERIOD, statistic="Sum"),
                "w": table.metric("WriteThrottleEvents", period=PERIOD, statistic="Sum"),
            },
            label=f"{key} throttle events",
            period=PERIOD,
        )
        self._alarm(f"{key}_table_throttles", throttles, 1, f"DynamoDB throttled the {key} table")
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title=f"{key} table: consumed capacity and throttles",
                left=[
                    table.metric_consumed_read_capacity_units(period=PERIOD, statistic="Sum"),
                    table.metric_consumed_write_capacity_units(period=PERIOD, statistic="Sum"),
                ],
                right=[throttles],
                width=24,
            )
        )

    def _queue(self, name: str, queue: sqs.IQueue) -> None:
        waiting = queue.metric_approximate_number_of_messages_visible(period=PERIOD, statistic="Maximum")
        self._alarm(f"{name}_dead_letters", waiting, 1, f"messages are waiting in the {name} dead-letter queue")
        self.dashboard.add_widgets(cloudwatch.SingleValueWidget(title=f"{name} dead letters", metrics=[waiting]))

    def _lake_partitions(self, stream: firehose.DeliveryStream, quota: int) -> None:
        """Dynamic partitioning: rows beyond the active-partition quota are written to errors/."""
        count = stream.metric("PartitionCount", period=PERIOD, statistic="Maximum")
        exceeded = stream.metric("PartitionCountExceeded", period=PERIOD, statistic="Maximum")
        near = max(1, int(quota * PARTITIONS_WARNING_RATIO))
        self._alarm("lake_partitions", count, near, f"lake active partitions reached {near} of the {quota} quota")
        self._alarm("lake_partitions_exceeded", exceeded, 1, "lake partition quota exceeded: rows go to errors/")
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(title="lake active partitions", left=[count], right=[exceeded], width=24)
        )

    def _new_objects(self, name: str, bucket: s3.Bucket, prefix: str, description: str) -> None:
        """Alarm on any object written under `prefix` (S3 request metrics, filtered to the prefix)."""
        filter_id = construct_id(name)
        bucket.add_metric(id=filter_id, prefix=prefix)
        puts = cloudwatch.Metric(
            namespace="AWS/S3",
            metric_name="PutRequests",
            dimensions_map={"BucketName": bucket.bucket_name, "FilterId": filter_id},
            period=PERIOD,
            statistic="Sum",
        )
        self._alarm(name, puts, 1, description)
        self.dashboard.add_widgets(cloudwatch.SingleValueWidget(title=f"{name}: objects written", metrics=[puts]))

    def _rollup_parked(self, settings: Settings) -> None:
        """The rollup job parked a bucket it could not refresh (services.rollup): its reason is in the log."""
        parked = cloudwatch.Metric(
            namespace=settings.metrics_namespace,
            metric_name="RollupBucketsParked",
            dimensions_map={"service": "watershed-rollup"},
            period=PERIOD,
            statistic="Sum",
        )
        self._alarm("rollup_buckets_parked", parked, 1, "the rollup job parked buckets it could not refresh")
        self.dashboard.add_widgets(cloudwatch.SingleValueWidget(title="rollup buckets parked", metrics=[parked]))

    def _lake(self, stream: firehose.DeliveryStream) -> None:
        freshness = stream.metric("DeliveryToS3.DataFreshness", period=PERIOD, statistic="Maximum")
        self._alarm("lake_freshness", freshness, LAKE_FRESHNESS_LIMIT_S, "lake delivery is falling behind")
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="lake delivery",
                left=[stream.metric_incoming_records(period=PERIOD, statistic="Sum")],
                right=[freshness],
                width=24,
            )
        )
