"""The local runtime as the tests meet it: `python -m local` on port 0, reached over real HTTP.

`start_platform()` is importable by other suites (e2e) that need the same process.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 60.0


def read_env_file(path: Path) -> dict[str, str]:
    values = {}
    for line in path.read_text().splitlines():
        name, _, value = line.partition("=")
        if name:
            values[name.strip()] = value.strip()
    return values


@dataclass
class Platform:
    """A running `python -m local`: its addresses, demo credentials and test controls."""

    url: str
    key: str
    org: str
    mqtt_host: str | None
    mqtt_port: int | None
    process: subprocess.Popen[bytes] = field(repr=False)
    ws_url: str | None = None
    """The native WebSocket protocol's URL (`WebSocket at ws://...`)."""
    log_file: Path | None = None
    """What the process printed."""

    def drain(self) -> int:
        """Deliver every pending stream record to its functions now; how many were delivered."""
        response = httpx.post(f"{self.url}/_local/drain", timeout=60)
        response.raise_for_status()
        return int(response.json()["drained"])

    def dead_letters(self) -> list[dict[str, Any]]:
        """The MQTT dead-letter queue's letters (they stay in the queue)."""
        response = httpx.get(f"{self.url}/_local/dlq", timeout=60)
        response.raise_for_status()
        return list(response.json()["data"])

    def redrive(self) -> dict[str, Any]:
        """Re-run the dead letters through their functions; what happened to each."""
        response = httpx.post(f"{self.url}/_local/dlq/redrive", timeout=60)
        response.raise_for_status()
        return dict(response.json())

    def fire(self, function: str) -> Any:
        """Run a scheduled function now; its result."""
        response = httpx.post(f"{self.url}/_local/schedules/{function}", timeout=60)
        response.raise_for_status()
        return response.json()

    def scan(self, table: str) -> list[dict[str, Any]]:
        """Every item of a manifest table (`catalog`, `intervals`, `rollups`), in DynamoDB JSON."""
        response = httpx.get(f"{self.url}/_local/tables/{table}", timeout=60)
        response.raise_for_status()
        return list(response.json()["data"])

    def put_item(self, table: str, item: dict[str, Any]) -> None:
        """Write one raw item, bypassing the API (to plant what the API would refuse)."""
        httpx.post(f"{self.url}/_local/tables/{table}", json=item, timeout=60).raise_for_status()

    def metrics(self) -> list[dict[str, Any]]:
        """The EMF metric documents the handlers printed lately."""
        response = httpx.get(f"{self.url}/_local/metrics", timeout=60)
        response.raise_for_status()
        return list(response.json()["data"])

    def aws_requests(self) -> dict[str, dict[str, int]]:
        """AWS calls the handlers made so far, by function and "service:Operation"."""
        response = httpx.get(f"{self.url}/_local/requests", timeout=30)
        response.raise_for_status()
        return dict(response.json()["data"])

    def create_org(self, name: str) -> tuple[str, str]:
        """Another organisation and its admin key: (org id, key)."""
        response = httpx.post(f"{self.url}/_local/orgs", json={"name": name}, timeout=30)
        response.raise_for_status()
        return response.json()["org"], response.json()["key"]

    def client(self, key: str | None = None, scheme: str = "ApiKey") -> httpx.Client:
        """An HTTP client on the platform, authenticated with `key` (the demo key by default)."""
        headers = {"Authorization": f"{scheme} {key or self.key}"}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)


@contextlib.contextmanager
def start_platform(*extra_args: str) -> Iterator[Platform]:
    """Start `python -m local` on free ports, wait until it has written its env file, stop it after."""
    with tempfile.TemporaryDirectory(prefix="watershed-local-") as scratch:
        env_file = Path(scratch) / "local.env"
        log_file = Path(scratch) / "local.log"
        args = [
            sys.executable,
            "-m",
            "local",
            "--http-port",
            "0",
            "--mqtt-port",
            "0",
            "--ws-port",
            "0",
            "--no-scheduler",
            "--env-file",
            str(env_file),
            *extra_args,
        ]
        with log_file.open("wb") as log:
            process = subprocess.Popen(
                args,
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
            try:
                deadline = time.monotonic() + START_TIMEOUT_S
                while not env_file.exists():
                    if process.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError(
                            f"python -m local did not start (exit code {process.poll()}):\n"
                            + log_file.read_text(errors="replace")
                        )
                    time.sleep(0.1)
                values = read_env_file(env_file)
                mqtt_port = values.get("WATERSHED_MQTT_PORT")
                yield Platform(
                    url=values["WATERSHED_URL"],
                    key=values.get("WATERSHED_KEY", ""),
                    org=values.get("WATERSHED_ORG", ""),
                    mqtt_host=values.get("WATERSHED_MQTT_HOST"),
                    mqtt_port=int(mqtt_port) if mqtt_port else None,
                    process=process,
                    ws_url=values.get("WATERSHED_NATIVE_WS_URL"),
                    log_file=log_file,
                )
            finally:
                process.terminate()
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()


@pytest.fixture(scope="session")
def platform() -> Iterator[Platform]:
    """One local runtime for the whole session (tests isolate themselves by organisation)."""
    with start_platform() as running:
        yield running


@pytest.fixture
def api(platform: Platform) -> Iterator[httpx.Client]:
    """An HTTP client with the demo organisation's admin key."""
    with platform.client() as client:
        yield client
