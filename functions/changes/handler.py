"""The changes function: reads the intervals table's DynamoDB Stream and acts on what changed.

Each record becomes a Change (Powertools batch processing: a record that cannot be read is
reported as a partial batch failure, so the shard resumes from it instead of being poisoned);
the changes before the first failure are then marked dirty, sent to the lake, in order, and fanned
out to live WebSocket subscribers (best effort: a failed post never fails the batch).
"""

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from watershed.api import websocket
from watershed.model import Change
from watershed.services import changes

logger = Logger()
metrics = Metrics()
processor = BatchProcessor(event_type=EventType.DynamoDBStreams)


def read_record(record: DynamoDBRecord) -> Change | None:
    return changes.change_of(record.raw_event)


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    with processor(records=event["Records"], handler=read_record, lambda_context=context):
        results = processor.process()
    accepted: list[Change] = []
    for status, result, _record in results:
        if status != "success":
            break
        if result is not None:
            accepted.append(result)
    marked = changes.apply(accepted)
    live = websocket.fan_out(accepted)
    metrics.add_metric(name="LiveMessages", unit=MetricUnit.Count, value=live.messages)
    metrics.add_metric(name="LiveGoneConnections", unit=MetricUnit.Count, value=live.gone)
    metrics.add_metric(name="LiveFailures", unit=MetricUnit.Count, value=live.failed)
    metrics.add_metric(name="Changes", unit=MetricUnit.Count, value=len(accepted))
    metrics.add_metric(name="DirtyBuckets", unit=MetricUnit.Count, value=marked)
    return dict(processor.response())
