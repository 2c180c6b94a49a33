"""The compose stack and the image: the invariants no engine is needed to check.

CI also runs ``docker-compose config --quiet``; these tests catch what that
cannot: a Kafka variable missing (setting any turns the image defaults off),
a mounted path that does not exist, a service without a healthcheck.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def services() -> dict[str, Any]:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return compose["services"]


def test_kafka_is_a_complete_single_node_kraft(services: dict[str, Any]) -> None:
    kafka = services["kafka"]
    assert kafka["image"] == "apache/kafka:3.9.1"
    env = kafka["environment"]
    for name in (
        "KAFKA_NODE_ID",
        "KAFKA_PROCESS_ROLES",
        "KAFKA_LISTENERS",
        "KAFKA_ADVERTISED_LISTENERS",
        "KAFKA_CONTROLLER_LISTENER_NAMES",
        "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP",
        "KAFKA_CONTROLLER_QUORUM_VOTERS",
        "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR",
        "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR",
        "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR",
        "KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS",
        "KAFKA_LOG_DIRS",
    ):
        assert name in env, name
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
    listeners = {item.split(":")[0] for item in env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(",")}
    declared = {item.split(":")[0] for item in env["KAFKA_LISTENERS"].split(",")}
    assert declared <= listeners
    assert env["KAFKA_CONTROLLER_LISTENER_NAMES"] in declared
    assert any(v.endswith(":" + env["KAFKA_LOG_DIRS"]) for v in kafka["volumes"])


def test_every_service_has_a_healthcheck_and_data_is_on_named_volumes(services: dict[str, Any]) -> None:
    for name, service in services.items():
        assert "healthcheck" in service, name
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert {"kafka-data", "clickhouse-data"} <= set(compose["volumes"])
    assert "clickhouse-data:/var/lib/clickhouse" in services["clickhouse"]["volumes"]
    assert "CLICKHOUSE_PASSWORD" in services["clickhouse"]["environment"]


def test_grafana_mounts_the_provisioning_in_the_repository(services: dict[str, Any]) -> None:
    grafana = services["grafana"]
    plugins = (
        grafana["environment"].get("GF_INSTALL_PLUGINS") or grafana["environment"]["GF_PLUGINS_PREINSTALL"]
    )
    assert "grafana-clickhouse-datasource" in plugins
    for volume in grafana["volumes"]:
        source = volume.split(":")[0]
        if source.startswith("./"):
            assert (ROOT / source).is_dir(), source


def test_driftaudit_services_share_the_image_and_read_the_server(services: dict[str, Any]) -> None:
    assert services["worker"]["command"] == ["worker"]
    assert services["api"]["command"] == ["api"]
    assert services["sim"]["command"][0] == "sim"
    assert services["sim"]["profiles"] == ["sim"]
    for name in ("worker", "api"):
        env = services[name]["environment"]
        assert env["DRIFTAUDIT_KAFKA_BROKER"] == "kafka:9092"
        assert env["DRIFTAUDIT_CLICKHOUSE_DSN"].startswith("http://clickhouse:8123")
        assert services[name]["build"]["dockerfile"] == "Dockerfile"


def test_dockerfile_runs_as_a_non_root_user() -> None:
    lines = [line.strip() for line in (ROOT / "Dockerfile").read_text().splitlines()]
    assert lines[[i for i, line in enumerate(lines) if line.startswith("FROM")][0]] == "FROM python:3.11-slim"
    users = [line.split()[1] for line in lines if line.startswith("USER ")]
    assert users
    assert users[-1] not in ("root", "0")
