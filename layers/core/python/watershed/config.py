"""Settings read from the environment that infra/ sets; the defaults work locally."""

from __future__ import annotations

import os

CATALOG_TABLE = os.environ.get("CATALOG_TABLE", "watershed-catalog")
INTERVALS_TABLE = os.environ.get("INTERVALS_TABLE", "watershed-intervals")
ROLLUPS_TABLE = os.environ.get("ROLLUPS_TABLE", "watershed-rollups")
CONNECTIONS_TABLE = os.environ.get("CONNECTIONS_TABLE", "watershed-connections")
LAKE_BUCKET = os.environ.get("LAKE_BUCKET", "watershed-lake")
OBJECTS_BUCKET = os.environ.get("OBJECTS_BUCKET", "watershed-objects")
REGION = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
