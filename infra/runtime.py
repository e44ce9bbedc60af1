"""The Lambda runtime, in one place: infra/ and scripts/build_layer.py must agree on it.

Kept free of CDK imports so the layer build does not pay for loading aws-cdk-lib.
"""

from __future__ import annotations

PYTHON_VERSION = "3.14"
"""The newest Python runtime aws-cdk-lib offers (tests/infra checks it stays the newest)."""

ARCHITECTURE = "arm64"
WHEEL_PLATFORMS = ("manylinux2014_aarch64", "manylinux_2_28_aarch64")
"""Both tags: the Lambda arm64 image (Amazon Linux 2023, glibc 2.34) runs either."""

RUNTIME_PROVIDED = frozenset({"boto3", "botocore", "s3transfer", "jmespath", "python-dateutil", "six", "urllib3"})
"""Packages the Lambda Python runtime already ships (boto3 and its dependency closure).

Shipping them in the layer would shadow the runtime's copies, whose versions boto3 is pinned to.
"""
