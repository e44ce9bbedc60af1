"""The environment contract: the variables infra/ sets on each function and the layer reads.

infra/ imports these names (and the table, bucket and queue keys) instead of spelling them again,
so a renamed variable cannot reach one side only. The defaults work locally (`make run`).
"""

from __future__ import annotations

import os

BUCKETS = ("lake", "objects")
"""The buckets functions may be granted (manifest `buckets` keys)."""
QUEUES = ("mqtt_dlq",)
"""The SQS queues functions may be granted (manifest `queues` keys)."""


def table_env(key: str) -> str:
    """The variable carrying a table's name: `catalog` → CATALOG_TABLE."""
    return f"{key.upper()}_TABLE"


def bucket_env(key: str) -> str:
    """The variable carrying a bucket's name: `lake` → LAKE_BUCKET."""
    return f"{key.upper()}_BUCKET"


def queue_env(key: str) -> str:
    """The variable carrying a queue's URL: `mqtt_dlq` → MQTT_DLQ_URL."""
    return f"{key.upper()}_URL"


STAGE_ENV = "WATERSHED_STAGE"
SIGNING_SECRET_ENV = "SIGNING_SECRET_ARN"
"""The Secrets Manager secret that signs paging cursors."""
LAKE_STREAM_ENV = "LAKE_STREAM"
"""The Firehose delivery stream of the lake; unset locally (rows go straight to LAKE_BUCKET)."""
IOT_DATA_ENDPOINT_ENV = "IOT_DATA_ENDPOINT"
"""The account's IoT data endpoint for functions that publish; unset: boto3's regional default."""
MQTT_DLQ_ENV = queue_env("mqtt_dlq")
MQTT_TOPIC_PREFIX_ENV = "MQTT_TOPIC_PREFIX"
"""A stage's MQTT topic and client-id prefix when its account hosts several stages (watershed.topics)."""
STREAM_FAILURES_ENV = "STREAM_FAILURES_BUCKET"
"""Where table-stream consumers' failed batches are (operators' `python -m watershed.dlq`, not functions)."""

CATALOG_TABLE = os.environ.get(table_env("catalog"), "watershed-catalog")
INTERVALS_TABLE = os.environ.get(table_env("intervals"), "watershed-intervals")
ROLLUPS_TABLE = os.environ.get(table_env("rollups"), "watershed-rollups")
LAKE_BUCKET = os.environ.get(bucket_env("lake"), "watershed-lake")
OBJECTS_BUCKET = os.environ.get(bucket_env("objects"), "watershed-objects")
REGION = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
