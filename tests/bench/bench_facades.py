"""Facade bench: the AWS requests of a 1,000-interval push and of a bounded query through each
facade, beside the native API's, over real HTTP against the local runtime (`/_local/requests`)."""

from __future__ import annotations

import sys
import uuid
from collections import Counter
from collections.abc import Callable
from urllib.parse import urlencode

import httpx
from common import ROOT

sys.path.insert(0, str(ROOT))

from tests.integration.conftest import Platform, start_platform

N = 1000
START = 1_700_000_000_000
BACKGROUND = ("changes", "rollup")
"""Functions fed by the tables' streams or schedules: the same for every door, so left out."""


def cost(platform: Platform, call: Callable[[], httpx.Response]) -> Counter[str]:
    """AWS requests the HTTP handlers made while serving `call` (which must succeed)."""
    before = platform.aws_requests()
    response = call()
    assert response.status_code < 300, response.text
    after = platform.aws_requests()
    spent: Counter[str] = Counter()
    for function, calls in after.items():
        if function in BACKGROUND:
            continue
        for operation, n in calls.items():
            spent[operation.removeprefix("dynamodb:")] += n - before.get(function, {}).get(operation, 0)
    return +spent


def show(door: str, what: str, spent: Counter[str], calls: int = 1) -> None:
    total = sum(spent.values())
    per = f", {total / calls:.1f} per call" if calls > 1 else ""
    print(f"{door:13} {what:44} {total:5} AWS requests ({calls} HTTP call{'s' if calls > 1 else ''}{per}): "
          f"{dict(sorted(spent.items()))}")


def native(platform: Platform, api: httpx.Client) -> None:
    pool = api.post("/v1/pools", json={"name": "bench"}).json()
    station = api.post(f"/v1/pools/{pool['id']}/stations", json={"name": "s"}).json()
    stream = api.post(f"/v1/stations/{station['id']}/streams", json={"name": "t", "type": "float"}).json()
    body = [{"timestamp": START + i * 1000, "value": i / 10} for i in range(N)]
    show("native", f"push {N} intervals", cost(platform, lambda: api.post(f"/v1/streams/{stream['id']}/intervals",
                                                                         json=body)))
    show("native", "pull 100 of them (bounded range)", cost(platform, lambda: api.get(
        f"/v1/streams/{stream['id']}/intervals", params={"start": START, "end": START + 100_000})))


def bitpool(platform: Platform) -> None:
    bp = httpx.Client(base_url=f"{platform.url}/bitpool", headers={"Authorization": f"Bitpool2 {platform.key}"},
                      timeout=60)
    pool = bp.post("/public/v2/pools", json={"Poolname": "bench"}).json()["PoolKey"]
    bp.post(f"/public/v2/pools/{pool}/stations", json="Gateway")
    key = bp.post(f"/public/v2/pools/{pool}/stations/1/streams", json={"LocalIndex": "t"}).json()["StreamKey"]
    logs = [{"Ts": START + i * 1000, "Val": i / 10, "ValStr": None, "Calculated": False} for i in range(N)]
    show("bitpool", f"push {N} logs", cost(platform, lambda: bp.post(f"/public/v2/streams/{key}/logs", json=logs)))
    show("bitpool", "raw pull take=100 (bounded, with Total)", cost(platform, lambda: bp.get(
        f"/public/v2/streams/{key}/logs", params={"from": START, "to": START + N * 1000, "take": 100})))
    show("bitpool", "aggregated pull avg per 1h (bounded)", cost(platform, lambda: bp.get(
        f"/public/v2/streams/{key}/logs/aggregated",
        params={"data.from": START, "data.to": START + N * 1000, "data.aggregationPeriod": "1h"})))


def customstream(platform: Platform) -> None:
    cs = httpx.Client(base_url=f"{platform.url}/customstream", auth=(platform.key, ""), timeout=60)
    dataset = str(uuid.uuid4())
    cs.put(f"/data/object/{dataset}", json={"warm": "up"})
    docs = [{"n": i, "room": "lab"} for i in range(N)]
    show("customstream", f"PUT {N} documents (one array)", cost(platform, lambda: cs.put(f"/data/object/{dataset}",
                                                                                         json=docs)))
    newest = cs.get(f"/data/query/{dataset}", params={"limit": 1}).json()[0]["_timestamp"]
    show("customstream", "query bounded by _timestamp (last second)", cost(platform, lambda: cs.post(
        f"/data/query/{dataset}", params={"limit": 0}, json={"_timestamp": {"$gte": newest}, "room": "lab"})))


def byteport(platform: Platform, api: httpx.Client) -> None:
    namespace = f"bench{uuid.uuid4().hex[:6]}"
    api.post("/v1/pools", json={"name": namespace, "key": namespace})
    http = httpx.Client(base_url=f"{platform.url}/byteport", timeout=60)
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    path = f"/api/v1/timeseries/{namespace}/dev1/"
    calls = N // 10

    def stores() -> httpx.Response:
        response = httpx.Response(500)
        for i in range(calls):
            pairs = {f"f{j}": str(i + j / 10) for j in range(10)}
            response = http.post(path, content=urlencode({**pairs, "_key": platform.key, "_ts": START / 1000 + i})
                                 .encode(), headers=form)
            assert response.status_code == 200, response.text
        return response

    first = http.post(path, content=urlencode({"f0": "1", "_key": platform.key}).encode(), headers=form)
    assert first.status_code == 200
    show("byteport", f"store {N} values (10 fields a call)", cost(platform, stores), calls)
    show("byteport", "timeseries read of one field (bounded)", cost(platform, lambda: http.get(
        f"{path}f0/", params={"from": "2023-11-14T22:13:20", "to": "2023-11-14T22:15:00", "_key": platform.key})))


if __name__ == "__main__":
    with start_platform() as running, running.client() as client:
        native(running, client)
        bitpool(running)
        customstream(running)
        byteport(running, client)
