"""``make run`` is ``driftaudit demo``: one command, the whole pipeline, exit 0, nothing left running."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from driftaudit.streams.embedded_broker import probe_broker

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SRC = str(Path(__file__).resolve().parents[2] / "src")


def test_demo_runs_the_pipeline_prints_the_report_and_stops_everything(tmp_path):
    result = subprocess.run(
        [sys.executable, "-c", "from driftaudit.cli import main; main()", "demo"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env={
            "PATH": "/usr/bin:/bin",
            "HOME": str(tmp_path),
            "COLUMNS": "160",
            "PYTHONPATH": SRC,
        },
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    assert "Audit audit-" in output  # the device table
    assert re.search(r"Fleet score: \d+\.\d", output)
    assert re.search(r"Rolling fleet score \(worker web view\): \d+\.\d", output)
    assert "42 compliant, 5 drifted of 47 reachable; 3 unreachable" in output
    assert "history: 50 drift events stored" in output
    broker = re.search(r"embedded broker \(Tansu\) at (127\.0\.0\.1):(\d+)", output)
    assert broker is not None
    assert probe_broker(broker.group(1), int(broker.group(2)), timeout=1.0) is None  # Tansu is gone
    assert not (tmp_path / ".driftaudit").exists()  # history went to a temporary directory, now removed
    assert not (tmp_path / "tmp").exists()
