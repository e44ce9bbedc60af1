"""A CloudWatch dashboard and the alarms that say something is wrong, all to one SNS topic.

Alarms: API 5xx, each function's errors and throttles, DynamoDB throttles per table, messages
waiting in any dead-letter queue, lake delivery falling behind, and rollup buckets parked.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_kinesisfirehose as firehose
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.functions import construct_id
from infra.settings import Settings

PERIOD = Duration.minutes(5)
API_5XX_THRESHOLD = 5
LAKE_FRESHNESS_LIMIT_S = 900


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
    ) -> None:
        super().__init__(scope, construct_id_)
        self.topic = sns.Topic(self, "Alarms", display_name="Watershed alarms", enforce_ssl=True)
        if settings.alarm_email:
            self.topic.add_subscription(subscriptions.EmailSubscription(settings.alarm_email))
        self.alarms: dict[str, cloudwatch.Alarm] = {}
        self.dashboard = cloudwatch.Dashboard(
            self, "Dashboard", dashboard_name=f"{settings.prefix}", default_interval=Duration.hours(3)
        )
        if api is not None:
            self._api(api)
        for name, handler in handlers.items():
            self._function(name, handler)
        if "rollup" in handlers:
            self._rollup_parked(settings)
        for key, table in tables.items():
            self._table(key, table)
        for name, queue in queues.items():
            self._queue(name, queue)
        if lake_stream is not None:
            self._lake(lake_stream)

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

    def _function(self, name: str, handler: lambda_.Function) -> None:
        errors = handler.metric_errors(period=PERIOD, statistic="Sum")
        throttles = handler.metric_throttles(period=PERIOD, statistic="Sum")
        self._alarm(f"{name}_errors", errors, 1, f"function {name} failed")
        self._alarm(f"{name}_throttles", throttles, 1, f"function {name} was throttled")
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
