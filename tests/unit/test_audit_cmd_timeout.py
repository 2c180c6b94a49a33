"""``driftaudit audit --wait`` waits past the audit deadline by default.

The pipeline publishes an incomplete audit's status (naming each missing
device) at ``audit_deadline_s``; a client whose own timeout ran out first
would only say "timed out" and hide which devices are missing.
"""

from __future__ import annotations

from typing import Any

import pytest
from typer.testing import CliRunner

from driftaudit.cli import app, audit_cmd


@pytest.fixture
def seen_timeouts(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    seen: list[float] = []

    async def fake_run(settings: Any, request: Any, *, timeout_s: float, **_: Any) -> None:
        seen.append(timeout_s)

    monkeypatch.setattr(audit_cmd, "_run", fake_run)
    return seen


def test_default_timeout_follows_the_audit_deadline(
    seen_timeouts: list[float], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DRIFTAUDIT_AUDIT_DEADLINE_S", "120")
    result = CliRunner().invoke(app, ["audit", "--no-wait"])
    assert result.exit_code == 0, result.output
    assert seen_timeouts == [120 + audit_cmd.STATUS_GRACE_S]


def test_default_timeout_is_past_the_default_deadline(
    seen_timeouts: list[float], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DRIFTAUDIT_AUDIT_DEADLINE_S", raising=False)
    CliRunner().invoke(app, ["audit", "--no-wait"])
    assert len(seen_timeouts) == 1
    assert seen_timeouts[0] > 600


def test_an_explicit_timeout_wins(seen_timeouts: list[float]) -> None:
    CliRunner().invoke(app, ["audit", "--no-wait", "--timeout", "45"])
    assert seen_timeouts == [45]
