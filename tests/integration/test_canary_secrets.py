"""Canary secrets of every form never leave the process, on any channel.

Every simulated device carries canary secrets (``driftaudit.sim.fleet.CANARY_SECRETS``:
type 7 after ``7`` and ``encrypted``, SNMPv3 auth/priv keys, communities, a
TACACS key, Junos ``plain-text-password-value``, an ASA enable password) in its
running config and its intended config. After a whole audit through the
stream topology, none of them (nor the type 7 plaintext) may appear in: any
topic's keys or values, any history table, the worker's web views, the HTTP
API's responses (a pre-flight of the whole fleet, the score, every device's
history), the CLI's history output, or the log records of every logger
at DEBUG (Faust's and aiokafka's included).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr
from typer.testing import CliRunner

from driftaudit.adapters.history.clickhouse import chdb_dsn
from driftaudit.cli.audit_cmd import audit_via_broker, local_pipeline, request_for
from driftaudit.settings import Settings
from driftaudit.sim.fleet import CANARY_PLAINTEXT, CANARY_SECRETS
from driftaudit.streams.embedded_broker import free_port
from tests.plugins.streams import FleetUnderTest, read_topic

pytestmark = [pytest.mark.usefixtures("faust_garbage"), pytest.mark.integration, pytest.mark.kafka]

TOPICS = ("audit-requests", "device-fetch", "device-configs", "drift-events", "audit-status", "dead-letter")
CANARIES = sorted({CANARY_PLAINTEXT, *(secret for secrets in CANARY_SECRETS.values() for secret in secrets)})


class _Everything(logging.Handler):
    """Keeps the formatted text of every record (message, arguments, exception)."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.texts: list[str] = []
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.texts.append(self.format(record))
        except Exception as exc:  # a record that cannot be formatted is still evidence
            self.texts.append(f"{record.name} {record.msg!r} {record.args!r} {exc!r}")


@pytest.fixture
def debug_log() -> Iterator[_Everything]:
    handler = _Everything()
    root = logging.getLogger()
    loggers = [root, *(logging.getLogger(name) for name in ("faust", "aiokafka", "mode", "driftaudit"))]
    levels = [logger.level for logger in loggers]
    root.addHandler(handler)
    for logger in loggers:
        logger.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


async def _api_hits(settings: Settings, fleet: FleetUnderTest) -> list[str]:
    """Every response of the HTTP API: a pre-flight of the whole fleet, the score, each history."""
    from driftaudit.cli.api_cmd import build_api

    app = build_api(settings.model_copy(update={"api_token": SecretStr("canary-api-token")}))
    auth = {"Authorization": "Bearer canary-api-token"}
    hits: list[str] = []
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://api", timeout=60.0) as http:
            devices = [device.device_id for device in fleet.devices]
            checked = await http.post("/v1/preflight", json={"devices": devices}, headers=auth)
            assert checked.status_code == 200, checked.text
            assert len(checked.json()["results"]) == len(devices)
            hits += _hits("api /v1/preflight", checked.text)
            hits += _hits("api /v1/fleet/score", (await http.get("/v1/fleet/score", headers=auth)).text)
            for device_id in devices:
                path = f"/v1/devices/{device_id}/history"
                hits += _hits(f"api {path}", (await http.get(path, headers=auth)).text)
    return hits


def _hits(channel: str, text: str) -> list[str]:
    return [f"{channel}: {canary}" for canary in CANARIES if canary in text]


async def test_no_canary_secret_in_any_channel(
    kafka_broker, kafka_namespace, small_fleet: FleetUnderTest, tmp_path: Path, debug_log: _Everything
) -> None:
    intended_dir = Path(small_fleet.env["DRIFTAUDIT_INTENDED_DIR"])
    settings: Settings = small_fleet.settings(
        kafka_broker=kafka_broker.bootstrap,
        topic_prefix=kafka_namespace.prefix,
        app_id=kafka_namespace.app_id,
        topic_partitions=2,
        broker_session_timeout_s=6.0,
        clickhouse_dsn=chdb_dsn(tmp_path / "history"),
        history_flush_s=0.2,
        masking_key="canary-test-key",
        batch_size=8,
        connect_timeout_s=2.0,
        total_timeout_s=20.0,
    )
    planted = "".join(p.read_text() for p in intended_dir.rglob("*") if p.is_file())
    assert sum(canary in planted for canary in CANARIES) >= len(CANARIES) - 1, "canaries missing from intent"
    request = request_for(requested_by="canary test")
    hits: list[str] = []
    port = free_port()
    async with local_pipeline(settings, web_port=port):
        summary = await audit_via_broker(settings, request, small_fleet.devices, timeout_s=120)
        assert len(summary.events) == len(small_fleet.devices)
        for topic in TOPICS:
            messages = await read_topic(
                settings.kafka_broker,
                kafka_namespace.topic(topic),
                partitions=2,
                until=lambda m: False,
                timeout_s=2.0,
            )
            if topic in ("device-configs", "drift-events"):
                assert messages, f"nothing read from {topic}: the check would prove nothing"
            for key, value in messages:
                hits += _hits(
                    f"topic {topic}",
                    (key or b"").decode("utf-8", "replace") + value.decode("utf-8", "replace"),
                )
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5.0) as http:
            for path in ("/fleet/score", *(f"/fleet/score/{d.tenant}" for d in small_fleet.devices[:2])):
                hits += _hits(f"worker view {path}", (await http.get(path)).text)
        hits += _hits("audit summary", repr(summary))

    from driftaudit.bootstrap import build_history

    history = build_history(settings)
    try:
        rows = [history.audit_run(request.audit_id), history.latest_status(), history.score_over_time()]
        rows += [history.device_timeline(device.device_id) for device in small_fleet.devices]
        dumped = json.dumps(rows, default=str)
        assert request.audit_id in dumped, (
            "the history holds nothing of the audit: the check would prove nothing"
        )
        hits += _hits("history", dumped)
    finally:
        history.close()

    hits += await _api_hits(settings, small_fleet)

    from driftaudit.cli import app as cli_app

    runner = CliRunner()
    env = {key: str(value) for key, value in small_fleet.env.items()}
    env["DRIFTAUDIT_CLICKHOUSE_DSN"] = chdb_dsn(tmp_path / "history")
    for device in small_fleet.devices:
        result = runner.invoke(cli_app, ["history", "device", device.device_id, "--json", "--diff"], env=env)
        assert result.exit_code == 0, result.output
        assert request.audit_id in result.output, "the CLI showed nothing of the audit"
        hits += _hits(f"cli history device {device.device_id}", result.output)

    log_text = "\n".join(debug_log.texts)
    assert log_text, "nothing was logged at DEBUG: the check would prove nothing"
    hits += _hits("log at DEBUG", log_text)
    assert hits == []


async def test_no_canary_secret_in_a_worker_process_log_at_debug(
    kafka_broker, kafka_namespace, small_fleet: FleetUnderTest, tmp_path: Path, worker_processes, monkeypatch
) -> None:
    """``driftaudit worker --loglevel debug`` as deployed: its whole log holds no canary."""
    from driftaudit.streams.client import AuditClient, ensure_topics
    from tests.plugins.streams import WorkerProcess, worker_env

    monkeypatch.setenv("STREAMS_TEST_WORKER_LOGLEVEL", "debug")
    env = worker_env(small_fleet, kafka_broker.bootstrap, kafka_namespace, tmp_path / "history")
    settings = Settings(**{key.removeprefix("DRIFTAUDIT_").lower(): value for key, value in env.items()})
    await ensure_topics(settings)
    worker = WorkerProcess(env, tmp_path / "worker.log", web_port=free_port())
    worker_processes.append(worker.start())
    request = request_for(requested_by="canary worker test")
    ids = [device.device_id for device in small_fleet.devices]
    async with AuditClient(settings) as client:
        await client.publish(request)
        events = await client.follow(request.audit_id, ids, timeout_s=120)
    assert {event.device_id: event.status.value for event in events} == small_fleet.expected
    worker.stop(timeout=30)  # how it exits is the streams tests' business; its log is ours
    log_text = worker.log_path.read_text(encoding="utf-8", errors="replace")
    assert "DEBUG" in log_text or "debug" in log_text.lower(), "the worker did not log at DEBUG"
    assert len(log_text.splitlines()) > 50, "the worker's DEBUG log is too short to prove anything"
    assert _hits("worker log at DEBUG", log_text) == []
