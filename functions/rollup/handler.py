"""The rollup function: every minute, recompute a bounded number of dirty buckets (services.rollup)."""

from dataclasses import asdict
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from watershed.services import rollup

logger = Logger()
metrics = Metrics()


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    report = rollup.run(rollup.slice_of(event))
    metrics.add_metric(name="BucketsRecomputed", unit=MetricUnit.Count, value=report.buckets)
    metrics.add_metric(name="BucketsLeftDirty", unit=MetricUnit.Count, value=report.left_dirty)
    metrics.add_metric(name="RollupBucketsParked", unit=MetricUnit.Count, value=report.parked)
    logger.info("rollup run", extra=asdict(report))
    return asdict(report)
