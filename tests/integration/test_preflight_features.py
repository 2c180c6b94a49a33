"""Pre-flight with compliance features and remediation: the CLI (a subprocess) and the HTTP API.

A small simulated fleet over SSH, with drift injected the way a hand edit
would (a rotated password hash, a removed NTP server, a changed description),
a rules file loaded through the real composition root, and the real HTTP
server for ``POST /v1/preflight`` and ``GET /v1/features``.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from driftaudit.bootstrap import build_history
from driftaudit.cli.api_cmd import build_api
from driftaudit.domain.models import DriftEvent, Platform, Transport
from driftaudit.settings import Settings
from driftaudit.sim.fleet import DriftKind, SimFleet, build_fleet
from tests.integration.test_api import _Served
from tests.samples_path import SAMPLES

pytestmark = pytest.mark.integration

TOKEN = "features-test-token-51c2"  # noqa: S105 - a test token
RULES = """
unmatched: report
features:
  - name: ntp
    sections: ["ntp ", "system ntp"]
  - name: users
    sections: ["username ", "enable ", "aaa ", "system login", "system root-authentication"]
  - name: interfaces
    sections: ["interface ", "interfaces"]
"""
_HASH = re.compile(r"\$(?:1|5|6|9)\$[./0-9A-Za-z]{2,16}\$[./0-9A-Za-z]{8,}")


@dataclass
class Lab:
    fleet: SimFleet
    settings: Settings
    env: dict[str, str]


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    fleet = build_fleet(
        9,
        seed=0,  # a seed whose drift includes a rotated hash and a removed NTP server
        drifted=6,
        transports=(Transport.SSH,),
        platforms=(Platform.IOS, Platform.EOS, Platform.JUNOS),
        drift_kinds=(DriftKind.SECRET, DriftKind.NTP_REMOVED, DriftKind.DESCRIPTION),
        samples=SAMPLES,
    )
    root = Path(tmp_path_factory.mktemp("features-lab"))
    rules = root / "rules.yaml"
    rules.write_text(RULES)
    with fleet.in_thread():
        files = fleet.write_files(root)
        settings = Settings(
            inventory_path=files.inventory,
            intended_dir=files.intended_dir,
            credentials_path=files.credentials,
            ssh_known_hosts=files.known_hosts,
            clickhouse_dsn=f"chdb:///{root / 'history'}",
            api_token=SecretStr(TOKEN),
            rules_path=rules,
        )
        env = {
            **os.environ,
            "DRIFTAUDIT_INVENTORY_PATH": str(files.inventory),
            "DRIFTAUDIT_INTENDED_DIR": str(files.intended_dir),
            "DRIFTAUDIT_CREDENTIALS_PATH": str(files.credentials),
            "DRIFTAUDIT_SSH_KNOWN_HOSTS": str(files.known_hosts),
            "DRIFTAUDIT_RULES_PATH": str(rules),
            "COLUMNS": "250",
        }
        yield Lab(fleet=fleet, settings=settings, env=env)


def _run(lab: Lab, *args: str) -> subprocess.CompletedProcess[str]:
    code = "from driftaudit.cli import main; main()"
    return subprocess.run(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-c", code, "preflight", *args],
        env=lab.env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _by_kind(lab: Lab, kind: str) -> str:
    return next(device for device, detail in lab.fleet.drift.items() if detail.startswith(kind))


def test_cli_features_and_remediation_withhold_secrets_unless_asked(lab: Lab) -> None:
    secret_device = _by_kind(lab, "secret")
    intended = (lab.settings.intended_dir / f"{secret_device}.cfg").read_text()
    intended_hashes = set(_HASH.findall(intended))
    assert intended_hashes

    shown = _run(lab, secret_device, "--features", "--remediation")
    assert shown.returncode == 1, shown.stdout + shown.stderr
    assert "Compliance features" in shown.stdout
    assert re.search(r"users\s+.*drifted", shown.stdout)
    assert f"remediation for {secret_device}" in shown.stdout
    assert "secret withheld, take it from intended line" in shown.stdout
    assert not any(value in shown.stdout + shown.stderr for value in intended_hashes)

    revealed = _run(lab, secret_device, "--remediation", "--with-secrets")
    assert revealed.returncode == 1, revealed.stdout + revealed.stderr
    assert any(value in revealed.stdout for value in intended_hashes)
    assert "take it from intended line" not in revealed.stdout

    document = json.loads(_run(lab, secret_device, "--json").stdout)
    (result,) = document["results"]
    assert result["remediation"]
    assert {f["feature"]: f["status"] for f in result["features"]}["users"] == "drifted"
    assert not any(value in json.dumps(document) for value in intended_hashes)
    refused = _run(lab, secret_device, "--with-secrets")
    assert refused.returncode == 2
    assert "--with-secrets" in refused.stderr


def test_api_preflight_returns_features_and_remediation_and_serves_the_matrix(lab: Lab) -> None:
    ntp_device = _by_kind(lab, "ntp_removed")
    healthy = next(d.device_id for d in lab.fleet.devices if d.device_id not in lab.fleet.drift)
    auth = {"Authorization": f"Bearer {TOKEN}"}
    with _Served(build_api(lab.settings)) as url:
        response = httpx.post(
            f"{url}/v1/preflight", json={"devices": [ntp_device, healthy]}, headers=auth, timeout=60
        )
        assert response.status_code == 200, response.text
        results = {r["device_id"]: r for r in response.json()["results"]}
        ntp = {f["feature"]: f for f in results[ntp_device]["features"]}["ntp"]
        assert ntp["status"] == "drifted"
        assert ntp["removed_count"] == 1
        assert ntp["remediation"]
        assert all(line.startswith(("ntp server", "set system ntp")) for line in ntp["remediation"])
        assert results[healthy]["status"] == "compliant"
        assert results[healthy]["remediation"] == []
        assert {f["status"] for f in results[healthy]["features"]} <= {"compliant", "not_applicable"}

    # the matrix reads what the history holds: record the pre-flight's events as an audit would
    # (with the server stopped: embedded chDB is one path per process)
    store = build_history(lab.settings)
    try:
        store.write_events([DriftEvent.model_validate(r) for r in results.values()])
    finally:
        store.close()
    with _Served(build_api(lab.settings)) as url:
        matrix = httpx.get(f"{url}/v1/features", params={"by": "tenant"}, headers=auth, timeout=30)
        assert matrix.status_code == 200, matrix.text
        rows = {(row["feature"], row["tenant"]): row for row in matrix.json()["features"]}
        tenant = results[ntp_device]["tenant"]
        assert rows[("ntp", tenant)]["drifted"] >= 1
        scoped = httpx.get(
            f"{url}/v1/features", params={"tenant": ["no-such-tenant"]}, headers=auth, timeout=30
        )
        assert scoped.json()["features"] == []
        trend = httpx.get(f"{url}/v1/features", params={"trend": "true"}, headers=auth, timeout=30)
        assert {row["feature"] for row in trend.json()["trend"]} >= {"ntp"}
        bad = httpx.get(f"{url}/v1/features", params={"by": "colour"}, headers=auth, timeout=30)
        assert bad.status_code == 400
        assert httpx.get(f"{url}/v1/features").status_code == 401


async def test_in_process_audit_stores_feature_results_and_lists_top_features(lab: Lab) -> None:
    from datetime import UTC, datetime

    from driftaudit.bootstrap import audit_in_process
    from driftaudit.domain.models import AuditRequest

    request = AuditRequest(audit_id="audit-features-1", requested_at=datetime.now(UTC))
    summary = await audit_in_process(request, lab.settings)
    assert summary.stored, summary.history_error
    by_id = {event.device_id: event for event in summary.events}
    ntp_device = _by_kind(lab, "ntp_removed")
    assert {f.feature: f.status.value for f in by_id[ntp_device].features}["ntp"] == "drifted"
    assert summary.top_features.get("ntp", 0) >= 1
    assert all(event.remediation for event in summary.events if event.status.value == "drifted")
    store = build_history(lab.settings)
    try:
        rows = (
            store._ensure_client()
            .query("SELECT count() FROM feature_results FINAL WHERE audit_id = 'audit-features-1'")
            .result_rows
        )
    finally:
        store.close()
    reachable = [e for e in summary.events if e.status.value in ("compliant", "drifted")]
    assert rows[0][0] == sum(len(e.features) for e in reachable) > 0
