"""The catalog_changes function: reads the catalog table's DynamoDB Stream and tells the
subscribers of iTwin entities (subscribeNodes/Devices/Sensors) what was created, updated or deleted.

Records that are not iTwin entities (guards, markers, streams, other stations) are skipped; a
record that cannot be read is a partial batch failure (Powertools), so the shard resumes from it.
The posting is best effort: a failed post never fails the batch.
"""

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from watershed.api import websocket
from watershed.services import entity_feed

logger = Logger()
metrics = Metrics()
processor = BatchProcessor(event_type=EventType.DynamoDBStreams)


def read_record(record: DynamoDBRecord) -> entity_feed.EntityChange | None:
    return entity_feed.change_of(record.raw_event)


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    with processor(records=event["Records"], handler=read_record, lambda_context=context):
        results = processor.process()
    accepted: list[entity_feed.EntityChange] = []
    for status, result, _record in results:
        if status != "success":
            break
        if result is not None:
            accepted.append(result)
    if accepted:
        try:
            report = websocket.deliver(entity_feed.deliveries(accepted))
        except Exception:
            logger.exception("entity change fan-out of %d changes failed", len(accepted))
            report = websocket.FanOutReport(failed=1)
        metrics.add_metric(name="EntityMessages", unit=MetricUnit.Count, value=report.messages)
        metrics.add_metric(name="EntityFailures", unit=MetricUnit.Count, value=report.failed)
    metrics.add_metric(name="EntityChanges", unit=MetricUnit.Count, value=len(accepted))
    return dict(processor.response())
