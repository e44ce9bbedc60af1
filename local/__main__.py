"""`python -m local`: Watershed on a laptop, the process behind `make run`.

Starts moto and the handlers, the HTTP door and (when available) the MQTT door, creates a demo
organisation, then writes the addresses and the demo key to an env file that clients and tests
read. The env file appears only once every door is listening, so its presence means "ready".
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys
import tempfile
from collections.abc import Generator
from pathlib import Path
from typing import Any

import uvicorn

from local.runtime import ROOT, Runtime

log = logging.getLogger("watershed.local")


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: this process owns Ctrl-C and SIGTERM."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m local", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--http-port", type=int, default=8080)
    parser.add_argument("--mqtt-port", type=int, default=1883)
    parser.add_argument("--env-file", type=Path, default=ROOT / ".watershed" / "local.env")
    parser.add_argument("--no-scheduler", action="store_true", help="do not fire schedules by themselves")
    parser.add_argument("--no-mqtt", action="store_true", help="do not start the MQTT broker")
    parser.add_argument(
        "--auth-cache-ttl",
        type=float,
        default=60.0,
        help="seconds an authorizer decision is cached (API Gateway: 60)",
    )
    parser.add_argument("--org-name", default="demo")
    return parser.parse_args(argv)


def write_env_file(path: Path, values: dict[str, str]) -> None:
    """Write atomically, so a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "".join(f"{name}={value}\n" for name, value in values.items())
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".local.env.")
    with os.fdopen(handle, "w") as out:
        out.write(text)
    os.replace(temporary, path)


def create_demo_org(runtime: Runtime, name: str) -> tuple[str, str]:
    """The demo organisation and its admin key, made by the same admin code the cloud uses."""
    try:
        from watershed.admin import create_org
    except ImportError as error:
        log.warning("no demo organisation: watershed.admin is not available (%s)", error)
        return "", ""
    created: Any = runtime.call(create_org, name)
    return str(created.org_id), str(created.key)


async def serve(args: argparse.Namespace) -> None:
    runtime = Runtime(scheduler=not args.no_scheduler)
    runtime.start()
    broker: Any = None
    stop_broker: Any = None
    server: _Server | None = None
    server_task: asyncio.Task[None] | None = None
    wrote_env_file = False
    try:
        from local.http import Gateway

        gateway = Gateway(runtime, auth_cache_ttl_s=args.auth_cache_ttl)
        config = uvicorn.Config(
            gateway,
            host=args.host,
            port=args.http_port,
            log_level="warning",
            lifespan="off",
            access_log=False,
        )
        server = _Server(config)
        server_task = asyncio.create_task(server.serve())
        while not server.started:
            if server_task.done():
                await server_task
                raise RuntimeError("the HTTP server stopped during start-up")
            await asyncio.sleep(0.02)
        http_port = server.servers[0].sockets[0].getsockname()[1]
        url = f"http://{args.host}:{http_port}"
        os.environ["S3_PUBLIC_ENDPOINT"] = f"{url}/_local/s3"
        os.environ["OAUTH_ISSUER"] = url

        mqtt_port: int | None = None
        if not args.no_mqtt:
            try:
                from local.mqtt import start_broker, stop_broker
            except ImportError as error:
                log.warning("MQTT door not started: %s", error)
            else:
                broker, mqtt_port = await start_broker(runtime, args.host, args.mqtt_port)

        org, key = await asyncio.get_running_loop().run_in_executor(
            None, create_demo_org, runtime, args.org_name
        )
        values = {"WATERSHED_URL": url, "WATERSHED_KEY": key, "WATERSHED_ORG": org}
        if mqtt_port is not None:
            values["WATERSHED_MQTT_HOST"] = args.host
            values["WATERSHED_MQTT_PORT"] = str(mqtt_port)
        write_env_file(args.env_file, values)
        wrote_env_file = True
        print(f"Watershed is running at {url}", flush=True)
        if mqtt_port is not None:
            print(f"MQTT broker at mqtt://{args.host}:{mqtt_port}", flush=True)
        print(f"Demo organisation: {org or '(none)'}", flush=True)
        print(f"Demo admin key:    {key or '(none)'}", flush=True)
        print(f"Settings written to {args.env_file}; Ctrl-C stops.", flush=True)

        stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stopping.set)
        waiter = asyncio.create_task(stopping.wait())
        await asyncio.wait({waiter, server_task}, return_when=asyncio.FIRST_COMPLETED)
        waiter.cancel()
    finally:
        if broker is not None and stop_broker is not None:
            await stop_broker(broker)
        if server is not None and server_task is not None:
            server.should_exit = True
            with contextlib.suppress(Exception):
                await server_task
        if wrote_env_file:
            # A stale file would point clients at a dead address; its presence means "running".
            args.env_file.unlink(missing_ok=True)
        runtime.stop()
        print("Watershed stopped.", flush=True)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=os.environ.get("LOG_LEVEL", "WARNING").upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    asyncio.run(serve(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
