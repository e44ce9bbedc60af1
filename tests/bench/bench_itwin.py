"""iTwin JSON-RPC bench (issue 24): getData throughput for 100,000 observations and subscribeData
latency, against `python -m local` with the real `websockets` client.

getData: the observations are seeded with 10 native REST pushes of 10,000, then one getData
streams them back in chunks under 128 KB; throughput = observations / time from the request to
`requestStatus: finished`. Subscribe latency: one uploadData over a second connection to the
live update on the subscriber, the stream poller delivering on its own; plus pint's cold cost.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time

from common import ROOT

sys.path.insert(0, str(ROOT))

import httpx

from tests.integration.conftest import start_platform
from tests.integration.test_itwin_rpc import PROJECT, SENSOR, make_sensor, open_rpc, recv, rpc, streamed

OBSERVATIONS = 100_000
PUSH = 10_000
LATENCY_SAMPLES = 100
BASE_MS = 1_600_000_000_000


def _stream(platform_url: str, key: str) -> str:
    with httpx.Client(base_url=platform_url, headers={"Authorization": f"ApiKey {key}"}, timeout=120) as api:
        pool = next(p for p in api.get("/v1/pools").json()["data"] if p.get("key") == PROJECT)
        stations = api.get(f"/v1/pools/{pool['id']}/stations").json()["data"]
        for station in stations:
            for doc in api.get(f"/v1/stations/{station['id']}/streams").json()["data"]:
                if doc["alias"] == "P_raw":
                    return str(doc["id"])
    raise RuntimeError("no P_raw stream")


def get_data_and_subscribe() -> None:
    with start_platform("--no-mqtt") as platform:
        _org, key = platform.create_org("bench-itwin")
        with open_rpc(platform, key) as ws, open_rpc(platform, key) as reader:
            make_sensor(ws)
            rpc(ws, "uploadData", {"data": [{"sensorId": SENSOR, "timestamp": "2020-01-01T00:00:00.000Z",
                                             "values": {"P_raw": 0.0, "T": 0.0}}], "projectIds": [PROJECT]}, 5)
            stream = _stream(platform.url, key)
            with httpx.Client(base_url=platform.url, headers={"Authorization": f"ApiKey {key}"}, timeout=120) as api:
                for start in range(0, OBSERVATIONS, PUSH):
                    body = [{"timestamp": BASE_MS + 1000 * i, "value": float(i)} for i in range(start, start + PUSH)]
                    api.post(f"/v1/streams/{stream}/intervals", json=body)
            platform.drain()
            for unit, request_id in (("Pa", 6), ("kPa", 7)):
                started = time.perf_counter()
                ws.send(json.dumps({"jsonrpc": "2.0", "id": request_id, "method": "getData", "params": {
                    "sensor": SENSOR, "metric": "P_raw", "unit": unit, "projectIds": [PROJECT],
                    "startDate": "2020-09-01T00:00:00.000Z"}}))
                frames, _final = streamed(ws, request_id, timeout=120)
                elapsed = time.perf_counter() - started
                count = sum(len(f["result"]["data"]) for f in frames)
                print(f"getData of {count} observations in {unit}: {elapsed:.1f} s, {count / elapsed:,.0f} "
                      f"observations/s, {len(frames)} frames under 128 KB")
            rpc(reader, "subscribeData", {"sensors": [SENSOR], "metric": "T", "unit": "F",
                                          "projectIds": [PROJECT]}, "live")
            samples = []
            for i in range(LATENCY_SAMPLES):
                started = time.perf_counter()
                ws.send(json.dumps({"jsonrpc": "2.0", "id": 100 + i, "method": "uploadData", "params": {"data": [
                    {"sensorId": SENSOR, "timestamp": BASE_MS + 10_000_000 + i, "values": {"T": float(i)}}]}}))
                recv(ws)
                while recv(reader, 10).get("id") != "live":
                    pass
                samples.append((time.perf_counter() - started) * 1000)
        cuts = statistics.quantiles(samples, n=100)
        print(f"uploadData -> subscribeData update (°C -> °F), {LATENCY_SAMPLES} single uploads: p50 "
              f"{cuts[49]:.0f} ms, p99 {cuts[98]:.0f} ms")


def without_the_store() -> None:
    """getData's own work for 100,000 observations (formatting, conversion, chunking), intervals
    given in memory: locally the time above is moto's Query; on DynamoDB it is ~6 pages of 1 MB."""
    from unittest import mock

    from watershed.model import Interval, StreamType
    from watershed.protocols import itwin_rpc
    from watershed.services import itwin_data

    points = [Interval(BASE_MS + 1000 * i, float(i)) for i in range(OBSERVATIONS)]
    stream = mock.Mock(type=StreamType.FLOAT, id="s")
    metric = itwin_data.Metric(SENSOR, stream, "Pa")
    with mock.patch.object(itwin_data.intervals, "iter_range", lambda *a, **k: iter(points)):
        for unit in ("Pa", "kPa"):
            started = time.perf_counter()
            found = itwin_data.series(metric, unit, itwin_data.Query(0, 2**53))
            frames = itwin_rpc.Chunks(found.data, {}).frames(6, itwin_rpc.MAX_FRAME_BYTES)
            elapsed = time.perf_counter() - started
            print(f"getData without the store, {OBSERVATIONS} observations in {unit}: {elapsed * 1000:.0f} ms "
                  f"({OBSERVATIONS / elapsed:,.0f} observations/s, {len(frames)} frames)")


def pint_cold_cost() -> None:
    """What the first unit conversion of a container costs: pint's import and its registry."""
    code = ("import time; t=time.perf_counter(); import pint; t1=time.perf_counter(); pint.UnitRegistry(); "
            "t2=time.perf_counter(); print(f'{(t1-t)*1000:.0f} {(t2-t1)*1000:.0f}')")
    runs = [subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
            for _ in range(3)]
    imports = statistics.median(float(r[0]) for r in runs)
    registry = statistics.median(float(r[1]) for r in runs)
    print(f"pint cold cost (first conversion of a container): import {imports:.0f} ms + registry {registry:.0f} ms")


if __name__ == "__main__":
    get_data_and_subscribe()
    without_the_store()
    pint_cold_cost()
