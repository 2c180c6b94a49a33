"""``driftaudit preflight`` as a user runs it: a subprocess, settings from the environment, exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from driftaudit.domain.models import Transport
from tests.plugins.preflight import PreflightLab

pytestmark = pytest.mark.integration


def _run(lab: PreflightLab, *args: str) -> subprocess.CompletedProcess[str]:
    s = lab.settings
    env = {
        **os.environ,
        "DRIFTAUDIT_INVENTORY_PATH": str(s.inventory_path),
        "DRIFTAUDIT_INTENDED_DIR": str(s.intended_dir),
        "DRIFTAUDIT_CREDENTIALS_PATH": str(s.credentials_path),
        "DRIFTAUDIT_SSH_KNOWN_HOSTS": str(s.ssh_known_hosts),
        "DRIFTAUDIT_REST_SCHEME": "http",
        "DRIFTAUDIT_REST_PATH_PREFIX": s.rest_path_prefix,
        "COLUMNS": "200",
    }
    code = "from driftaudit.cli import main; main()"
    return subprocess.run(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-c", code, "preflight", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_exit_codes_follow_the_worst_status(preflight_lab: PreflightLab) -> None:
    healthy = preflight_lab.healthy_ids(Transport.SSH)[:2]
    drifted = next(iter(preflight_lab.fleet.drift))
    unreachable = next(iter(preflight_lab.fleet.unreachable))

    compliant = _run(preflight_lab, *healthy)
    assert compliant.returncode == 0, compliant.stdout + compliant.stderr
    assert "compliant" in compliant.stdout

    with_drift = _run(preflight_lab, healthy[0], drifted, "--json")
    assert with_drift.returncode == 1, with_drift.stderr
    document = json.loads(with_drift.stdout)
    assert {r["device_id"]: r["status"] for r in document["results"]} == {
        healthy[0]: "compliant",
        drifted: "drifted",
    }
    assert document["exit_code"] == 1

    worst = _run(preflight_lab, drifted, unreachable)
    assert worst.returncode == 2, worst.stdout + worst.stderr


def test_unknown_device_cannot_run(preflight_lab: PreflightLab) -> None:
    result = _run(preflight_lab, "no-such-device")
    assert result.returncode == 3
    assert "no-such-device" in result.stderr
