"""The exports worker: on its schedule, writes the exports too large to answer in the request."""

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from watershed.services import exports

logger = Logger()
metrics = Metrics()


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    finished = exports.run_pending(context.get_remaining_time_in_millis)
    metrics.add_metric(name="ExportsFinished", unit=MetricUnit.Count, value=finished)
    return {"finished": finished}
