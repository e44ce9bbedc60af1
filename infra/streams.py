"""DynamoDB Stream consumers from the manifest (the `changes` function on the intervals table).

A failing record is bisected down to itself, retried, then written to the stream-failures bucket:
a poisoned record never blocks its shard (Powertools batch processing). The destination is S3,
not SQS, because only an S3 record carries the batch itself (`payload`); an SQS or SNS record
holds the batch's shard and sequence numbers, which point at nothing once DynamoDB Streams trims
the records after 24 hours. `python -m watershed.dlq redrive-streams` re-runs them.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Duration
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_s3 as s3
from constructs import Construct

from functions.manifest import Function

RETRY_ATTEMPTS = 5


class Streams(Construct):
    """One event source mapping per manifest TableStream, each with the S3 on-failure destination."""

    def __init__(
        self,
        scope: Construct,
        construct_id_: str,
        *,
        functions: Sequence[Function],
        handlers: dict[str, lambda_.Function],
        tables: dict[str, dynamodb.Table],
        stream_view_types: dict[str, str | None],
        failures: s3.IBucket,
    ) -> None:
        super().__init__(scope, construct_id_)
        self.failures = failures
        for function in functions:
            for stream in function.streams:
                if stream.table not in tables:
                    raise ValueError(f"{function.name!r} reads the stream of unknown table {stream.table!r}")
                if not stream_view_types.get(stream.table):
                    raise ValueError(
                        f"{function.name!r} reads table {stream.table!r}, whose model declares no Meta.stream_view_type"
                    )
                handlers[function.name].add_event_source(
                    sources.DynamoEventSource(
                        tables[stream.table],
                        # A replaced mapping starts over from the oldest record kept (24 h) rather
                        # than skip the writes made meanwhile; the consumers are idempotent.
                        starting_position=lambda_.StartingPosition.TRIM_HORIZON,
                        batch_size=stream.batch_size,
                        max_batching_window=Duration.seconds(stream.max_batching_window_s),
                        bisect_batch_on_error=True,
                        report_batch_item_failures=True,
                        retry_attempts=RETRY_ATTEMPTS,
                        on_failure=sources.S3OnFailureDestination(failures),
                    )
                )
