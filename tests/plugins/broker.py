"""Pytest fixtures for the broker tests (loaded from tests/conftest.py).

``kafka_broker`` (session scope) is the one broker every Kafka test shares,
chosen by ``DRIFTAUDIT_TEST_BROKER``:

* ``kafka`` (default): Apache Kafka 3.9 (KRaft) from ``deploy/kafka/launcher.py``;
* ``tansu``: the embedded Tansu (memory only; recovery tests xfail there);
* ``host:port``: a Kafka that is already running (kind ``external``).

``kafka_namespace`` (function scope) gives each test its own topic prefix and
consumer group, so tests sharing the broker never see each other's records.
Tests using them are marked ``@pytest.mark.kafka`` and ``@pytest.mark.integration``.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from deploy.kafka.launcher import KafkaBroker

from driftaudit.streams.embedded_broker import BrokerStartError, EmbeddedTansu, probe_broker

__all__ = ["BROKER_ENV", "KafkaNamespace", "TestBroker", "kafka_broker", "kafka_namespace"]

BROKER_ENV = "DRIFTAUDIT_TEST_BROKER"
_STARTUP_TIMEOUT_S = 120.0
_summary_key = pytest.StashKey[str]()


@dataclass(frozen=True, slots=True)
class TestBroker:
    """The broker a test run talks to.

    Attributes:
        bootstrap: ``host:port`` for aiokafka (``kafka://`` + it for Faust).
        kind: ``kafka``, ``tansu`` or ``external``.
        version: the broker software's version (``3.9.2``), ``unknown`` for an external one.
        startup_seconds: how long it took to answer (None when external).
        rss_bytes: its resident memory right after start-up (None when unknown).
        used_cache: for ``kafka``, whether the jars came from the local cache.
    """

    __test__ = False  # a value, not a test class

    bootstrap: str
    kind: str
    version: str
    startup_seconds: float | None = None
    rss_bytes: int | None = None
    used_cache: bool | None = None

    @property
    def host(self) -> str:
        """Host part of :attr:`bootstrap`."""
        return self.bootstrap.rsplit(":", 1)[0]

    @property
    def port(self) -> int:
        """Port part of :attr:`bootstrap`."""
        return int(self.bootstrap.rsplit(":", 1)[1])

    @property
    def faust_url(self) -> str:
        """The broker URL Faust wants."""
        return f"kafka://{self.bootstrap}"

    def describe(self) -> str:
        """One line for logs and the terminal summary."""
        name = {"kafka": "Apache Kafka", "tansu": "Tansu"}.get(self.kind, "external Kafka")
        parts = [f"{name} {self.version} at {self.bootstrap}"]
        if self.startup_seconds is not None:
            parts.append(f"started in {self.startup_seconds:.1f} s")
        if self.rss_bytes is not None:
            parts.append(f"RSS {self.rss_bytes / 2**20:.0f} MiB")
        if self.used_cache is not None:
            parts.append("jars from cache" if self.used_cache else "jars fetched with Maven")
        return ", ".join(parts)


@dataclass(frozen=True, slots=True)
class KafkaNamespace:
    """Names private to one test: use them for every topic, group and Faust app id.

    Attributes:
        prefix: topic prefix ending in a dot (pass as ``topic_prefix`` to the settings).
        group_id: a consumer group id no other test uses.
        app_id: a Faust app id no other test uses (its changelog topics are private too).
    """

    prefix: str
    group_id: str
    app_id: str

    def topic(self, name: str) -> str:
        """A topic name private to this test."""
        return f"{self.prefix}{name}"


def _selected() -> str:
    return os.environ.get(BROKER_ENV, "kafka").strip() or "kafka"


def _external(address: str) -> TestBroker:
    if not re.fullmatch(r"[A-Za-z0-9.\-]+:\d{1,5}", address):
        raise pytest.UsageError(f"{BROKER_ENV}={address!r}: expected kafka, tansu or host:port")
    host, port = address.rsplit(":", 1)
    info = probe_broker(host, int(port), timeout=10.0)
    if info is None or info.broker_count == 0:
        pytest.fail(f"{BROKER_ENV}={address}: no Kafka answers there", pytrace=False)
    return TestBroker(bootstrap=address, kind="external", version="unknown")


@pytest.fixture(scope="session")
def kafka_broker(request: pytest.FixtureRequest) -> Iterator[TestBroker]:
    """The session's broker (see the module docstring); fails, never skips, when it cannot start."""
    choice = _selected()
    if choice not in ("kafka", "tansu"):
        broker = _external(choice)
        request.config.stash[_summary_key] = broker.describe()
        yield broker
        return
    process: KafkaBroker | EmbeddedTansu = (
        KafkaBroker(startup_timeout_s=_STARTUP_TIMEOUT_S)
        if choice == "kafka"
        else EmbeddedTansu(startup_timeout_s=_STARTUP_TIMEOUT_S)
    )
    try:
        process.start()
    except BrokerStartError as exc:
        pytest.fail(f"the {choice} test broker did not start: {exc}", pytrace=False)
    try:
        broker = TestBroker(
            bootstrap=process.bootstrap,
            kind=process.kind,
            version=process.version,
            startup_seconds=process.startup_seconds,
            rss_bytes=process.rss_bytes(),
            used_cache=process.used_cache if isinstance(process, KafkaBroker) else None,
        )
        request.config.stash[_summary_key] = broker.describe()
        print(f"\ntest broker: {broker.describe()}")
        yield broker
    finally:
        process.stop()


@pytest.fixture
def kafka_namespace() -> KafkaNamespace:
    """Unique topic prefix, consumer group and Faust app id for one test."""
    token = uuid.uuid4().hex[:12]
    return KafkaNamespace(prefix=f"test.{token}.", group_id=f"test-group-{token}", app_id=f"test-app-{token}")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Name the broker the Kafka tests ran on, with its start-up time and memory."""
    summary = terminalreporter.config.stash.get(_summary_key, None)
    if summary is not None:
        terminalreporter.write_line(f"test broker: {summary}")
