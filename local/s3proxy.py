"""The local runtime's S3 door: presigned URLs and lake/object reads for clients in other processes.

moto's S3 lives inside the runtime's process, and a presigned URL moto signs names an AWS host a
laptop cannot reach. The runtime therefore sets S3_PUBLIC_ENDPOINT to `<its URL>/_local/s3`, the
core signs URLs against it (path style), and this app serves them:

    GET /_local/s3/{bucket}?prefix=P     {"keys": [{"key", "size"}...]} (local only, for tests)
    GET /_local/s3/{bucket}/{key}        the object (what a presigned GET URL points at)
    PUT /_local/s3/{bucket}/{key}        store the body (what a presigned PUT URL points at)

Signatures are not checked (loopback only); expiry (X-Amz-Date + X-Amz-Expires) is.
Every moto call runs under the runtime's lock, like the handlers.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

PREFIX = "/_local/s3"


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"code": code, "message": message}, status_code=status)


def _expired(request: Request) -> bool:
    signed_at = request.query_params.get("X-Amz-Date")
    lifetime = request.query_params.get("X-Amz-Expires")
    if not signed_at or not lifetime or not lifetime.isdigit():
        return False
    try:
        start = datetime.strptime(signed_at, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except ValueError:
        return True
    return (datetime.now(tz=UTC) - start).total_seconds() > int(lifetime)


def routes(runtime: Any) -> list[Route]:
    """The S3 door's routes, with full paths, for the local gateway to mount or call."""

    async def locked(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(None, lambda: runtime.call(fn, *args, **kwargs))

    def s3() -> Any:
        return runtime.client("s3")

    async def list_keys(request: Request) -> Response:
        bucket = request.path_params["bucket"]
        prefix = request.query_params.get("prefix", "")

        def listing() -> list[dict[str, Any]] | None:
            found: list[dict[str, Any]] = []
            try:
                for page in s3().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
                    found.extend({"key": o["Key"], "size": o["Size"]} for o in page.get("Contents") or [])
            except ClientError:
                return None
            return found

        keys = await locked(listing)
        if keys is None:
            return _error(404, "not_found", f"no bucket {bucket}")
        return JSONResponse({"keys": keys})

    async def get_object(request: Request) -> Response:
        if _expired(request):
            return _error(403, "expired", "the presigned URL has expired")
        bucket, key = request.path_params["bucket"], request.path_params["key"]

        def read() -> tuple[bytes, str] | None:
            try:
                found = s3().get_object(Bucket=bucket, Key=key)
            except ClientError:
                return None
            return found["Body"].read(), found.get("ContentType") or "application/octet-stream"

        found = await locked(read)
        if found is None:
            return _error(404, "not_found", f"no object {key} in {bucket}")
        headers = {}
        disposition = request.query_params.get("response-content-disposition")
        if disposition:
            headers["Content-Disposition"] = disposition
        return Response(found[0], media_type=found[1], headers=headers)

    async def put_object(request: Request) -> Response:
        if _expired(request):
            return _error(403, "expired", "the presigned URL has expired")
        bucket, key = request.path_params["bucket"], request.path_params["key"]
        body = await request.body()
        kind = request.headers.get("content-type", "application/octet-stream")
        await locked(lambda: s3().put_object(Bucket=bucket, Key=key, Body=body, ContentType=kind))
        return Response(b"", status_code=200)

    return [
        Route(PREFIX + "/{bucket}", list_keys, methods=["GET"]),
        Route(PREFIX + "/{bucket}/{key:path}", get_object, methods=["GET"]),
        Route(PREFIX + "/{bucket}/{key:path}", put_object, methods=["PUT"]),
    ]


def app(runtime: Any) -> Starlette:
    """An ASGI app serving `/_local/s3/...` with the request's own path (no prefix stripping)."""
    return Starlette(routes=routes(runtime))
