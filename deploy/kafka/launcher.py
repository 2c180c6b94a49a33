"""A single-node Apache Kafka 3.9 (KRaft) on loopback, for the tests and ``make kafka``.

Production runs on Apache Kafka, so the tests that prove recovery, compaction
and rebalancing run on it too (Tansu, the embedded demo broker, cannot). No
Docker and no tarball: the broker's jars come from Maven Central through
``mvn dependency:copy-dependencies`` on ``deploy/kafka/pom.xml``. Maven caches
them under ``~/.m2`` and this launcher copies them to
``deploy/kafka/.cache/kafka-<version>/``, so only the very first run downloads
and later runs start the JVM straight away.

Each start formats fresh KRaft storage in a temporary directory and runs one
process with ``process.roles=broker,controller`` on free loopback ports, tuned
for tests (Kafka's default initial rebalance delay, replication factor 1, small internal
topics, a 512 MiB heap). Stopping ends the JVM's whole process group and
deletes the directory: nothing survives a stop.

Use from Python::

    with KafkaBroker() as broker:
        print(broker.bootstrap, broker.version)

or from a shell: ``make kafka`` (``python deploy/kafka/launcher.py --help``).
"""

from __future__ import annotations

import argparse
import base64
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Mapping
from pathlib import Path
from types import FrameType

from driftaudit.streams.embedded_broker import BrokerStartError, LocalBroker, free_port, stop_process_group

__all__ = [
    "CACHE_ROOT",
    "DEFAULT_KAFKA_VERSION",
    "BrokerStartError",
    "KafkaBroker",
    "ensure_jars",
    "main",
]

logger = logging.getLogger("driftaudit.deploy.kafka")

#: The Kafka release the tests run on; ``DRIFTAUDIT_KAFKA_VERSION`` picks another 3.9.x.
DEFAULT_KAFKA_VERSION = os.environ.get("DRIFTAUDIT_KAFKA_VERSION", "3.9.2")
HERE = Path(__file__).resolve().parent
POM = HERE / "pom.xml"
#: Jar cache, one directory per Kafka version (gitignored).
CACHE_ROOT = HERE / ".cache"
_COMPLETE = ".complete"
_SCALA = "2.13"


def _java() -> str:
    java_home = os.environ.get("JAVA_HOME")
    if java_home and (Path(java_home) / "bin" / "java").exists():
        return str(Path(java_home) / "bin" / "java")
    found = shutil.which("java")
    if not found:
        raise BrokerStartError("no java on PATH (Kafka needs Java 17+): install a JDK or set JAVA_HOME")
    return found


def ensure_jars(version: str = DEFAULT_KAFKA_VERSION, *, cache_root: Path = CACHE_ROOT) -> tuple[Path, bool]:
    """Return the directory holding the broker's jars, fetching them once.

    A cache directory counts only once a marker file says it is complete, so
    an interrupted copy is never used; the copy goes to a scratch directory
    renamed into place, so two launchers racing on a cold cache both succeed.

    Args:
        version: the Apache Kafka version (``kafka_2.13`` artifact on Maven Central).
        cache_root: where the per-version jar directories live.

    Returns:
        ``(directory, from_cache)``: ``from_cache`` is False when Maven had to run.

    Raises:
        BrokerStartError: Maven is missing or could not resolve the jars.
    """
    target = cache_root / f"kafka-{version}"
    if (target / _COMPLETE).exists() and (target / f"kafka_{_SCALA}-{version}.jar").exists():
        return target, True
    mvn = shutil.which("mvn")
    if not mvn:
        raise BrokerStartError("no mvn on PATH: Maven fetches the Kafka jars on the first run; install it")
    cache_root.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".kafka-{version}-", dir=cache_root))
    command = [
        mvn, "-q", "-B", "-f", str(POM), "dependency:copy-dependencies",
        f"-Dkafka.version={version}", f"-DoutputDirectory={scratch}", "-DincludeScope=runtime",
    ]  # fmt: skip
    logger.info("fetching Apache Kafka %s jars with Maven (first run only)", version)
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=900, check=False)
    except (OSError, subprocess.SubprocessError) as exc:
        shutil.rmtree(scratch, ignore_errors=True)
        raise BrokerStartError(f"Maven could not run: {exc}") from exc
    if result.returncode != 0 or not (scratch / f"kafka_{_SCALA}-{version}.jar").exists():
        shutil.rmtree(scratch, ignore_errors=True)
        output = "\n".join((result.stdout + result.stderr).splitlines()[-30:])
        raise BrokerStartError(
            f"Maven could not fetch Apache Kafka {version} (exit {result.returncode}):\n{output}"
        )
    (scratch / _COMPLETE).write_text(f"kafka {version}\n", encoding="utf-8")
    try:
        scratch.rename(target)
    except OSError:  # another launcher finished first, or a stale incomplete copy is in the way
        if (target / _COMPLETE).exists():
            shutil.rmtree(scratch, ignore_errors=True)
        else:
            shutil.rmtree(target, ignore_errors=True)
            scratch.rename(target)
    return target, False


def _cluster_id() -> str:
    """A random KRaft cluster id: 16 random bytes, URL-safe base64 without padding (as Kafka makes them)."""
    while True:
        text = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode("ascii").rstrip("=")
        if not text.startswith("-"):  # Kafka avoids these: a leading dash reads as a CLI flag
            return text


class KafkaBroker(LocalBroker):
    """One Apache Kafka 3.9 broker+controller (KRaft) on loopback, in a temporary directory.

    Args:
        version: Apache Kafka version to run (jars fetched from Maven Central once).
        host: loopback address to listen on and advertise.
        port: client port; 0 picks a free one.
        num_partitions: partitions of auto-created topics.
        heap: JVM maximum heap (``-Xmx``).
        startup_timeout_s: how long to wait for the broker to answer clients.
        stop_timeout_s: how long a clean shutdown may take before SIGKILL.
        cache_root: jar cache root.
        extra_properties: more ``server.properties`` entries, overriding the defaults.
        die_with_parent: have the kernel kill the JVM if the thread that started it dies
            without stopping it (a test run killed with SIGKILL), so no broker is orphaned.
    """

    kind = "kafka"
    product = "Apache Kafka"
    log_name = "server.log"

    def __init__(
        self,
        *,
        version: str = DEFAULT_KAFKA_VERSION,
        host: str = "127.0.0.1",
        port: int = 0,
        num_partitions: int = 1,
        heap: str = "512m",
        startup_timeout_s: float = 120.0,
        stop_timeout_s: float = 20.0,
        cache_root: Path = CACHE_ROOT,
        extra_properties: Mapping[str, str] | None = None,
        die_with_parent: bool = True,
    ) -> None:
        super().__init__(host=host, port=port, stop_timeout_s=stop_timeout_s, die_with_parent=die_with_parent)
        self.version = version
        self.num_partitions = num_partitions
        self.heap = heap
        self.startup_timeout_s = startup_timeout_s
        self.cache_root = cache_root
        self.extra_properties = dict(extra_properties or {})
        self.used_cache: bool | None = None
        self.jar_seconds: float | None = None

    def properties(self, controller_port: int, data_dir: Path) -> dict[str, str]:
        """The ``server.properties`` of this broker: single node, test-friendly, loopback only."""
        props = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.voters": f"1@{self.host}:{controller_port}",
            "listeners": f"PLAINTEXT://{self.host}:{self.port},CONTROLLER://{self.host}:{controller_port}",
            "advertised.listeners": f"PLAINTEXT://{self.host}:{self.port}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "log.dirs": str(data_dir),
            "num.partitions": str(self.num_partitions),
            "default.replication.factor": "1",
            "min.insync.replicas": "1",
            "auto.create.topics.enable": "true",
            "delete.topic.enable": "true",
            # Kafka's default: a fresh group waits 3 s for more members before its first assignment,
            # as in production (0 hid rebalance bugs that only show when members join staggered)
            "group.initial.rebalance.delay.ms": "3000",
            "offsets.topic.replication.factor": "1",
            "offsets.topic.num.partitions": "4",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "transaction.state.log.num.partitions": "4",
            # two shared cores: fewer threads, a cleaner that compacts changelogs promptly
            "num.network.threads": "2",
            "num.io.threads": "4",
            "num.recovery.threads.per.data.dir": "1",
            "log.cleaner.threads": "1",
            "log.cleaner.backoff.ms": "1000",
        }
        props.update(self.extra_properties)
        return props

    def start(self) -> None:
        """Fetch the jars if needed, format KRaft storage, start the JVM and wait until it answers.

        Raises:
            BrokerStartError: no Java or Maven, jars unavailable, format failed, or no answer in time.
        """
        if self._process is not None:
            raise BrokerStartError("this KafkaBroker is already started")
        begun = time.monotonic()
        jars, self.used_cache = ensure_jars(self.version, cache_root=self.cache_root)
        self.jar_seconds = time.monotonic() - begun
        logger.info(
            "Apache Kafka %s jars: %s (%s, %.1f s)",
            self.version,
            jars,
            "cache hit, nothing downloaded" if self.used_cache else "fetched with Maven, now cached",
            self.jar_seconds,
        )
        java = _java()
        classpath = f"{jars}/*"
        self._prepare("driftaudit-kafka-")
        try:
            self._launch(java, classpath, begun)
        except BaseException:
            self.stop()
            raise

    def restart(self, *, down_s: float = 0.0) -> None:
        """Stop the JVM (SIGTERM to its group), wait ``down_s``, start it again on the same data and port.

        For fault injection: clients see the broker vanish and come back with
        every committed record and offset intact.
        """
        if self._process is None or self._workdir is None:
            raise BrokerStartError("this KafkaBroker is not running")
        stop_process_group(self._process, timeout=self.stop_timeout_s)
        self._process = None
        if self._output is not None:
            self._output.close()
            self._output = None
        time.sleep(down_s)
        java = _java()
        jars, _ = ensure_jars(self.version, cache_root=self.cache_root)
        workdir = self._workdir
        log4j = workdir / "log4j.properties"
        jvm = [
            java, f"-Xmx{self.heap}", "-Xms128m", "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20",
            "-Djava.awt.headless=true", f"-Dlog4j.configuration=file:{log4j}", "-cp", f"{jars}/*",
        ]  # fmt: skip
        self._spawn([*jvm, "kafka.Kafka", str(workdir / "server.properties")], output="stdout-restart.log",
                    timeout=self.startup_timeout_s)  # fmt: skip

    def _launch(self, java: str, classpath: str, begun: float) -> None:
        assert self._workdir is not None
        workdir = self._workdir
        if self.port == 0:
            self.port = free_port(self.host)
        controller_port = free_port(self.host)
        while controller_port == self.port:
            controller_port = free_port(self.host)
        config = workdir / "server.properties"
        props = self.properties(controller_port, workdir / "data")
        config.write_text("".join(f"{key}={value}\n" for key, value in props.items()), encoding="utf-8")
        log4j = workdir / "log4j.properties"
        log4j.write_text(_LOG4J.format(log=workdir / "server.log"), encoding="utf-8")
        jvm = [
            java, f"-Xmx{self.heap}", "-Xms128m", "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20",
            "-Djava.awt.headless=true", f"-Dlog4j.configuration=file:{log4j}", "-cp", classpath,
        ]  # fmt: skip
        fmt = subprocess.run(
            [*jvm, "kafka.tools.StorageTool", "format", "-t", _cluster_id(), "-c", str(config)],
            capture_output=True,
            text=True,
            timeout=self.startup_timeout_s,
            check=False,
            cwd=workdir,
        )
        if fmt.returncode != 0:
            raise BrokerStartError(
                f"KRaft storage format failed (exit {fmt.returncode}):\n{fmt.stdout}{fmt.stderr}"
            )
        self._spawn(
            [*jvm, "kafka.Kafka", str(config)],
            output="stdout.log",
            timeout=max(1.0, self.startup_timeout_s - (time.monotonic() - begun)),
        )
        self.startup_seconds = time.monotonic() - begun
        rss = self.rss_bytes()
        logger.info(
            "Apache Kafka %s answers on %s: started in %.1f s, RSS %s",
            self.version,
            self.bootstrap,
            self.startup_seconds,
            "unknown" if rss is None else f"{rss / 2**20:.0f} MiB",
        )


_LOG4J = """\
log4j.rootLogger=INFO, file
log4j.appender.file=org.apache.log4j.FileAppender
log4j.appender.file.File={log}
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.request.logger=WARN
log4j.logger.org.apache.kafka.controller=INFO
log4j.logger.state.change.logger=WARN
"""


def _version_arg(text: str) -> str:
    if not re.fullmatch(r"\d+\.\d+\.\d+", text):
        raise argparse.ArgumentTypeError(f"not a Kafka version: {text!r}")
    return text


def main(argv: list[str] | None = None) -> int:
    """Run one broker in the foreground until Ctrl-C or SIGTERM (``make kafka``)."""
    parser = argparse.ArgumentParser(
        description="Single-node Apache Kafka (KRaft) on loopback, in the foreground."
    )
    parser.add_argument("--port", type=int, default=9092, help="client port (0: any free port; default 9092)")
    parser.add_argument("--partitions", type=int, default=4, help="partitions of auto-created topics")
    parser.add_argument("--kafka-version", type=_version_arg, default=DEFAULT_KAFKA_VERSION)
    parser.add_argument("--heap", default="512m", help="JVM -Xmx")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")

    def _terminate(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGINT, _terminate)  # also when started in the background, where SIGINT is ignored
    broker = KafkaBroker(
        version=args.kafka_version, port=args.port, num_partitions=args.partitions, heap=args.heap
    )
    try:
        broker.start()
    except BrokerStartError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        broker.stop()
        return 130
    print(f"Apache Kafka {broker.version} on {broker.bootstrap}; log: {broker.log_path}")
    print(f"  export DRIFTAUDIT_KAFKA_BROKER={broker.bootstrap}   # Ctrl-C stops it and deletes its data")
    try:
        while broker.running:
            time.sleep(0.5)
        print(f"error: the broker exited\n{broker.log_tail()}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        broker.stop()


if __name__ == "__main__":
    sys.exit(main())
