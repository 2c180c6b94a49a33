"""``driftaudit schemas`` writes one JSON Schema per wire contract."""

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from driftaudit.cli import schemas as schemas_cli
from driftaudit.domain.models import AuditRequest, DeviceSelector

NAMES = [
    "AuditRequest",
    "DeviceFetchTask",
    "DeviceConfig",
    "DriftEvent",
    "DeadLetter",
    "AuditStatus",
    "ScoreObservation",
    "ScoreBatch",
]


@pytest.fixture
def app() -> typer.Typer:
    app = typer.Typer()
    schemas_cli.register(app)

    @app.callback()
    def _root() -> None:
        """Keep typer in multi-command mode."""

    return app


def test_writes_every_contract(app: typer.Typer, tmp_path: Path) -> None:
    out = tmp_path / "nested" / "schemas"
    result = CliRunner().invoke(app, ["schemas", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == sorted(f"{n}.schema.json" for n in NAMES)
    for name in NAMES:
        document = json.loads((out / f"{name}.schema.json").read_text())
        assert document["title"] == name
        assert document["$schema"].endswith("2020-12/schema")
        assert "schema_version" in document["properties"]
        assert str(out / f"{name}.schema.json") in result.output


def test_audit_request_schema_describes_the_model(tmp_path: Path) -> None:
    schemas_cli.write_schemas(tmp_path)
    document = json.loads((tmp_path / "AuditRequest.schema.json").read_text())
    assert set(document["required"]) == {"audit_id", "requested_at"}
    assert document["additionalProperties"] is False
    assert "DeviceSelector" in document["$defs"]
    # the documented example a producer would send validates against the model
    sample = {"audit_id": "a-1", "requested_at": "2026-01-01T00:00:00Z", "selector": {"tenant": "acme"}}
    parsed = AuditRequest.model_validate(sample)
    assert parsed.selector == DeviceSelector(tenant="acme")
    assert parsed.requested_at == datetime(2026, 1, 1, tzinfo=UTC)


def test_output_is_deterministic(tmp_path: Path) -> None:
    first = {p.name: p.read_text() for p in schemas_cli.write_schemas(tmp_path / "a")}
    second = {p.name: p.read_text() for p in schemas_cli.write_schemas(tmp_path / "b")}
    assert first == second


def test_unwritable_destination_fails_cleanly(app: typer.Typer, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = CliRunner().invoke(app, ["schemas", "--out", str(blocker / "sub")])
    assert result.exit_code == 1
    assert "cannot write schemas" in result.output
