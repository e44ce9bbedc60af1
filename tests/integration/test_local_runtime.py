"""The local API Gateway in front of the real handlers: routing, limits and the authorizer step."""

from __future__ import annotations

import httpx

from tests.integration.conftest import Platform

UNAUTHORIZED = {"code": "unauthorized", "message": "Unauthorized"}


def test_health_answers_without_a_key(platform: Platform) -> None:
    response = httpx.get(f"{platform.url}/v1/health")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")


def test_demo_key_is_accepted(api: httpx.Client, platform: Platform) -> None:
    assert platform.key
    response = api.get("/v1/pools")
    assert response.status_code == 200, response.text
    assert "data" in response.json()


def test_missing_key_is_401_without_running_the_authorizer(platform: Platform) -> None:
    response = httpx.get(f"{platform.url}/v1/pools")
    assert response.status_code == 401
    assert response.json() == UNAUTHORIZED


def test_garbage_key_is_401(platform: Platform) -> None:
    for header in ("ApiKey not-a-key", "Bearer nonsense", "gibberish"):
        response = httpx.get(f"{platform.url}/v1/pools", headers={"Authorization": header})
        assert response.status_code == 401, header
        assert response.json() == UNAUTHORIZED


def test_unknown_path_is_404_in_our_shape(api: httpx.Client) -> None:
    response = api.get("/v1/nothing-here")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_known_path_with_wrong_method_is_405(api: httpx.Client) -> None:
    response = api.put("/v1/pools")
    assert response.status_code == 405
    assert response.json()["code"] == "method_not_allowed"
    assert set(response.headers["allow"].split(", ")) == {"GET", "POST"}


def test_body_over_lambda_payload_limit_is_413(api: httpx.Client) -> None:
    response = api.post(
        "/v1/intervals",
        content=b"[" + b" " * 6_291_456 + b"]",
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large"


def test_drain_and_local_health_endpoints(platform: Platform) -> None:
    assert httpx.get(f"{platform.url}/_local/health").json() == {"status": "ok"}
    platform.drain()
    assert platform.drain() == 0, "a drain leaves nothing pending"
    assert httpx.post(f"{platform.url}/_local/schedules/no-such-function").status_code == 404


def test_only_scheduled_functions_can_be_fired(platform: Platform) -> None:
    """Issue 19, defect 17: `POST /_local/schedules/authorizer` was a 500."""
    response = httpx.post(f"{platform.url}/_local/schedules/authorizer", timeout=30)
    assert response.status_code == 404 and "scheduled" in response.json()["message"]
    assert platform.fire("rollup")["buckets"] >= 0
