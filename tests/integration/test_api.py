"""The HTTP API over real HTTP: uvicorn on a free loopback port, the simulated fleet, chDB."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest
import uvicorn

from driftaudit.api import ApiDeps, create_api
from driftaudit.bootstrap import build_history
from driftaudit.cli.api_cmd import build_api
from driftaudit.domain.errors import ConfigurationError
from driftaudit.domain.masking import MaskingRegistry
from driftaudit.domain.models import DeviceStatus, DriftEvent
from tests.plugins.preflight import API_TOKEN, PreflightLab

pytestmark = pytest.mark.integration

AUTH = {"Authorization": f"Bearer {API_TOKEN}"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class _Served:
    def __init__(self, app: object) -> None:
        self.port = _free_port()
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the API server did not start")
            time.sleep(0.02)
        return f"http://127.0.0.1:{self.port}"

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=20)


def _seed_history(lab: PreflightLab) -> list[DriftEvent]:
    """Results of an earlier audit, written to the lab's chDB store."""
    now = datetime.now(UTC)
    statuses = [
        DeviceStatus.COMPLIANT,
        DeviceStatus.COMPLIANT,
        DeviceStatus.DRIFTED,
        DeviceStatus.UNREACHABLE,
    ]
    events = [
        DriftEvent(
            audit_id="audit-seed",
            device_id=device.device_id,
            tenant=device.tenant,
            platform=device.platform,
            status=status,
            requested_at=now,
            observed_at=now,
        )
        for device, status in zip(lab.fleet.devices, statuses, strict=False)
    ]
    store = build_history(lab.settings)
    try:
        store.write_events(events)
    finally:
        store.close()
    return events


@pytest.fixture(scope="module")
def api_url(preflight_lab: PreflightLab) -> Iterator[str]:
    _seed_history(preflight_lab)
    with _Served(build_api(preflight_lab.settings)) as url:
        yield url


def test_requests_without_the_token_get_401(api_url: str) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {API_TOKEN}"}):
        response = httpx.post(f"{api_url}/v1/preflight", json={"devices": ["x"]}, headers=headers)
        assert response.status_code == 401
        assert response.json()["error"]
        assert response.headers["www-authenticate"] == "Bearer"
    assert httpx.get(f"{api_url}/v1/fleet/score").status_code == 401


def test_malformed_bodies_get_422_json(api_url: str) -> None:
    bad_bodies = [
        {"content": b"{not json", "headers": {**AUTH, "content-type": "application/json"}},
        {"json": {"devices": []}, "headers": AUTH},
        {"json": {"device": ["a"]}, "headers": AUTH},
        {"json": {"devices": "a"}, "headers": AUTH},
        {"json": {"devices": ["a"], "timeout_s": -1}, "headers": AUTH},
    ]
    for kwargs in bad_bodies:
        response = httpx.post(f"{api_url}/v1/preflight", **kwargs)  # type: ignore[arg-type]
        assert response.status_code == 422, response.text
        assert response.json()["error"] == "invalid request body"


def test_unknown_device_is_404(api_url: str) -> None:
    response = httpx.post(f"{api_url}/v1/preflight", json={"devices": ["nope-1"]}, headers=AUTH)
    assert response.status_code == 404
    assert "nope-1" in response.json()["error"]


def test_preflight_returns_status_and_masked_diff(api_url: str, preflight_lab: PreflightLab) -> None:
    drifted = next(iter(preflight_lab.fleet.drift))
    healthy = preflight_lab.healthy_ids()[0]
    response = httpx.post(
        f"{api_url}/v1/preflight", json={"devices": [healthy, drifted]}, headers=AUTH, timeout=60
    )
    assert response.status_code == 200, response.text
    body = response.json()
    by_id = {r["device_id"]: r for r in body["results"]}
    assert by_id[healthy]["status"] == "compliant"
    assert by_id[drifted]["status"] == "drifted"
    assert by_id[drifted]["unified_diff"]
    assert body["compliant"] is False
    assert body["exit_code"] == 1
    for cred in preflight_lab.fleet.credentials.values():
        assert cred.password is not None
        assert cred.password.get_secret_value() not in response.text
    assert API_TOKEN not in response.text


def test_fleet_score_and_device_history(api_url: str, preflight_lab: PreflightLab) -> None:
    response = httpx.get(f"{api_url}/v1/fleet/score", headers=AUTH)
    assert response.status_code == 200, response.text
    fleet = response.json()["fleet"]
    assert (fleet["compliant"], fleet["drifted"], fleet["unreachable"]) == (2, 1, 1)
    assert fleet["score"] == pytest.approx(200 / 3)
    device_id = preflight_lab.fleet.devices[2].device_id
    history = httpx.get(f"{api_url}/v1/devices/{device_id}/history", headers=AUTH)
    assert history.status_code == 200, history.text
    rows = history.json()["results"]
    assert [row["status"] for row in rows] == ["drifted"]
    assert httpx.get(f"{api_url}/v1/devices/unknown-9/history", headers=AUTH).status_code == 404


def test_openapi_is_served(api_url: str) -> None:
    schema = httpx.get(f"{api_url}/openapi.json").json()
    assert "/v1/preflight" in schema["paths"]
    assert httpx.get(f"{api_url}/docs").status_code == 200


def test_an_api_without_a_token_refuses_to_start(preflight_lab: PreflightLab) -> None:
    class _Nothing:
        def get(self, device_id: str) -> None: ...

    with pytest.raises(ConfigurationError, match="DRIFTAUDIT_API_TOKEN"):
        create_api(
            ApiDeps(
                inventory=_Nothing(),  # type: ignore[arg-type]
                intended=_Nothing(),  # type: ignore[arg-type]
                client=_Nothing(),  # type: ignore[arg-type]
                registry=MaskingRegistry.builtin(key=b"k"),
                history=None,
                token="",
            )
        )
