"""DynamoDB Stream consumers from the manifest (the `changes` function on the intervals table).

A failing record is bisected down to itself, retried, then sent to the consumer's dead-letter
queue: a poisoned record never blocks its shard (DESIGN §7, batch processing).
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Duration
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from functions.manifest import Function
from infra.functions import construct_id

RETRY_ATTEMPTS = 5


class Streams(Construct):
    """One event source mapping per manifest TableStream, each with an SQS on-failure destination."""

    def __init__(
        self,
        scope: Construct,
        construct_id_: str,
        *,
        functions: Sequence[Function],
        handlers: dict[str, lambda_.Function],
        tables: dict[str, dynamodb.Table],
        stream_view_types: dict[str, str | None],
    ) -> None:
        super().__init__(scope, construct_id_)
        self.dead_letters: dict[str, sqs.Queue] = {}
        for function in functions:
            if not function.streams:
                continue
            queue = sqs.Queue(
                self,
                f"{construct_id(function.name)}DeadLetters",
                encryption=sqs.QueueEncryption.SQS_MANAGED,
                enforce_ssl=True,
                retention_period=Duration.days(14),
            )
            self.dead_letters[function.name] = queue
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
                        on_failure=sources.SqsDlq(queue),
                    )
                )
