"""The query function: serves its routes of the native API (watershed.api.routes).

Tracing is Lambda's active tracing, not the X-Ray SDK: the SDK builds a botocore client at import,
which doubled the cold start (tests/bench/bench_push.py).
"""

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from watershed.api.http import resolver_for

logger = Logger()
metrics = Metrics()
app = resolver_for("query")


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    metrics.add_metric(name="Requests", unit=MetricUnit.Count, value=1)
    return app.resolve(event, context)
