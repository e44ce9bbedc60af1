"""Local runtime bench (issue 19, defect 17): do the doors stay responsive while the rollup job runs?

Runs `python -m local` as the tests do, dirties 400 15-minute buckets over 20 streams, then runs
the rollup job twice while a client asks `GET /v1/health` back to back:
- unsliced: one invocation taking all 400 buckets, holding the runtime's one lock throughout (how
  the scheduler ran it before);
- sliced: what the scheduler does now, slices of 10 buckets, the doors served between slices.
Prints the health latency p50/p95/max during each run and the ratio.
"""

from __future__ import annotations

import math
import statistics
import sys
import threading
import time

import httpx
from common import ROOT  # noqa: F401  (puts the project on sys.path)

from tests.integration.conftest import Platform, start_platform

STREAMS = 20
BUCKETS_PER_STREAM = 20
BASE_MS = 1_772_445_600_000
QUARTER_MS = 900_000


def dirty_buckets(platform: Platform, api: httpx.Client, stream_ids: list[str], offset: int) -> None:
    for stream_id in stream_ids:
        points = [{"timestamp": BASE_MS + b * QUARTER_MS + offset, "value": float(b)}
                  for b in range(BUCKETS_PER_STREAM)]
        api.post(f"/v1/streams/{stream_id}/intervals", json=points).raise_for_status()
    platform.drain()


def health_during(platform: Platform, api: httpx.Client, sliced: bool) -> list[float]:
    samples: list[float] = []
    params = {"sliced": "true"} if sliced else {}
    job = threading.Thread(target=lambda: httpx.post(f"{platform.url}/_local/schedules/rollup", params=params,
                                                     timeout=600).raise_for_status())
    job.start()
    time.sleep(0.05)
    while job.is_alive():
        started = time.perf_counter()
        api.get("/v1/health").raise_for_status()
        samples.append((time.perf_counter() - started) * 1000)
    job.join()
    return samples


def summary(samples: list[float]) -> dict[str, float]:
    ranked = sorted(samples)
    p95 = ranked[math.ceil(0.95 * len(ranked)) - 1]
    return {"p50": statistics.median(ranked), "p95": p95, "max": ranked[-1], "n": len(ranked)}


def main() -> dict[str, dict[str, float]]:
    with start_platform() as platform, platform.client() as api:
        pool = api.post("/v1/pools", json={"name": "doors"}).json()["id"]
        station = api.post(f"/v1/pools/{pool}/stations", json={"name": "doors"}).json()["id"]
        stream_ids = [api.post(f"/v1/stations/{station}/streams", json={"name": f"s{i}", "type": "float"}).json()["id"]
                      for i in range(STREAMS)]
        dirty_buckets(platform, api, stream_ids, 0)
        unsliced = summary(health_during(platform, api, sliced=False))
        dirty_buckets(platform, api, stream_ids, 1)
        sliced = summary(health_during(platform, api, sliced=True))
    buckets = STREAMS * BUCKETS_PER_STREAM
    print(f"Local doors during a rollup run of {buckets} dirty buckets (GET /v1/health back to back):")
    for name, figures in (("one invocation (before)", unsliced), ("slices of 10 (now)", sliced)):
        print(f"  {name}: p50 {figures['p50']:.0f} ms, p95 {figures['p95']:.0f} ms, max {figures['max']:.0f} ms"
              f" ({figures['n']:.0f} requests)")
    print(f"  p95 ratio before/now: {unsliced['p95'] / max(sliced['p95'], 0.001):.1f}x")
    return {"unsliced": unsliced, "sliced": sliced}


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
