"""MQTT bench (issue 5): publish → queryable latency, and sustained intervals/s over QoS 1.

Runs `python -m local` as the tests do, connects one paho device and measures:
- latency: one interval per message, published one at a time; the time until
  `GET /v1/streams/{id}/latest` shows it (p50/p99; goal p50 ≤ 50 ms);
- throughput: messages of ORing arrays (100 and 1,000 items) and single intervals published back to
  back at QoS 1; intervals/s until the last one is queryable (goal ≥ 2,000/s). Rules run in order,
  so the last one queryable means all are;
- the floor under all of it: what moto itself costs per DynamoDB request in this process
  (BatchWriteItem of 25 is ~0.5 ms per interval, which is 2,000 intervals/s by itself).
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from typing import Any

import httpx
import paho.mqtt.client as mqtt
from common import ROOT  # noqa: F401  (puts the project on sys.path)
from paho.mqtt.enums import CallbackAPIVersion

from tests.integration.conftest import Platform, start_platform

LATENCY_SAMPLES = 100
BASE_MS = 1_780_000_000_000


def set_up(platform: Platform, api: httpx.Client) -> tuple[str, str, str]:
    pool = api.post("/v1/pools", json={"name": "bench-mqtt"}).json()
    station = api.post(f"/v1/pools/{pool['id']}/stations", json={"name": "bench"}).json()
    secret = api.post(f"/v1/stations/{station['id']}/secret").json()["password"]
    stream = api.post(
        f"/v1/stations/{station['id']}/streams", json={"name": "t", "type": "float", "alias": "t"}
    ).json()
    return station["id"], secret, stream["id"]


def connect(platform: Platform, station_id: str, secret: str) -> mqtt.Client:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"thing:{station_id}")
    client.username_pw_set(station_id, secret)
    client.max_inflight_messages_set(100)
    assert platform.mqtt_host and platform.mqtt_port
    client.connect(platform.mqtt_host, platform.mqtt_port)
    client.loop_start()
    deadline = time.monotonic() + 10
    while not client.is_connected():
        if time.monotonic() > deadline:
            raise RuntimeError("the bench device could not connect")
        time.sleep(0.01)
    return client


def latest_ms(api: httpx.Client, stream_id: str) -> int | None:
    response = api.get(f"/v1/streams/{stream_id}/latest")
    if response.status_code != 200:
        return None
    from datetime import datetime

    stamp = datetime.fromisoformat(response.json()["timestamp"].replace("Z", "+00:00"))
    return round(stamp.timestamp() * 1000)


def wait_for(api: httpx.Client, stream_id: str, timestamp: int, poll_s: float, timeout_s: float = 300.0) -> None:
    """Poll `latest`; each poll is a handler run behind the runtime's one lock, so poll sparingly when
    measuring throughput."""
    deadline = time.monotonic() + timeout_s
    while latest_ms(api, stream_id) != timestamp:
        if time.monotonic() > deadline:
            raise TimeoutError(f"interval {timestamp} never became queryable")
        time.sleep(poll_s)


def latency(api: httpx.Client, client: mqtt.Client, topic: str, stream_id: str) -> dict[str, float]:
    samples = []
    for i in range(LATENCY_SAMPLES):
        timestamp = BASE_MS + i
        started = time.perf_counter()
        client.publish(topic, json.dumps({"id": "t", "value": i, "timestamp": timestamp}), qos=1)
        wait_for(api, stream_id, timestamp, poll_s=0.005)
        samples.append((time.perf_counter() - started) * 1000)
    cuts = statistics.quantiles(samples, n=100)
    return {"p50_ms": statistics.median(samples), "p99_ms": cuts[98]}


def throughput(
    api: httpx.Client, client: mqtt.Client, topic: str, stream_id: str, messages: int, per_message: int,
    first: int,
) -> float:
    started = time.perf_counter()
    last = first
    for m in range(messages):
        start = first + m * per_message
        batch = [{"id": "t", "value": float(k), "timestamp": start + k} for k in range(per_message)]
        last = batch[-1]["timestamp"]
        client.publish(topic, json.dumps(batch), qos=1)
    wait_for(api, stream_id, last, poll_s=0.25)
    return messages * per_message / (time.perf_counter() - started)


def moto_costs(repeats: int = 40) -> dict[str, float]:
    """Milliseconds per request that moto charges in-process, on the tables the runtime creates."""
    from local.runtime import Runtime
    from watershed.store.tables import CatalogItem, IntervalItem

    runtime = Runtime(functions=[], scheduler=False)
    runtime.start()
    try:
        dynamodb = runtime.client("dynamodb")
        intervals, catalog = IntervalItem.Meta.table_name, CatalogItem.Meta.table_name
        key = {"pk": {"S": "STATION#x"}, "sk": {"S": "META"}}
        counter = iter(range(10**9))

        def batch_write(size: int) -> None:
            base = next(counter) * size
            puts = [
                {"PutRequest": {"Item": {"pk": {"S": "s"}, "sk": {"N": str(base + i)}, "v": {"S": "1.5"}}}}
                for i in range(size)
            ]
            dynamodb.batch_write_item(RequestItems={intervals: puts})

        calls = {
            "batch_write_25_ms": lambda: batch_write(25),
            "batch_write_1_ms": lambda: batch_write(1),
            "get_item_ms": lambda: dynamodb.get_item(TableName=catalog, Key=key, ConsistentRead=True),
            "batch_get_2_keys_ms": lambda: dynamodb.batch_get_item(
                RequestItems={catalog: {"Keys": [key, {**key, "sk": {"S": "X"}}], "ConsistentRead": True}}
            ),
        }
        costs = {}
        for name, call in calls.items():
            call()
            started = time.perf_counter()
            for _ in range(repeats):
                call()
            costs[name] = (time.perf_counter() - started) * 1000 / repeats
        return costs
    finally:
        runtime.stop()


def main() -> dict[str, Any]:
    with start_platform() as platform, platform.client() as api:
        station_id, secret, stream_id = set_up(platform, api)
        client = connect(platform, station_id, secret)
        topic = f"things/{station_id}/data/default"
        try:
            result: dict[str, Any] = latency(api, client, topic, stream_id)
            print(f"latency: {result}", flush=True)
            arrays = throughput(api, client, topic, stream_id, 30, 100, BASE_MS + 1_000_000)
            result["intervals_per_s_arrays_of_100"] = arrays
            big = throughput(api, client, topic, stream_id, 5, 1000, BASE_MS + 2_000_000)
            result["intervals_per_s_arrays_of_1000"] = big
            singles = throughput(api, client, topic, stream_id, 300, 1, BASE_MS + 3_000_000)
            result["intervals_per_s_one_per_message"] = singles
        finally:
            client.disconnect()
            client.loop_stop()
    result.update(moto_costs())
    print("MQTT (local broker, QoS 1):")
    print(f"  publish -> queryable latency p50 {result['p50_ms']:.1f} ms, p99 {result['p99_ms']:.1f} ms"
          f" (goal p50 <= 50 ms, {LATENCY_SAMPLES} samples)")
    print(f"  sustained {result['intervals_per_s_arrays_of_100']:.0f} intervals/s in arrays of 100"
          " (goal >= 2,000/s)")
    print(f"  sustained {result['intervals_per_s_arrays_of_1000']:.0f} intervals/s in arrays of 1,000")
    print(f"  sustained {result['intervals_per_s_one_per_message']:.0f} intervals/s one per message")
    print(f"  moto in-process: BatchWriteItem of 25 {result['batch_write_25_ms']:.1f} ms, of 1"
          f" {result['batch_write_1_ms']:.1f} ms; GetItem {result['get_item_ms']:.1f} ms;"
          f" BatchGetItem of 2 {result['batch_get_2_keys_ms']:.1f} ms")
    return result


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
