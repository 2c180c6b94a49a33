"""The worker's web views with API tokens configured: a token is required and scopes the tenants."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from pydantic import SecretStr

from driftaudit.cli.audit_cmd import audit_via_broker, local_pipeline, request_for
from driftaudit.domain.access import token_digest
from driftaudit.streams.embedded_broker import free_port
from tests.integration.test_streams_pipeline import _settings
from tests.plugins.streams import FleetUnderTest

pytestmark = [pytest.mark.usefixtures("faust_garbage"), pytest.mark.integration, pytest.mark.kafka]

ADMIN_TOKEN = "views-admin-token-1"  # noqa: S105 - test tokens
ACME_TOKEN = "views-acme-token-2"  # noqa: S105


async def test_views_refuse_without_a_token_and_answer_within_the_tokens_tenants(
    kafka_broker: Any, kafka_namespace: Any, small_fleet: FleetUnderTest, tmp_path: Path
) -> None:
    tokens = tmp_path / "tokens.yaml"
    tokens.write_text(
        yaml.safe_dump(
            {"tokens": [{"name": "acme", "sha256": token_digest(ACME_TOKEN), "tenants": ["acme"]}]}
        ),
        encoding="utf-8",
    )
    settings = _settings(
        small_fleet,
        kafka_broker,
        kafka_namespace,
        tmp_path,
        api_token=SecretStr(ADMIN_TOKEN),
        api_tokens_path=tokens,
    )
    acme = {d.device_id for d in small_fleet.devices if d.tenant == "acme"}
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    async with local_pipeline(settings, web_port=port):
        await audit_via_broker(settings, request_for(), small_fleet.devices, timeout_s=120)
        async with httpx.AsyncClient(timeout=5.0) as http:
            for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": f"Basic {ACME_TOKEN}"}):
                for path in ("/fleet/score", "/fleet/score/acme"):
                    response = await http.get(base + path, headers=headers)
                    assert response.status_code == 401, path
                    assert "acme" not in response.text

            admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
            mine = {"Authorization": f"Bearer {ACME_TOKEN}"}
            for _ in range(200):  # the score table follows the drift events a moment later
                everything = (await http.get(f"{base}/fleet/score", headers=admin)).json()
                if everything["fleet"]["total"] >= len(small_fleet.devices):
                    break
                await asyncio.sleep(0.1)
            assert set(everything["tenants"]) == {"acme", "globex"}
            assert everything["fleet"]["total"] == len(small_fleet.devices)

            scoped = (await http.get(f"{base}/fleet/score", headers=mine)).json()
            assert set(scoped["tenants"]) == {"acme"}
            assert scoped["fleet"]["total"] == len(acme)
            own = await http.get(f"{base}/fleet/score/acme", headers=mine)
            assert own.status_code == 200
            assert own.json()["total"] == len(acme)
            other = await http.get(f"{base}/fleet/score/globex", headers=mine)
            assert other.status_code == 404
            assert "total" not in other.json()
