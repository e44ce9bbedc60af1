"""WebSocket door bench (issue 20): push → subscriber latency, coalescing, and a 1,000-subscriber fan-out.

Latency and coalescing run against `python -m local` (real HTTP and WebSocket clients, the stream
poller delivering on its own); the 1,000-subscriber fan-out runs the `changes` path in process
on moto, posting through the real boto3 `apigatewaymanagementapi` client to a local endpoint.
"""

from __future__ import annotations

import json
import statistics
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from common import ROOT, count_requests

sys.path.insert(0, str(ROOT))

import httpx
from websockets.sync.client import connect

from tests.integration.conftest import start_platform

BASE_MS = 1_780_000_000_000
LATENCY_SAMPLES = 200
SUBSCRIBERS = 10
INTERVALS = 1000
FAN_OUT = 1000


def _site(api: httpx.Client) -> str:
    pool = api.post("/v1/pools", json={"name": "bench"}).json()["id"]
    station = api.post(f"/v1/pools/{pool}/stations", json={"name": "s"}).json()["id"]
    return str(api.post(f"/v1/stations/{station}/streams", json={"name": "t", "type": "float"}).json()["id"])


def _frames(raw: str) -> list[dict[str, Any]]:
    frame = json.loads(raw)
    return list(frame["messages"]) if frame["type"] == "batch" else [frame]


def latency_and_coalescing() -> None:
    with start_platform("--no-mqtt") as platform, platform.client() as api:
        assert platform.ws_url
        stream = _site(api)
        url = f"{platform.ws_url}?key={platform.key}"
        with connect(url) as ws:
            ws.send(json.dumps({"action": "subscribe", "streams": [stream]}))
            ws.recv(timeout=10)
            samples = []
            for i in range(LATENCY_SAMPLES):
                started = time.perf_counter()
                api.post(f"/v1/streams/{stream}/intervals", json=[{"timestamp": BASE_MS + i, "value": i}])
                ws.recv(timeout=10)
                samples.append((time.perf_counter() - started) * 1000)
        cuts = statistics.quantiles(samples, n=100)
        print(f"REST push -> WebSocket subscriber, {LATENCY_SAMPLES} single pushes: p50 {cuts[49]:.0f} ms, "
              f"p99 {cuts[98]:.0f} ms (goal p50 <= 100 ms)")

        clients = [connect(url, max_size=2**22) for _ in range(SUBSCRIBERS)]
        try:
            for client in clients:
                client.send(json.dumps({"action": "subscribe", "streams": [stream]}))
                client.recv(timeout=10)
            platform.drain()
            api.post(f"/v1/streams/{stream}/intervals",
                     json=[{"timestamp": BASE_MS + 10_000 + i, "value": i} for i in range(INTERVALS)])
            batches = 0
            received: list[int] = []
            while sum(received) < INTERVALS * SUBSCRIBERS:
                platform.drain()
                batches += 1
                for client in clients:
                    while True:
                        try:
                            raw = client.recv(timeout=0.2)
                        except TimeoutError:
                            break
                        received.append(sum(len(m["data"]) for m in _frames(raw)))
                if batches > 20:
                    break
        finally:
            for client in clients:
                client.close()
        posts = len(received)
        print(f"{INTERVALS} intervals in one REST push, {SUBSCRIBERS} subscribers: {sum(received)} interval "
              f"deliveries in {posts} post_to_connection calls, {posts / SUBSCRIBERS:.1f} per subscriber "
              f"(the stream hands the changes function batches of up to 500 records; goal: one post per "
              f"subscriber per batch, <= {SUBSCRIBERS} per batch)")


class _Sink(BaseHTTPRequestHandler):
    """A management endpoint that accepts every post (keep-alive, as API Gateway's)."""

    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length") or 0))
        self.send_response(200)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *_args: Any) -> None:
        return


def fan_out_to_many() -> None:
    import os

    server = ThreadingHTTPServer(("127.0.0.1", 0), _Sink)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    os.environ["WEBSOCKET_ENDPOINT_NATIVE_WS"] = f"http://127.0.0.1:{server.server_address[1]}"
    from moto import mock_aws

    try:
        with mock_aws():
            from watershed.admin import create_org
            from watershed.api import websocket
            from watershed.model import Change
            from watershed.services import auth, live
            from watershed.services import catalog as cat
            from watershed.store.tables import TABLES

            for model in TABLES.values():
                model.create_table(wait=True)
            org = create_org("bench")
            principal = auth.principal_for_key(org.key)
            pool = cat.create_pool(principal, {"name": "bench"})
            station = cat.create_station(principal, pool["id"], {"name": "s"})
            stream = cat.stream_from_doc(cat.create_stream(principal, station["id"], {"name": "t", "type": "float"}))
            for i in range(FAN_OUT):
                connection = f"conn{i:05d}="
                live.connect(connection, principal, "native_ws")
                live.subscribe(connection, principal, "native_ws", [stream], None)
            changes = [Change(org=principal.org, pool=pool["id"], station=station["id"], stream=stream.id,
                              ts=BASE_MS + i * 1000, value=float(i), op="put", at=BASE_MS) for i in range(100)]
            with count_requests() as calls:
                started = time.perf_counter()
                deliveries = live.deliveries(changes)
                looked_up = time.perf_counter()
            queries = calls["dynamodb:Query"]
        # Posting needs no DynamoDB: time it outside moto, whose request hooks would tax every call.
        with count_requests() as calls:
            posting = time.perf_counter()
            report = websocket.deliver(deliveries)
            done = time.perf_counter()
        print(f"fan-out of one batch (100 intervals of 1 stream) to {FAN_OUT} subscribers: subscriber look-up "
              f"{(looked_up - started) * 1000:.0f} ms on moto ({queries} DynamoDB Query), posting "
              f"{(done - posting) * 1000:.0f} ms with {websocket.POST_THREADS} threads to a local endpoint "
              f"({calls['apigatewaymanagementapi:PostToConnection']} post_to_connection, {report.messages} "
              f"messages, {report.failed} failed)")
    finally:
        server.shutdown()


if __name__ == "__main__":
    latency_and_coalescing()
    fan_out_to_many()
