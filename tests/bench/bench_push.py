"""Foundation bench: what one push of 1,000 intervals costs, and the push handler's cold import."""

from __future__ import annotations

import json
import math

from common import ROOT, cold_import_ms, count_requests

N = 1000


def push_cost() -> None:
    import importlib.util

    from moto import mock_aws

    with mock_aws():
        from watershed.admin import create_org
        from watershed.services import auth
        from watershed.services import catalog as cat
        from watershed.store import intervals
        from watershed.store.tables import TABLES

        for model in TABLES.values():
            model.create_table(wait=True)
        org = create_org("bench")
        principal = auth.principal_for_key(org.key)
        pool = cat.create_pool(principal, {"name": "bench"})
        station = cat.create_station(principal, pool["id"], {"name": "s"})
        stream = cat.create_stream(principal, station["id"], {"name": "t", "type": "float"})
        spec = importlib.util.spec_from_file_location("push_handler", ROOT / "functions" / "ingest" / "handler.py")
        assert spec and spec.loader
        handler = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(handler)
        body = [{"timestamp": 1_700_000_000_000 + i * 1000, "value": i / 10} for i in range(N)]
        event = {
            "resource": "/v1/streams/{id}/intervals", "path": f"/v1/streams/{stream['id']}/intervals",
            "httpMethod": "POST", "headers": {"Content-Type": "application/json"}, "multiValueHeaders": {},
            "queryStringParameters": None, "multiValueQueryStringParameters": None,
            "pathParameters": {"id": stream["id"]}, "stageVariables": None,
            "requestContext": {"authorizer": auth.to_context(principal), "httpMethod": "POST", "stage": "bench",
                               "resourcePath": "/v1/streams/{id}/intervals", "requestId": "bench"},
            "body": json.dumps(body), "isBase64Encoded": False,
        }

        class Context:
            function_name = "ingest"
            memory_limit_in_mb = 512
            invoked_function_arn = "arn:aws:lambda:us-east-1:000000000000:function:ingest"
            aws_request_id = "bench"

        before = intervals.usage.write_units
        markers_before = intervals.usage.dirty_markers_written
        with count_requests() as calls:
            response = handler.lambda_handler(event, Context())
        assert response["statusCode"] == 200, response
        writes = calls["dynamodb:BatchWriteItem"]
        other = sum(calls.values()) - writes
        print(f"push of {N} intervals: {writes} BatchWriteItem (goal {math.ceil(N / 25)}), "
              f"{other} other DynamoDB requests (goal <= 2): {dict(calls)}")
        print(f"write units consumed: {intervals.usage.write_units - before:.0f} "
              f"({(intervals.usage.write_units - before) / N:.2f} per interval)")
        markers = intervals.usage.dirty_markers_written - markers_before
        print(f"read-your-writes: {markers} dirty markers (one per 15m bucket of {N} s of data) ride in "
              f"the same calls: {writes} BatchWriteItem instead of {math.ceil(N / 25)}, "
              f"+{markers / N * 1000:.0f} items per 1,000 intervals")


def import_ratio() -> None:
    boto3_ms = cold_import_ms("import boto3")
    handler_ms = cold_import_ms(
        "import runpy; runpy.run_path('functions/ingest/handler.py')"
    )
    print(f"cold import: push handler {handler_ms:.0f} ms, boto3 {boto3_ms:.0f} ms, "
          f"ratio {handler_ms / boto3_ms:.2f} (goal <= 2.0)")


if __name__ == "__main__":
    push_cost()
    import_ratio()
