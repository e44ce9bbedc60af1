"""Topic rule target for `things/+/data/+`: store a device's telemetry, dead-letter what does not fit."""

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from watershed.protocols import oring_mqtt

logger = Logger()
metrics = Metrics()


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    result = oring_mqtt.data_message(event, context.function_name)
    metrics.add_metric(name="MqttIntervalsStored", unit=MetricUnit.Count, value=result.stored)
    if result.rejected:
        metrics.add_metric(name="MqttItemsRejected", unit=MetricUnit.Count, value=len(result.rejected))
    return result.summary()
