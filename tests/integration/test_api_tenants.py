"""Tenant-scoped API tokens over real HTTP: each tenant sees only its own devices, scores and history.

Two tenants of the simulated fleet (``acme``, ``globex``) each get a token
from a token file (one by sha256, one from its own secret file), the
``DRIFTAUDIT_API_TOKEN`` token is admin. Another tenant's device answers 404
exactly like a device that does not exist, so a token learns nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import yaml

from driftaudit.bootstrap import build_history
from driftaudit.cli.api_cmd import build_api
from driftaudit.domain.access import token_digest
from driftaudit.domain.errors import ConfigurationError
from driftaudit.domain.models import DeviceStatus, DriftEvent
from tests.integration.test_api import _Served
from tests.plugins.preflight import API_TOKEN, PreflightLab

pytestmark = pytest.mark.integration

ACME_TOKEN = "acme-token-4b1d9e"  # noqa: S105 - test tokens
GLOBEX_TOKEN = "globex-token-77ac02"  # noqa: S105


@dataclass
class _TenantApi:
    url: str
    by_tenant: dict[str, list[str]]


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
def tenant_api(preflight_lab: PreflightLab, tmp_path_factory: pytest.TempPathFactory) -> Iterator[_TenantApi]:
    root = Path(tmp_path_factory.mktemp("tokens"))
    (root / "globex.token").write_text(GLOBEX_TOKEN + "\n", encoding="utf-8")
    token_file = root / "tokens.yaml"
    token_file.write_text(
        yaml.safe_dump(
            {
                "tokens": [
                    {"name": "acme-ci", "sha256": token_digest(ACME_TOKEN), "tenants": ["acme"]},
                    {"name": "globex-noc", "token_file": str(root / "globex.token"), "tenants": ["globex"]},
                ]
            }
        ),
        encoding="utf-8",
    )
    settings = preflight_lab.settings.model_copy(
        update={"api_tokens_path": token_file, "clickhouse_dsn": f"chdb:///{root / 'history'}"}
    )
    now = datetime.now(UTC)
    by_tenant: dict[str, list[str]] = {}
    events = []
    for index, device in enumerate(preflight_lab.fleet.devices):
        by_tenant.setdefault(device.tenant, []).append(device.device_id)
        status = DeviceStatus.DRIFTED if index % 3 == 0 else DeviceStatus.COMPLIANT
        events.append(
            DriftEvent(
                audit_id="audit-tenants",
                device_id=device.device_id,
                tenant=device.tenant,
                platform=device.platform,
                status=status,
                requested_at=now,
                observed_at=now,
            )
        )
    assert set(by_tenant) == {"acme", "globex"}
    store = build_history(settings)
    try:
        store.write_events(events)
    finally:
        store.close()
    with _Served(build_api(settings)) as url:
        yield _TenantApi(url=url, by_tenant=by_tenant)


@pytest.mark.parametrize(("token", "tenant"), [(ACME_TOKEN, "acme"), (GLOBEX_TOKEN, "globex")])
def test_each_tenant_scores_only_its_own_devices(tenant_api: _TenantApi, token: str, tenant: str) -> None:
    body = httpx.get(f"{tenant_api.url}/v1/fleet/score", headers=_auth(token)).json()
    assert set(body["tenants"]) == {tenant}
    fleet = body["fleet"]
    assert fleet["compliant"] + fleet["drifted"] == len(tenant_api.by_tenant[tenant])


def test_admin_sees_every_tenant(tenant_api: _TenantApi) -> None:
    body = httpx.get(f"{tenant_api.url}/v1/fleet/score", headers=_auth(API_TOKEN)).json()
    assert set(body["tenants"]) == {"acme", "globex"}
    total = sum(len(ids) for ids in tenant_api.by_tenant.values())
    assert body["fleet"]["compliant"] + body["fleet"]["drifted"] == total
    for ids in tenant_api.by_tenant.values():
        response = httpx.get(f"{tenant_api.url}/v1/devices/{ids[0]}/history", headers=_auth(API_TOKEN))
        assert response.status_code == 200
        assert len(response.json()["results"]) == 1


@pytest.mark.parametrize(
    ("token", "own", "other"), [(ACME_TOKEN, "acme", "globex"), (GLOBEX_TOKEN, "globex", "acme")]
)
def test_history_of_another_tenant_is_404_like_an_unknown_device(
    tenant_api: _TenantApi, token: str, own: str, other: str
) -> None:
    mine = tenant_api.by_tenant[own][0]
    theirs = tenant_api.by_tenant[other][0]
    ok = httpx.get(f"{tenant_api.url}/v1/devices/{mine}/history", headers=_auth(token))
    assert ok.status_code == 200
    assert [row["tenant"] for row in ok.json()["results"]] == [own]
    refused = httpx.get(f"{tenant_api.url}/v1/devices/{theirs}/history", headers=_auth(token))
    unknown = httpx.get(f"{tenant_api.url}/v1/devices/no-such-device/history", headers=_auth(token))
    assert refused.status_code == unknown.status_code == 404
    assert refused.json() == {"error": f"unknown device id {theirs!r}"}
    assert other not in refused.text


def test_preflight_of_another_tenants_device_is_404_and_fetches_nothing(tenant_api: _TenantApi) -> None:
    theirs = tenant_api.by_tenant["globex"][0]
    mine = tenant_api.by_tenant["acme"][0]
    response = httpx.post(
        f"{tenant_api.url}/v1/preflight",
        json={"devices": [mine, theirs]},
        headers=_auth(ACME_TOKEN),
        timeout=60,
    )
    assert response.status_code == 404
    assert "results" not in response.json()


def test_unknown_tokens_are_refused_and_no_token_is_logged(
    tenant_api: _TenantApi, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    for headers in (
        {},
        _auth("acme-token"),
        _auth(ACME_TOKEN + "x"),
        {"Authorization": f"Basic {ACME_TOKEN}"},
    ):
        assert httpx.get(f"{tenant_api.url}/v1/fleet/score", headers=headers).status_code == 401
    assert httpx.get(f"{tenant_api.url}/v1/fleet/score", headers=_auth(ACME_TOKEN)).status_code == 200
    for token in (ACME_TOKEN, GLOBEX_TOKEN, API_TOKEN):
        assert token not in caplog.text


def test_a_malformed_token_file_stops_the_api_naming_the_file_not_the_token(
    preflight_lab: PreflightLab, tmp_path: Path
) -> None:
    bad = tmp_path / "tokens.yaml"
    bad.write_text(yaml.safe_dump({"tokens": [{"name": "x", "token": ACME_TOKEN}]}), encoding="utf-8")
    settings = preflight_lab.settings.model_copy(update={"api_tokens_path": bad})
    with pytest.raises(ConfigurationError, match="tokens.yaml") as caught:
        build_api(settings)
    assert ACME_TOKEN not in str(caught.value)
    assert "tenants or admin" in str(caught.value) or "value_error" in str(caught.value)
