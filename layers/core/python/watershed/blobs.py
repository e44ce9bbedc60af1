"""S3 access for the lake, object streams and exports: the only module of the core that talks to S3.

Presigned URLs are signed by a client whose endpoint is `S3_PUBLIC_ENDPOINT` when that is set:
the local runtime points it at its own door (`http://127.0.0.1:PORT/_local/s3`) because the AWS
hosts a moto-signed URL names are not reachable from a laptop. In the cloud it is unset.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from functools import cache
from typing import IO, Any

from watershed import config

PUBLIC_ENDPOINT_ENV = "S3_PUBLIC_ENDPOINT"
CHUNK = 1024 * 1024


@cache
def _client(endpoint: str | None = None) -> Any:
    import boto3
    from botocore.config import Config

    settings = Config(signature_version="s3v4", s3={"addressing_style": "path" if endpoint else "auto"})
    return boto3.client("s3", region_name=config.REGION, endpoint_url=endpoint, config=settings)


def s3() -> Any:
    return _client(None)


def _presigner() -> Any:
    return _client(os.environ.get(PUBLIC_ENDPOINT_ENV) or None)


def _missing(error: Exception) -> bool:
    code = str(getattr(error, "response", {}).get("Error", {}).get("Code", ""))
    return code in ("404", "NoSuchKey", "NotFound")


def put(
    bucket: str, key: str, data: bytes, content_type: str, metadata: dict[str, str] | None = None
) -> None:
    s3().put_object(Bucket=bucket, Key=key, Body=data, ContentType=content_type, Metadata=metadata or {})


def upload_file(bucket: str, key: str, handle: IO[bytes], content_type: str) -> None:
    """Upload a file of any size (multipart when large)."""
    handle.seek(0)
    s3().upload_fileobj(handle, bucket, key, ExtraArgs={"ContentType": content_type})


def get(bucket: str, key: str) -> tuple[bytes, str] | None:
    """The object's bytes and content type, or None if there is no such object."""
    from botocore.exceptions import ClientError

    try:
        found = s3().get_object(Bucket=bucket, Key=key)
    except ClientError as error:
        if _missing(error):
            return None
        raise
    return found["Body"].read(), str(found.get("ContentType") or "application/octet-stream")


def head(bucket: str, key: str) -> dict[str, Any] | None:
    from botocore.exceptions import ClientError

    try:
        return dict(s3().head_object(Bucket=bucket, Key=key))
    except ClientError as error:
        if _missing(error):
            return None
        raise


def chunks(bucket: str, key: str) -> Iterator[bytes]:
    """The object's bytes in chunks, so a large object never sits whole in memory."""
    body = s3().get_object(Bucket=bucket, Key=key)["Body"]
    while True:
        chunk = body.read(CHUNK)
        if not chunk:
            return
        yield chunk


def keys(bucket: str, prefix: str) -> Iterator[str]:
    for page in s3().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents") or []:
            yield str(item["Key"])


def delete(bucket: str, key: str) -> None:
    s3().delete_object(Bucket=bucket, Key=key)


def delete_prefix(bucket: str, prefix: str) -> int:
    """Delete every object under a prefix, 1,000 per DeleteObjects; how many were deleted."""
    pending = list(keys(bucket, prefix))
    for start in range(0, len(pending), 1000):
        batch = [{"Key": key} for key in pending[start : start + 1000]]
        s3().delete_objects(Bucket=bucket, Delete={"Objects": batch, "Quiet": True})
    return len(pending)


def presigned_get(bucket: str, key: str, expires_s: int, filename: str | None = None) -> str:
    params: dict[str, Any] = {"Bucket": bucket, "Key": key}
    if filename:
        params["ResponseContentDisposition"] = f'attachment; filename="{filename}"'
    return str(_presigner().generate_presigned_url("get_object", Params=params, ExpiresIn=expires_s))


def presigned_put(bucket: str, key: str, content_type: str, expires_s: int) -> str:
    """A URL the client PUTs the bytes to; it must send the same Content-Type header."""
    params = {"Bucket": bucket, "Key": key, "ContentType": content_type}
    return str(_presigner().generate_presigned_url("put_object", Params=params, ExpiresIn=expires_s))
