"""Shared test settings: fake AWS credentials, the layer on sys.path, an in-process moto account."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "layers" / "core" / "python"))
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")


@pytest.fixture
def aws() -> Iterator[None]:
    """An empty moto account with Watershed's tables, for tests of the core below HTTP."""
    from moto import mock_aws

    from watershed.store.tables import TABLES

    with mock_aws():
        for model in TABLES.values():
            model.create_table(wait=True)
        yield
